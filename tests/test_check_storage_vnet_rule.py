"""storage-vnet-rule: every compute subnet is in the account's virtual network rules and has a Storage endpoint."""

from __future__ import annotations

from typing import Any

import pytest

from amlaudit.auditor.check import Verdict
from amlaudit.checks.storage import storage_vnet_rule
from tests.estates import EstateBuilder


def _verdict(b: EstateBuilder) -> Verdict:
    verdicts = storage_vnet_rule(b.estate())
    assert len(verdicts) == 1, verdicts
    return verdicts[0]


def _subnet_evidence(v: Verdict, subnet_id: str) -> dict[str, Any]:
    (entry,) = [s for s in v.evidence["subnets"] if (s["subnet_id"] or "").lower() == subnet_id.lower()]
    return entry


def _estate(b: EstateBuilder, endpoints: tuple[str, ...] = ("Microsoft.Storage",), in_rules: bool = True,
            prefix: str | list[str] = "10.0.1.0/24") -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], dict[str, Any]]:
    vnet = b.vnet()
    snet = b.subnet(vnet, "snet-train", prefix, service_endpoints=endpoints)
    st = b.storage_account(default_action="Deny", bypass="AzureServices", subnets=[snet] if in_rules else [])
    ws = b.workspace(storage=st, key_vault=b.key_vault())
    b.aml_compute(ws, "cpu-cluster", snet)
    return vnet, snet, st, ws


def test_pass_when_subnet_in_rules_with_storage_endpoint(builder: EstateBuilder) -> None:
    _, snet, st, ws = _estate(builder)
    v = _verdict(builder)
    assert v.status == "pass" and v.resource_id == st["id"]
    entry = _subnet_evidence(v, snet["id"])
    assert entry["in_virtual_network_rules"] is True and entry["service_endpoint"] is True
    assert entry["computes"] == [f"{ws['id']}/computes/cpu-cluster"]
    assert v.evidence["compute_subnet_count"] == 1 and v.evidence["refused_subnet_count"] == 0


def test_fail_when_subnet_not_in_rules(builder: EstateBuilder) -> None:
    _, snet, st, _ = _estate(builder, in_rules=False)
    v = _verdict(builder)
    assert v.status == "fail" and v.resource_id == st["id"]
    entry = _subnet_evidence(v, snet["id"])
    assert entry["in_virtual_network_rules"] is False and entry["service_endpoint"] is True
    assert "snet-train" in v.message and "cpu-cluster" in v.message and "virtualNetworkRules" in v.message
    assert v.evidence["refused_subnet_count"] == 1


def test_fail_when_subnet_has_no_storage_endpoint(builder: EstateBuilder) -> None:
    _, snet, _, _ = _estate(builder, endpoints=("Microsoft.KeyVault",))
    v = _verdict(builder)
    assert v.status == "fail"
    entry = _subnet_evidence(v, snet["id"])
    assert entry["in_virtual_network_rules"] is True and entry["service_endpoint"] is False
    assert "Microsoft.Storage" in v.message


@pytest.mark.parametrize("state", ["NetworkSourceDeleted", "Failed", "Deprovisioning", "failed"])
def test_rule_in_a_dead_state_is_not_in_force(builder: EstateBuilder, state: str) -> None:
    _, snet, st, _ = _estate(builder)
    st["properties"]["networkAcls"]["virtualNetworkRules"][0]["state"] = state
    v = _verdict(builder)
    assert v.status == "fail"
    assert _subnet_evidence(v, snet["id"])["in_virtual_network_rules"] is False
    assert state in v.message


def test_rule_without_state_is_in_force(builder: EstateBuilder) -> None:
    _, _, st, _ = _estate(builder)
    del st["properties"]["networkAcls"]["virtualNetworkRules"][0]["state"]
    assert _verdict(builder).status == "pass"


@pytest.mark.parametrize("state", ["Provisioning", "Reticulating"])
def test_rule_in_another_state_is_an_error(builder: EstateBuilder, state: str) -> None:
    _, snet, st, _ = _estate(builder)
    st["properties"]["networkAcls"]["virtualNetworkRules"][0]["state"] = state
    v = _verdict(builder)
    assert v.status == "error"
    assert _subnet_evidence(v, snet["id"])["in_virtual_network_rules"] is None
    assert state in v.message


