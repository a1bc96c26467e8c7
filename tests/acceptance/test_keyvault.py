"""keyvault-vnet-rule, keyvault-trusted-services, keyvault-network-restricted.

Catalog rows (subject: the workspace key vault):
- keyvault-vnet-rule: applies when networkAcls.defaultAction is Deny and the workspace has
  experimentation compute; passes when every compute subnet is in networkAcls.virtualNetworkRules
  and has a Microsoft.KeyVault service endpoint.
- keyvault-trusted-services: applies when defaultAction is Deny; passes when bypass is AzureServices.
- keyvault-network-restricted: applies when the workspace has experimentation compute; passes when
  defaultAction is Deny.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.acceptance.harness import NOT_APPLICABLE, expect, run
from tests.acceptance.scenarios import aml_scenario
from tests.estates import EstateBuilder

VNET_RULE = "keyvault-vnet-rule"
TRUSTED = "keyvault-trusted-services"
RESTRICTED = "keyvault-network-restricted"


def _acls(vault: dict[str, Any]) -> dict[str, Any]:
    return vault["properties"]["networkAcls"]


def test_plain_pass_with_key_vault_shapes() -> None:
    # Key Vault hands subnet ids back lower-cased (resourcegroups, microsoft.network) and bare IPs as /32.
    s = aml_scenario()
    _acls(s.key_vault)["ipRules"] = [{"value": "124.56.78.91/32"}]
    assert _acls(s.key_vault)["virtualNetworkRules"][0]["id"] == s.subnet["id"].lower()
    kid = s.key_vault["id"]
    expect(run(s.builder), {(VNET_RULE, kid): "pass", (TRUSTED, kid): "pass", (RESTRICTED, kid): "pass"})


def test_ip_rule_for_the_subnet_range_is_not_a_vnet_rule() -> None:
    s = aml_scenario()
    _acls(s.key_vault)["virtualNetworkRules"] = []
    _acls(s.key_vault)["ipRules"] = [{"value": "10.0.1.0/24"}]
    expect(run(s.builder), {(VNET_RULE, s.key_vault["id"]): "fail"})


def test_compute_subnet_missing_from_rules_fails() -> None:
    s = aml_scenario()
    _acls(s.key_vault)["virtualNetworkRules"] = []
    kid = s.key_vault["id"]
    expect(run(s.builder), {(VNET_RULE, kid): "fail", (TRUSTED, kid): "pass", (RESTRICTED, kid): "pass"})


def test_compute_subnet_without_key_vault_endpoint_fails() -> None:
    # ignoreMissingVnetServiceEndpoint lets the rule be saved, but the endpoint is still absent.
    s = aml_scenario()
    s.subnet["properties"]["serviceEndpoints"] = [
        {"provisioningState": "Succeeded", "service": "Microsoft.Storage", "locations": ["eastus", "westus"]}]
    _acls(s.key_vault)["virtualNetworkRules"][0]["ignoreMissingVnetServiceEndpoint"] = True
    expect(run(s.builder), {(VNET_RULE, s.key_vault["id"]): "fail"})


def test_default_action_allow() -> None:
    s = aml_scenario(kv_default="Allow")
    kid = s.key_vault["id"]
    expect(run(s.builder), {(VNET_RULE, kid): NOT_APPLICABLE, (TRUSTED, kid): NOT_APPLICABLE, (RESTRICTED, kid): "fail"})


def test_bypass_none_fails_trusted_services() -> None:
    s = aml_scenario()
    _acls(s.key_vault)["bypass"] = "None"
    expect(run(s.builder), {(TRUSTED, s.key_vault["id"]): "fail", (VNET_RULE, s.key_vault["id"]): "pass"})


def test_vault_without_network_acls_is_open_to_all_networks() -> None:
    # A real Key Vault GET (keyvault-2023-07-01-getVault.json) has no networkAcls when no firewall was
    # configured: the vault accepts every network. Failing closed ("error") is the other defensible reading.
    s = aml_scenario()
    del s.key_vault["properties"]["networkAcls"]
    kid = s.key_vault["id"]
    expect(run(s.builder), {(RESTRICTED, kid): {"fail", "error"}, (TRUSTED, kid): {NOT_APPLICABLE, "error"},
                            (VNET_RULE, kid): {NOT_APPLICABLE, "error"}})


def test_inference_only_workspace_is_not_experimentation() -> None:
    b = EstateBuilder()
    vnet = b.vnet()
    subnet = b.subnet(vnet, "aks", "10.0.4.0/22")
    vault = b.key_vault(default_action="Deny", bypass="AzureServices")
    ws = b.workspace(storage=b.storage_account(), key_vault=vault)
    cluster = b.managed_cluster("aks-ml", subnet)
    b.aks_compute(ws, "aks", cluster)
    kid = vault["id"]
    expect(run(b), {(VNET_RULE, kid): NOT_APPLICABLE, (RESTRICTED, kid): NOT_APPLICABLE, (TRUSTED, kid): "pass"})


@pytest.mark.parametrize("how", ["absent", "403"])
def test_vault_unreadable_is_an_error(how: str) -> None:
    s = aml_scenario()
    s.builder.drop(s.key_vault)
    if how == "403":
        s.builder.collection_error(s.key_vault["id"])
    kid = s.key_vault["id"]
    expect(run(s.builder), {(VNET_RULE, kid): "error", (TRUSTED, kid): "error", (RESTRICTED, kid): "error"})


def test_compute_subnet_of_second_workspace_sharing_the_vault() -> None:
    s = aml_scenario()
    other = s.builder.subnet(s.vnet, "team-b", "10.0.2.0/24", service_endpoints=("Microsoft.KeyVault",))
    ws_b = s.builder.workspace("mlw-team-b", storage=s.storage, key_vault=s.key_vault)
    s.builder.aml_compute(ws_b, "cpu-b", other)
    audit = run(s.builder)
    assert len(audit.findings_for(VNET_RULE, s.key_vault["id"])) == 1
    expect(audit, {(VNET_RULE, s.key_vault["id"]): "fail"})


def test_workspace_computes_unreadable_is_an_error() -> None:
    s = aml_scenario()
    s.builder.drop(s.compute)
    s.builder.collection_error(f"{s.workspace['id']}/computes")
    kid = s.key_vault["id"]
    expect(run(s.builder), {(VNET_RULE, kid): "error", (RESTRICTED, kid): "error", (TRUSTED, kid): "pass"})
