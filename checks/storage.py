"""Checks on the workspace storage account ("Storage account for your workspace")."""

from __future__ import annotations

from collections.abc import Iterator

from amlaudit.auditor.check import Settings, Verdict, check, error, failed, not_applicable, passed
from amlaudit.auditor.graph.estate import Estate
from amlaudit.auditor.graph.model import Gap
from amlaudit.auditor.service_firewall import (
    STORAGE_ENDPOINT_SERVICES,
    no_experimentation_verdict,
    read_firewall,
    unlisted_computes_reason,
    vnet_rule_verdict,
    workspace_ids,
)
from amlaudit.auditor.subjects import workspace_storage_accounts


@check(
    id="storage-trusted-services",
    title="Workspace storage lets trusted Microsoft services through its firewall",
    severity="high",
    subject="workspace storage account",
    applies="its networkAcls.defaultAction is Deny",
    passes="networkAcls.bypass contains AzureServices",
    source="Storage account for your workspace, step 4",
    rationale=(
        "With the storage firewall on, the Azure Machine Learning service reaches the account as a "
        "trusted Microsoft service; without the AzureServices bypass it is blocked."
    ),
    remediation=(
        "Storage account -> Networking -> Firewalls and virtual networks: tick 'Allow Azure services on the "
        "trusted services list to access this storage account' (az storage account update --bypass AzureServices)."
    ),
)
def storage_trusted_services(estate: Estate, settings: Settings) -> Iterator[Verdict]:
    for use in workspace_storage_accounts(estate):
        account = use.resource
        if isinstance(account, Gap):
            yield error(account, account)
            continue
        firewall = read_firewall(account)
        if isinstance(firewall, str):
            yield error(account, firewall)
            continue
        evidence = {**firewall.evidence, "bypass": firewall.acls.bypass_raw}
        if firewall.default_action != "Deny":
            yield not_applicable(account, f"{firewall.described}: the firewall accepts all networks", **evidence)
        elif firewall.acls.bypass_raw is None:
            # Storage always returns bypass; its absence means it was not collected.
            yield error(account, "defaultAction is Deny and networkAcls.bypass is missing", **evidence)
        elif firewall.acls.bypasses("AzureServices"):
            yield passed(account, f"defaultAction is Deny and bypass is {firewall.acls.bypass_raw!r}, which includes "
                         "AzureServices", **evidence)
        else:
            yield failed(account, f"defaultAction is Deny and bypass is {firewall.acls.bypass_raw or 'None'!r}: "
                         "trusted Microsoft services are blocked", **evidence)


@check(
    id="storage-vnet-rule",
    title="Every compute subnet gets through the workspace storage firewall",
    severity="high",
    subject="workspace storage account",
    applies="its networkAcls.defaultAction is Deny and a workspace using it has experimentation compute",
    passes=(
        "every compute subnet is in networkAcls.virtualNetworkRules (action Allow) and has a Microsoft.Storage or "
        "Microsoft.Storage.Global service endpoint (the global one carries the subnet to accounts in every region)"
    ),
    source="Storage account for your workspace, step 4",
    rationale=(
        "With 'Selected networks' the account admits only the networks on its list; the document says to "
        "\"add the virtual network where your experimentation compute resides\". A virtual network rule matches "
        "only traffic that arrives through a Microsoft.Storage or Microsoft.Storage.Global service endpoint of that "
        "subnet; without the "
        "endpoint (or with the rule not in force) the compute's requests are refused."
    ),
    remediation=(
        "Storage account -> Networking -> Firewalls and virtual networks -> 'Add existing virtual network', pick "
        "the compute subnet (the portal enables its Microsoft.Storage endpoint). CLI: az network vnet subnet update "
        "-g <rg> --vnet-name <vnet> -n <subnet> --service-endpoints Microsoft.Storage <endpoints it already has>; "
        "az storage account network-rule add -g <rg> --account-name <account> --subnet <subnet-id>."
    ),
)
def storage_vnet_rule(estate: Estate, settings: Settings) -> Iterator[Verdict]:
    """Where the catalog is silent (see :mod:`amlaudit.auditor.service_firewall`): a rule without `action` is
    Allow; a rule `state` absent or Succeeded is in force, NetworkSourceDeleted / Failed /
    Deprovisioning is not, any other state is unknown; subnet ids compare case-insensitively;
    an endpoint counts whatever its `locations`, unless its provisioningState is Failed.
    The endpoint may be Microsoft.Storage or Microsoft.Storage.Global, as the catalog row says
    (the global endpoint carries the subnet's traffic to accounts in every region, this one's
    included). publicNetworkAccess is evidence only.
    """
    for use in workspace_storage_accounts(estate):
        yield vnet_rule_verdict(use, STORAGE_ENDPOINT_SERVICES)