def test_rule_without_action_counts_as_allow(builder: EstateBuilder) -> None:
    _, _, st, _ = _estate(builder)
    del st["properties"]["networkAcls"]["virtualNetworkRules"][0]["action"]
    assert _verdict(builder).status == "pass"


def test_rule_with_action_other_than_allow_fails(builder: EstateBuilder) -> None:
    _, snet, st, _ = _estate(builder)
    st["properties"]["networkAcls"]["virtualNetworkRules"][0]["action"] = "Deny"
    v = _verdict(builder)
    assert v.status == "fail"
    assert _subnet_evidence(v, snet["id"])["in_virtual_network_rules"] is False and "'Deny'" in v.message


def test_subnet_ids_compare_case_insensitively(builder: EstateBuilder) -> None:
    vnet = builder.vnet()
    snet = builder.subnet(vnet, "snet-train", ["10.0.1.0/24"], service_endpoints=("Microsoft.Storage",))
    st = builder.storage_account(default_action="Deny", subnets=[snet])
    st["properties"]["networkAcls"]["virtualNetworkRules"][0]["id"] = snet["id"].lower()
    ws = builder.workspace(storage=st)
    builder.aml_compute(ws, "cpu-cluster", snet["id"].upper().replace("/SUBSCRIPTIONS/", "/subscriptions/"))
    v = _verdict(builder)
    assert v.status == "pass"
    assert v.evidence["compute_subnet_count"] == 1


def test_endpoint_name_compares_case_insensitively(builder: EstateBuilder) -> None:
    _estate(builder, endpoints=("microsoft.storage",))
    assert _verdict(builder).status == "pass"


def test_cross_region_storage_endpoint_counts(builder: EstateBuilder) -> None:
    _, snet, st, _ = _estate(builder, endpoints=("Microsoft.Storage.Global",))
    snet["properties"]["serviceEndpoints"][0]["locations"] = ["*"]
    st["location"] = "westeurope"
    v = _verdict(builder)
    assert v.status == "pass"
    assert _subnet_evidence(v, snet["id"])["service_endpoint_entry"]["service"] == "Microsoft.Storage.Global"
    assert "have a Microsoft.Storage or Microsoft.Storage.Global service endpoint" in v.message


def test_the_row_names_both_storage_endpoints(builder: EstateBuilder) -> None:
    assert "Microsoft.Storage or Microsoft.Storage.Global service endpoint" in storage_vnet_rule.passes
    _, snet, _, _ = _estate(builder, endpoints=("Microsoft.KeyVault",))
    v = _verdict(builder)
    assert v.status == "fail"
    assert "no Microsoft.Storage or Microsoft.Storage.Global service endpoint" in v.message


@pytest.mark.parametrize("locations", [["eastus", "westus"], [], None])
def test_endpoint_counts_whatever_its_locations_say(builder: EstateBuilder, locations: list[str] | None) -> None:
    """The row asks only that the subnet has the endpoint; its `locations` are not consulted."""
    _, snet, st, _ = _estate(builder)
    if locations is None:
        del snet["properties"]["serviceEndpoints"][0]["locations"]
    else:
        snet["properties"]["serviceEndpoints"][0]["locations"] = locations
    st["location"] = "westus2"
    v = _verdict(builder)
    assert v.status == "pass"
    assert _subnet_evidence(v, snet["id"])["service_endpoint"] is True


def test_failed_endpoint_counts_as_absent(builder: EstateBuilder) -> None:
    _, snet, _, _ = _estate(builder)
    snet["properties"]["serviceEndpoints"][0]["provisioningState"] = "Failed"
    v = _verdict(builder)
    assert v.status == "fail" and _subnet_evidence(v, snet["id"])["service_endpoint"] is False
    assert "Failed" in v.message


@pytest.mark.parametrize("state", ["Updating", "Deleting", None])
def test_endpoint_in_any_other_state_counts(builder: EstateBuilder, state: str | None) -> None:
    _, snet, _, _ = _estate(builder)
    snet["properties"]["serviceEndpoints"][0]["provisioningState"] = state
    assert _verdict(builder).status == "pass"


