"""Checks on the workspace key vault ("Key vault for your workspace")."""

from __future__ import annotations

from collections.abc import Iterator

from amlaudit.auditor.check import Settings, Verdict, check, error, failed, not_applicable, passed
from amlaudit.auditor.graph.estate import Estate
from amlaudit.auditor.graph.model import Gap
from amlaudit.auditor.service_firewall import (
    KEY_VAULT_ENDPOINT_SERVICES,
    no_experimentation_verdict,
    read_firewall,
    vnet_rule_verdict,
    workspace_ids,
)
from amlaudit.auditor.subjects import workspace_key_vaults


@check(
    id="keyvault-vnet-rule",
    title="Every compute subnet gets through the workspace key vault firewall",
    severity="high",
    subject="workspace key vault",
    applies="its networkAcls.defaultAction is Deny and a workspace using it has experimentation compute",
    passes=(
        "every compute subnet is in networkAcls.virtualNetworkRules and has a Microsoft.KeyVault service endpoint"
    ),
    source="Key vault for your workspace, step 3",
    rationale=(
        "With 'Selected networks' the vault admits only the networks on its list; the document says to \"add the "
        "virtual network where your experimentation compute resides\". A virtual network rule matches only traffic "
        "that arrives through a Microsoft.KeyVault service endpoint of that subnet, so the compute needs both to "
        "read the credentials the workspace keeps in the vault."
    ),
    remediation=(
        "Key vault -> Networking -> Firewalls and virtual networks -> 'Add existing virtual networks', pick the "
        "compute subnet (the portal enables its Microsoft.KeyVault endpoint). CLI: az network vnet subnet update "
        "-g <rg> --vnet-name <vnet> -n <subnet> --service-endpoints Microsoft.KeyVault <endpoints it already has>; "
        "az keyvault network-rule add --name <vault> --subnet <subnet-id>."
    ),
)
def keyvault_vnet_rule(estate: Estate, settings: Settings) -> Iterator[Verdict]:
    """As storage-vnet-rule, for the vault and the `Microsoft.KeyVault` endpoint.

    Key Vault hands rule ids back lower-cased and its rules carry neither `action` nor
    `state`: ids compare case-insensitively, and a rule naming the subnet is in force.
    """
    for use in workspace_key_vaults(estate):
        yield vnet_rule_verdict(use, KEY_VAULT_ENDPOINT_SERVICES)


@check(
    id="keyvault-trusted-services",
    title="Workspace key vault lets trusted Microsoft services through its firewall",
    severity="high",
    subject="workspace key vault",
    applies="its networkAcls.defaultAction is Deny",
    passes="networkAcls.bypass is AzureServices",
    source="Key vault for your workspace, step 3",
    rationale=(
        "The Azure Machine Learning service reads the workspace's credentials from the vault as a trusted Microsoft "
        "service; the document says to \"Select Allow trusted Microsoft services to bypass this firewall\". With "
        "bypass None the service is blocked."
    ),
    remediation=(
        "Key vault -> Networking -> Firewalls and virtual networks: 'Allow trusted Microsoft services to bypass this "
        "firewall' = Yes. CLI: az keyvault update --name <vault> --bypass AzureServices."
    ),
)
def keyvault_trusted_services(estate: Estate, settings: Settings) -> Iterator[Verdict]:
    """Key Vault's bypass is one value, `AzureServices` or `None` (compared case-insensitively).

    A missing bypass on a firewall that denies by default is unknown (error); any value
    other than AzureServices fails, as the row says.
    """
    for use in workspace_key_vaults(estate):
        vault = use.resource
        if isinstance(vault, Gap):
            yield error(vault, vault)
            continue
        firewall = read_firewall(vault)
        if isinstance(firewall, str):
            yield error(vault, firewall)
            continue
        acls = firewall.acls
        evidence = {**firewall.evidence, "bypass": acls.bypass_raw}
        values = [b.lower() for b in acls.bypass]
        if firewall.default_action != "Deny":
            yield not_applicable(vault, f"{firewall.described}: the firewall accepts all networks, so nothing needs "
                                 "to bypass it", **evidence)
        elif "azureservices" in values:
            yield passed(vault, f"defaultAction is Deny and bypass is {acls.bypass_raw!r}: trusted Microsoft "
                         "services, Azure Machine Learning among them, get through", **evidence)
        elif acls.bypass_raw is None:
            yield error(vault, "defaultAction is Deny and networkAcls.bypass is missing", **evidence)
        else:
            # The row passes only when bypass is AzureServices; "None", "" or any other value blocks them.
            yield failed(vault, f"defaultAction is Deny and bypass is {acls.bypass_raw!r}, not AzureServices: trusted "
                         "Microsoft services, Azure Machine Learning among them, are blocked", **evidence)


@check(
    id="keyvault-network-restricted",
    title="Workspace key vault is behind its firewall",
    severity="medium",
    subject="workspace key vault",
    applies="a workspace using it has experimentation compute",
    passes="networkAcls.defaultAction is Deny",
    source="Key vault for your workspace, step 3",
    rationale=(
        "For experimentation the document puts the key vault, which holds the storage connection string and "
        "registry passwords, behind the virtual network: \"Select Selected networks\"."
    ),
    remediation=(
        "First add the compute subnets (see keyvault-vnet-rule) and allow trusted services, then Key vault -> "
        "Networking -> 'Allow public access from specific virtual networks and IP addresses'. CLI: az keyvault "
        "update --name <vault> --default-action Deny."
    ),
)
def keyvault_network_restricted(estate: Estate, settings: Settings) -> Iterator[Verdict]:
    """A vault GET without `networkAcls` never had its firewall configured: Allow, so fail."""
    for use in workspace_key_vaults(estate):
        vault = use.resource
        if isinstance(vault, Gap):
            yield error(vault, vault)
            continue
        experimentation = use.experimentation_computes
        if not experimentation:
            yield no_experimentation_verdict(vault, use)
            continue
        firewall = read_firewall(vault)
        if isinstance(firewall, str):
            yield error(vault, firewall, experimentation_computes=[c.id for c in experimentation])
            continue
        evidence = {**firewall.evidence, "experimentation_computes": [c.id for c in experimentation],
                    "workspaces": workspace_ids(use)}
        if firewall.default_action == "Deny":
            yield passed(vault, f"{firewall.described}: the vault is not open to every network", **evidence)
        else:
            yield failed(vault, f"{firewall.described}, although {len(experimentation)} experimentation compute(s) "
                         "use the workspace", **evidence)