@check(
    id="storage-inference-access",
    title="Workspace storage accepts all networks when the workspace serves inference",
    severity="high",
    subject="workspace storage account",
    applies="a workspace using it has inference compute (AKS)",
    passes="networkAcls.defaultAction is Allow",
    source="Storage account for your workspace (Important)",
    rationale=(
        "\"You can put the storage account that is attached to Azure Machine Learning service workspace behind the "
        "virtual network only while doing experimentation. Inference requires unrestricted access to the storage "
        "account.\""
    ),
    remediation=(
        "Storage account -> Networking -> Public network access: 'Enabled from all networks'. CLI: az storage account "
        "update -g <rg> -n <account> --default-action Allow."
    ),
)
def storage_inference_access(estate: Estate, settings: Settings) -> Iterator[Verdict]:
    """Workspaces whose computes could not be listed make applicability unknown when no
    listed workspace has inference compute."""
    for use in workspace_storage_accounts(estate):
        account = use.resource
        if isinstance(account, Gap):
            yield error(account, account)
            continue
        inference = use.inference_computes
        if not inference:
            if use.compute_list_gaps:
                yield error(account, "cannot verify whether a workspace using the account has inference compute: "
                            + unlisted_computes_reason(use.compute_list_gaps), workspaces=workspace_ids(use))
            else:
                yield not_applicable(account, "no workspace using the account has inference (AKS) compute",
                                     workspaces=workspace_ids(use))
            continue
        firewall = read_firewall(account)
        if isinstance(firewall, str):
            yield error(account, firewall, inference_computes=[c.id for c in inference])
            continue
        evidence = {**firewall.evidence, "inference_computes": [c.id for c in inference],
                    "workspaces": workspace_ids(use)}
        names = ", ".join(c.name for c in inference)
        if firewall.default_action == "Deny":
            yield failed(account, f"{firewall.described}, but inference compute ({names}) needs unrestricted access to "
                         "the account (\"Inference requires unrestricted access to the storage account\")", **evidence)
        else:
            yield passed(account, f"{firewall.described}; inference compute ({names}) has the unrestricted access it "
                         "needs", **evidence)


@check(
    id="storage-network-restricted",
    title="Workspace storage is behind its firewall while only experimenting",
    severity="medium",
    subject="workspace storage account",
    applies="a workspace using it has experimentation compute and none has inference compute",
    passes="networkAcls.defaultAction is Deny",
    source="Storage account for your workspace, step 4",
    rationale=(
        "For experimentation the document puts the storage account behind the virtual network: \"Select Selected "
        "networks\", so only the compute's virtual network and trusted services reach it."
    ),
    remediation=(
        "First add the compute subnets (see storage-vnet-rule), then Storage account -> Networking -> 'Enabled from "
        "selected virtual networks and IP addresses'. CLI: az storage account update -g <rg> -n <account> "
        "--default-action Deny."
    ),
)
def storage_network_restricted(estate: Estate, settings: Settings) -> Iterator[Verdict]:
    """Applicability needs every compute known: a workspace whose computes could not be listed
    may hold inference compute, so with no inference seen elsewhere the verdict is error."""
    for use in workspace_storage_accounts(estate):
        account = use.resource
        if isinstance(account, Gap):
            yield error(account, account)
            continue
        inference = use.inference_computes
        experimentation = use.experimentation_computes
        if inference:
            yield not_applicable(account, f"inference compute ({', '.join(c.name for c in inference)}) uses the "
                                 "account, and inference requires unrestricted access (see storage-inference-access)",
                                 inference_computes=[c.id for c in inference])
            continue
        if use.compute_list_gaps:
            yield error(account, "cannot verify whether the account serves only experimentation: "
                        + unlisted_computes_reason(use.compute_list_gaps),
                        experimentation_computes=[c.id for c in experimentation])
            continue
        if not experimentation:
            yield no_experimentation_verdict(account, use)
            continue
        firewall = read_firewall(account)
        if isinstance(firewall, str):
            yield error(account, firewall, experimentation_computes=[c.id for c in experimentation])
            continue
        evidence = {**firewall.evidence, "experimentation_computes": [c.id for c in experimentation],
                    "workspaces": workspace_ids(use)}
        if firewall.default_action == "Deny":
            yield passed(account, f"{firewall.described}: the account is not open to every network", **evidence)
        else:
            yield failed(account, f"{firewall.described}, although the account serves only experimentation "
                         f"({len(experimentation)} experimentation compute(s), no inference compute)", **evidence)