def test_unreadable_service_endpoints_are_an_error(builder: EstateBuilder) -> None:
    _, snet, _, _ = _estate(builder)
    snet["properties"]["serviceEndpoints"] = "Microsoft.Storage"
    v = _verdict(builder)
    assert v.status == "error" and _subnet_evidence(v, snet["id"])["service_endpoint"] is None


def test_not_applicable_when_default_action_allow(builder: EstateBuilder) -> None:
    vnet = builder.vnet()
    snet = builder.subnet(vnet, "snet-train", "10.0.1.0/24")
    st = builder.storage_account(default_action="Allow")
    ws = builder.workspace(storage=st)
    builder.aml_compute(ws, "cpu-cluster", snet)
    v = _verdict(builder)
    assert v.status == "not_applicable" and v.evidence["default_action"] == "Allow"


def test_not_applicable_without_experimentation_compute(builder: EstateBuilder) -> None:
    st = builder.storage_account(default_action="Deny")
    ws = builder.workspace(storage=st)
    builder.aml_compute(ws, "no-vnet-cluster", None)
    assert _verdict(builder).status == "not_applicable"


def test_error_when_account_could_not_be_read(builder: EstateBuilder) -> None:
    _, _, st, _ = _estate(builder)
    builder.drop(st)
    builder.collection_error(st["id"], status=403)
    v = _verdict(builder)
    assert v.status == "error" and v.resource_id == st["id"] and "403" in v.message


def test_error_when_default_action_unrecognised(builder: EstateBuilder) -> None:
    _, _, st, _ = _estate(builder)
    st["properties"]["networkAcls"]["defaultAction"] = "Maybe"
    v = _verdict(builder)
    assert v.status == "error" and "Maybe" in v.message


@pytest.mark.parametrize("in_rules", [True, False])
def test_missing_subnet_is_an_error(builder: EstateBuilder, in_rules: bool) -> None:
    vnet, snet, _, _ = _estate(builder, in_rules=in_rules)
    builder.drop(vnet)
    builder.collection_error(vnet["id"], status=403)
    v = _verdict(builder)
    assert v.status == "error"
    entry = _subnet_evidence(v, snet["id"])
    assert entry["outcome"] == "unknown"
    assert entry["in_virtual_network_rules"] is None and entry["service_endpoint"] is None
    assert "403" in v.message


def test_definite_failure_wins_over_an_unknown_subnet(builder: EstateBuilder) -> None:
    vnet = builder.vnet()
    good = builder.subnet(vnet, "snet-train", "10.0.1.0/24", service_endpoints=("Microsoft.Storage",))
    bare = builder.subnet(vnet, "snet-bare", "10.0.2.0/24")
    other_vnet = builder.vnet("vnet-gone", ["10.9.0.0/16"])
    gone = builder.subnet(other_vnet, "snet-gone", "10.9.1.0/24", service_endpoints=("Microsoft.Storage",))
    st = builder.storage_account(default_action="Deny", subnets=[good, bare, gone])
    ws = builder.workspace(storage=st)
    builder.aml_compute(ws, "cpu-cluster", good)
    builder.aml_compute(ws, "gpu-cluster", bare)
    builder.aml_compute(ws, "far-cluster", gone)
    builder.drop(other_vnet)
    v = _verdict(builder)
    assert v.status == "fail"
    assert v.evidence["refused_subnet_count"] == 1 and v.evidence["unknown_subnet_count"] == 1
    assert _subnet_evidence(v, bare["id"])["outcome"] == "refused"
    assert _subnet_evidence(v, gone["id"])["outcome"] == "unknown"
    assert "Also unknown" in v.message and "snet-gone" in v.message
    assert "not in the snapshot" in _subnet_evidence(v, gone["id"])["rule_detail"]


def test_placeholder_subnet_id_is_an_error(builder: EstateBuilder) -> None:
    st = builder.storage_account(default_action="Deny")
    ws = builder.workspace(storage=st)
    builder.aml_compute(ws, "cpu-cluster", "test-subnet-resource-id")
    v = _verdict(builder)
    assert v.status == "error" and "not an ARM resource id" in v.message


