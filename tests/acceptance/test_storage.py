"""storage-vnet-rule, storage-trusted-services, storage-inference-access, storage-network-restricted.

Catalog rows (subject: the workspace storage account):
- storage-vnet-rule: applies when defaultAction is Deny and the workspace has experimentation
  compute; passes when every compute subnet is in virtualNetworkRules (action Allow) and has a
  Microsoft.Storage service endpoint.
- storage-trusted-services: applies when defaultAction is Deny; passes when bypass contains AzureServices.
- storage-inference-access: applies when the workspace has inference (AKS) compute; passes when defaultAction is Allow.
- storage-network-restricted: applies when the workspace has experimentation and no inference compute;
  passes when defaultAction is Deny.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.acceptance.harness import NOT_APPLICABLE, expect, run
from tests.acceptance.scenarios import add_workspace_compute, aml_scenario, hdinsight_cluster, vm_scenario
from tests.estates import OTHER_SUB, EstateBuilder

VNET_RULE = "storage-vnet-rule"
TRUSTED = "storage-trusted-services"
INFERENCE = "storage-inference-access"
RESTRICTED = "storage-network-restricted"


def _acls(storage: dict[str, Any]) -> dict[str, Any]:
    return storage["properties"]["networkAcls"]


def _add_aks(builder: EstateBuilder, workspace: dict[str, Any], name: str = "aks-inference") -> dict[str, Any]:
    """An AML-created AKS compute in the workspace (inference compute)."""
    vnet = builder.vnet("vnet-aks", prefixes=["10.8.0.0/16"])
    subnet = builder.subnet(vnet, "aks", "10.8.0.0/22")
    cluster = builder.managed_cluster(f"{name}-mc", subnet, service_cidr="10.9.0.0/16", dns_service_ip="10.9.0.10")
    return builder.aks_compute(workspace, name, cluster)


def test_plain_experimentation_estate_passes() -> None:
    s = aml_scenario()
    sid = s.storage["id"]
    expect(run(s.builder), {(VNET_RULE, sid): "pass", (TRUSTED, sid): "pass", (INFERENCE, sid): NOT_APPLICABLE,
                            (RESTRICTED, sid): "pass"})


def test_compute_subnet_missing_from_virtual_network_rules_fails() -> None:
    s = aml_scenario()
    _acls(s.storage)["virtualNetworkRules"] = []
    expect(run(s.builder), {(VNET_RULE, s.storage["id"]): "fail", (TRUSTED, s.storage["id"]): "pass"})


def test_rule_for_a_sibling_subnet_only_fails() -> None:
    s = aml_scenario()
    sibling = s.builder.subnet(s.vnet, "compute-2", "10.0.2.0/24", service_endpoints=("Microsoft.Storage",))
    _acls(s.storage)["virtualNetworkRules"] = [{"id": sibling["id"], "action": "Allow", "state": "Succeeded"}]
    expect(run(s.builder), {(VNET_RULE, s.storage["id"]): "fail"})


def test_compute_subnet_without_storage_service_endpoint_fails() -> None:
    s = aml_scenario()
    s.subnet["properties"]["serviceEndpoints"] = [
        {"provisioningState": "Succeeded", "service": "Microsoft.KeyVault", "locations": ["*"]}]
    expect(run(s.builder), {(VNET_RULE, s.storage["id"]): "fail"})


def test_lower_cased_subnet_id_in_virtual_network_rules_passes() -> None:
    s = aml_scenario()
    _acls(s.storage)["virtualNetworkRules"] = [{"id": s.subnet["id"].lower(), "action": "Allow", "state": "Succeeded"}]
    expect(run(s.builder), {(VNET_RULE, s.storage["id"]): "pass"})


def test_one_of_two_compute_subnets_missing_fails() -> None:
    s = aml_scenario()
    second = s.builder.subnet(s.vnet, "compute-2", "10.0.2.0/24", service_endpoints=("Microsoft.Storage",))
    s.builder.aml_compute(s.workspace, "gpu-cluster", second)
    expect(run(s.builder), {(VNET_RULE, s.storage["id"]): "fail"})


def test_default_action_allow_is_not_restricted() -> None:
    s = aml_scenario(storage_default="Allow")
    sid = s.storage["id"]
    expect(run(s.builder), {(VNET_RULE, sid): NOT_APPLICABLE, (TRUSTED, sid): NOT_APPLICABLE,
                            (INFERENCE, sid): NOT_APPLICABLE, (RESTRICTED, sid): "fail"})


@pytest.mark.parametrize(("bypass", "status"), [
    ("AzureServices", "pass"),
    ("Logging, Metrics, AzureServices", "pass"),
    ("Logging, Metrics", "fail"),
    ("None", "fail"),
])
def test_trusted_services_bypass(bypass: str, status: str) -> None:
    s = aml_scenario()
    _acls(s.storage)["bypass"] = bypass
    expect(run(s.builder), {(TRUSTED, s.storage["id"]): status})


def test_bypass_not_collected_is_an_error() -> None:
    s = aml_scenario()
    del _acls(s.storage)["bypass"]
    expect(run(s.builder), {(TRUSTED, s.storage["id"]): "error"})


def test_network_acls_not_collected_is_an_error() -> None:
    # Storage accounts always return networkAcls (storage-2023-05-01-StorageAccountGetProperties.json);
    # unlike a key vault, its absence means it was not read.
    s = aml_scenario()
    del s.storage["properties"]["networkAcls"]
    sid = s.storage["id"]
    expect(run(s.builder), {(VNET_RULE, sid): "error", (TRUSTED, sid): "error", (RESTRICTED, sid): "error"})


def test_inference_only_workspace_with_deny_fails_inference_access() -> None:
    b = EstateBuilder()
    storage = b.storage_account(default_action="Deny")
    ws = b.workspace(storage=storage, key_vault=b.key_vault())
    _add_aks(b, ws)
    sid = storage["id"]
    expect(run(b), {(INFERENCE, sid): "fail", (RESTRICTED, sid): NOT_APPLICABLE, (VNET_RULE, sid): NOT_APPLICABLE,
                    (TRUSTED, sid): "pass"})


def test_experimentation_and_inference_compute_with_deny() -> None:
    s = aml_scenario()
    _add_aks(s.builder, s.workspace)
    sid = s.storage["id"]
    expect(run(s.builder), {(VNET_RULE, sid): "pass", (TRUSTED, sid): "pass", (INFERENCE, sid): "fail",
                            (RESTRICTED, sid): NOT_APPLICABLE})


def test_experimentation_and_inference_compute_with_allow() -> None:
    s = aml_scenario(storage_default="Allow")
    _add_aks(s.builder, s.workspace)
    sid = s.storage["id"]
    expect(run(s.builder), {(VNET_RULE, sid): NOT_APPLICABLE, (TRUSTED, sid): NOT_APPLICABLE, (INFERENCE, sid): "pass",
                            (RESTRICTED, sid): NOT_APPLICABLE})


def test_aml_compute_without_subnet_is_not_experimentation_compute() -> None:
    # Catalog: experimentation compute is an AmlCompute whose properties.properties.subnet.id is set.
    b = EstateBuilder()
    storage = b.storage_account(default_action="Deny")
    ws = b.workspace(storage=storage, key_vault=b.key_vault())
    b.aml_compute(ws, "cpu-cluster", None)
    sid = storage["id"]
    expect(run(b), {(VNET_RULE, sid): NOT_APPLICABLE, (RESTRICTED, sid): NOT_APPLICABLE, (TRUSTED, sid): "pass"})


@pytest.mark.parametrize("how", ["absent", "403"])
def test_storage_account_unreadable_is_an_error(how: str) -> None:
    s = aml_scenario()
    s.builder.drop(s.storage)
    if how == "403":
        s.builder.collection_error(s.storage["id"])
    sid = s.storage["id"]
    # No inference compute: storage-inference-access does not apply whatever the account says.
    expect(run(s.builder), {(VNET_RULE, sid): "error", (TRUSTED, sid): "error", (RESTRICTED, sid): "error",
                            (INFERENCE, sid): {NOT_APPLICABLE, "error"}})


def test_compute_subnet_unreadable_while_listed_is_an_error() -> None:
    # The subnet is in the rules, but its VNet (and so its service endpoints) was not collected.
    s = aml_scenario()
    s.builder.drop(s.vnet)
    s.builder.collection_error(s.vnet["id"])
    expect(run(s.builder), {(VNET_RULE, s.storage["id"]): "error"})


def test_storage_shared_by_two_workspaces_is_one_subject() -> None:
    s = aml_scenario()
    other_subnet = s.builder.subnet(s.vnet, "team-b", "10.0.2.0/24", service_endpoints=("Microsoft.Storage",))
    ws_b = s.builder.workspace("mlw-team-b", storage=s.storage, key_vault=s.key_vault)
    s.builder.aml_compute(ws_b, "cpu-b", other_subnet)
    audit = run(s.builder)
    for check_id in (VNET_RULE, TRUSTED, RESTRICTED):
        assert len(audit.findings_for(check_id, s.storage["id"])) == 1, check_id
    # team-b's subnet is not in the account's rules.
    expect(audit, {(VNET_RULE, s.storage["id"]): "fail", (TRUSTED, s.storage["id"]): "pass",
                   (RESTRICTED, s.storage["id"]): "pass"})


def test_storage_shared_by_experimentation_and_inference_workspaces() -> None:
    # Workspace A (AmlCompute only) and workspace B (AKS only) share an account that allows all networks.
    # storage-inference-access applies through B and passes. storage-network-restricted applies through A
    # (experimentation, no inference) and would fail; the row is phrased per workspace while the subject
    # is the shared account, so "not applicable" (the account serves inference) is also a fair reading.
    s = aml_scenario(storage_default="Allow")
    ws_b = s.builder.workspace("mlw-inference", storage=s.storage, key_vault=s.key_vault)
    _add_aks(s.builder, ws_b)
    sid = s.storage["id"]
    expect(run(s.builder), {(INFERENCE, sid): "pass", (RESTRICTED, sid): {"fail", NOT_APPLICABLE}})


def test_storage_in_another_subscription() -> None:
    s = aml_scenario()
    s.builder.drop(s.storage)
    foreign = s.builder.storage_account("stsharedcorp", default_action="Deny", subnets=[s.subnet], sub=OTHER_SUB)
    s.workspace["properties"]["storageAccount"] = foreign["id"]
    sid = foreign["id"]
    assert OTHER_SUB in sid
    expect(run(s.builder), {(VNET_RULE, sid): "pass", (TRUSTED, sid): "pass", (RESTRICTED, sid): "pass"})


def test_storage_in_another_subscription_that_could_not_be_listed() -> None:
    s = aml_scenario()
    s.builder.drop(s.storage)
    foreign_id = s.storage["id"].replace(s.builder.subscription, OTHER_SUB)
    s.workspace["properties"]["storageAccount"] = foreign_id
    s.builder.collection_error(f"/subscriptions/{OTHER_SUB}")
    expect(run(s.builder), {(VNET_RULE, foreign_id): "error", (TRUSTED, foreign_id): "error",
                            (RESTRICTED, foreign_id): "error"})


def test_lower_cased_reference_from_the_workspace() -> None:
    s = aml_scenario()
    # Resource Manager sometimes hands references back lower-cased (resourcegroups, microsoft.storage).
    s.workspace["properties"]["storageAccount"] = s.storage["id"].lower()
    sid = s.storage["id"]
    expect(run(s.builder), {(VNET_RULE, sid): "pass", (TRUSTED, sid): "pass", (RESTRICTED, sid): "pass"})


def test_attached_vm_is_experimentation_compute() -> None:
    s = vm_scenario()
    expect(run(s.builder), {(VNET_RULE, s.workspace["properties"]["storageAccount"]): "pass"})


def test_attached_vm_subnet_missing_from_rules_fails() -> None:
    s = vm_scenario()
    storage = next(r for r in s.builder.resources if r["type"] == "Microsoft.Storage/storageAccounts")
    _acls(storage)["virtualNetworkRules"] = []
    expect(run(s.builder), {(VNET_RULE, storage["id"]): "fail", (RESTRICTED, storage["id"]): "pass"})


@pytest.mark.parametrize(("listed", "status"), [(True, "pass"), (False, "fail")])
def test_hdinsight_is_experimentation_compute(listed: bool, status: str) -> None:
    b = EstateBuilder()
    vnet = b.vnet()
    subnet = b.subnet(vnet, "hdi", "10.0.5.0/24", service_endpoints=("Microsoft.Storage",))
    storage = b.storage_account(default_action="Deny", subnets=[subnet] if listed else [])
    ws = b.workspace(storage=storage, key_vault=b.key_vault())
    cluster = hdinsight_cluster(b, "hdi-spark", vnet, subnet)
    add_workspace_compute(b, ws, "hdi", "HDInsight", {"address": "10.0.5.6", "sshPort": 22}, resource_id=cluster["id"])
    expect(run(b), {(VNET_RULE, storage["id"]): status, (RESTRICTED, storage["id"]): "pass"})


def test_workspace_computes_unreadable_is_an_error() -> None:
    # Whether the workspace has experimentation or inference compute cannot be known.
    s = aml_scenario()
    s.builder.drop(s.compute)
    s.builder.collection_error(f"{s.workspace['id']}/computes")
    sid = s.storage["id"]
    expect(run(s.builder), {(VNET_RULE, sid): "error", (INFERENCE, sid): "error", (RESTRICTED, sid): "error",
                            (TRUSTED, sid): "pass"})


def test_kubernetes_compute_is_not_inference_compute() -> None:
    # Catalog: inference compute is a workspace compute of type AKS; an Arc "Kubernetes" compute is not.
    b = EstateBuilder()
    storage = b.storage_account(default_action="Deny")
    ws = b.workspace(storage=storage, key_vault=b.key_vault())
    add_workspace_compute(b, ws, "arc", "Kubernetes", {"namespace": "azureml"},
                          resource_id=f"/subscriptions/{b.subscription}/resourceGroups/rg-arc/providers/"
                                      "Microsoft.Kubernetes/connectedClusters/arc-k8s")
    sid = storage["id"]
    expect(run(b), {(INFERENCE, sid): NOT_APPLICABLE, (RESTRICTED, sid): NOT_APPLICABLE, (VNET_RULE, sid): NOT_APPLICABLE})


@pytest.mark.parametrize("bypass", ["Logging,AzureServices", "Metrics, azureServices"])
def test_bypass_list_spelling(bypass: str) -> None:
    s = aml_scenario()
    _acls(s.storage)["bypass"] = bypass
    expect(run(s.builder), {(TRUSTED, s.storage["id"]): "pass"})


def test_service_endpoint_name_is_case_insensitive() -> None:
    s = aml_scenario()
    s.subnet["properties"]["serviceEndpoints"][0]["service"] = "microsoft.storage"
    expect(run(s.builder), {(VNET_RULE, s.storage["id"]): "pass"})