def test_vm_compute_subnet_comes_from_its_nic(builder: EstateBuilder) -> None:
    vnet = builder.vnet()
    snet = builder.subnet(vnet, "snet-vm", "10.0.3.0/24")
    nic = builder.nic("dsvm-nic", snet, "10.0.3.4")
    vm = builder.vm("dsvm", nic)
    st = builder.storage_account(default_action="Deny", subnets=[snet])
    ws = builder.workspace(storage=st)
    builder.vm_compute(ws, "dsvm-compute", vm)
    v = _verdict(builder)
    assert v.status == "fail"
    entry = _subnet_evidence(v, snet["id"])
    assert entry["service_endpoint"] is False and entry["computes"] == [f"{ws['id']}/computes/dsvm-compute"]


def test_vm_compute_whose_vm_is_missing_is_an_error(builder: EstateBuilder) -> None:
    st = builder.storage_account(default_action="Deny")
    ws = builder.workspace(storage=st)
    builder.vm_compute(ws, "dsvm-compute", "/subscriptions/x/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/gone")
    v = _verdict(builder)
    assert v.status == "error"
    (entry,) = v.evidence["subnets"]
    assert entry["subnet_id"] is None and entry["outcome"] == "unknown"


def test_computes_sharing_a_subnet_are_one_entry(builder: EstateBuilder) -> None:
    _, snet, _, ws = _estate(builder)
    builder.aml_compute(ws, "gpu-cluster", snet)
    v = _verdict(builder)
    assert v.status == "pass" and v.evidence["compute_subnet_count"] == 1
    assert len(_subnet_evidence(v, snet["id"])["computes"]) == 2


def test_shared_account_judges_subnets_of_every_workspace(builder: EstateBuilder) -> None:
    vnet = builder.vnet()
    snet_a = builder.subnet(vnet, "snet-a", "10.0.1.0/24", service_endpoints=("Microsoft.Storage",))
    snet_b = builder.subnet(vnet, "snet-b", "10.0.2.0/24", service_endpoints=("Microsoft.Storage",))
    st = builder.storage_account(default_action="Deny", subnets=[snet_a])
    ws_a = builder.workspace("mlw-a", storage=st)
    ws_b = builder.workspace("mlw-b", storage=st)
    builder.aml_compute(ws_a, "cluster-a", snet_a)
    builder.aml_compute(ws_b, "cluster-b", snet_b)
    v = _verdict(builder)
    assert v.status == "fail" and v.evidence["compute_subnet_count"] == 2
    assert _subnet_evidence(v, snet_b["id"])["outcome"] == "refused"
    assert sorted(v.evidence["workspaces"]) == sorted([ws_a["id"], ws_b["id"]])


def test_unlisted_computes_make_a_pass_an_error(builder: EstateBuilder) -> None:
    _, _, st, _ = _estate(builder)
    other = builder.workspace("mlw-other", storage=st)
    builder.collection_error(other["id"] + "/computes", status=500, code="InternalServerError")
    v = _verdict(builder)
    assert v.status == "error" and "mlw-other" in v.message
    assert v.evidence["unlisted_compute_workspaces"][0]["compute_list"].lower() == (other["id"] + "/computes").lower()


def test_unlisted_computes_do_not_hide_a_failure(builder: EstateBuilder) -> None:
    _, _, st, _ = _estate(builder, in_rules=False)
    other = builder.workspace("mlw-other", storage=st)
    builder.collection_error(other["id"] + "/computes", status=500)
    assert _verdict(builder).status == "fail"


def test_unlisted_computes_make_applicability_unknown(builder: EstateBuilder) -> None:
    st = builder.storage_account(default_action="Deny")
    ws = builder.workspace(storage=st)
    builder.collection_error(ws["id"] + "/computes", status=403)
    v = _verdict(builder)
    assert v.status == "error" and "could not be listed" in v.message


@pytest.mark.parametrize("access", ["Disabled", "SecuredByPerimeter", "Enabled", "Sometimes"])
def test_public_network_access_does_not_change_the_verdict(builder: EstateBuilder, access: str) -> None:
    """The row keys on networkAcls alone; publicNetworkAccess is evidence only."""
    _, snet, st, _ = _estate(builder)
    st["properties"]["publicNetworkAccess"] = access
    v = _verdict(builder)
    assert v.status == "pass" and v.evidence["public_network_access"] == access
    st["properties"]["networkAcls"]["virtualNetworkRules"] = []
    assert _verdict(builder).status == "fail"
    st["properties"]["networkAcls"]["defaultAction"] = "Allow"
    assert _verdict(builder).status == "not_applicable"
