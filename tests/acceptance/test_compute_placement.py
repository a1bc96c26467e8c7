"""compute-vnet-location, compute-subnet-capacity, compute-network-quota, compute-vnet-locks.

Catalog rows:
- compute-vnet-location (AmlCompute compute, always): the VNet is in the workspace's subscription and region.
- compute-subnet-capacity (subnet hosting AmlCompute, always): free IPs (2^(32-len) - 5 reserved -
  ipConfigurations) >= sum of (maxNodeCount - currentNodeCount) over the AmlCompute clusters in it.
- compute-network-quota (/subscriptions/{s}/providers/Microsoft.Network/locations/{region} of each VNet
  hosting AmlCompute, always): for NetworkSecurityGroups, PublicIPAddresses and LoadBalancers,
  limit - currentValue >= the planned new clusters (setting, default 1).
- compute-vnet-locks (VNet hosting AmlCompute, always): no ReadOnly lock on the VNet, its resource
  group or its subscription.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from tests.acceptance.harness import expect, run, run_cli
from tests.acceptance.scenarios import aml_scenario
from tests.estates import NET_RG, OTHER_SUB, RG, SUB

LOCATION = "compute-vnet-location"
CAPACITY = "compute-subnet-capacity"
QUOTA = "compute-network-quota"
LOCKS = "compute-vnet-locks"


# -- compute-vnet-location -------------------------------------------------------------------


def test_vnet_in_workspace_subscription_and_region_passes() -> None:
    s = aml_scenario()
    expect(run(s.builder), {(LOCATION, s.compute_id): "pass"})


def test_vnet_in_another_region_fails() -> None:
    s = aml_scenario()
    s.vnet["location"] = "westus2"
    expect(run(s.builder), {(LOCATION, s.compute_id): "fail"})


def test_vnet_in_another_subscription_fails() -> None:
    s = aml_scenario()
    s.builder.drop(s.vnet)
    foreign = s.builder.vnet("vnet-shared", sub=OTHER_SUB)
    subnet = s.builder.subnet(foreign, "compute", "10.0.1.0/24")
    s.compute["properties"]["properties"]["subnet"]["id"] = subnet["id"]
    expect(run(s.builder), {(LOCATION, s.compute_id): "fail"})


@pytest.mark.parametrize("how", ["absent", "403"])
def test_vnet_unreadable_is_an_error(how: str) -> None:
    s = aml_scenario()
    s.builder.drop(s.vnet)
    if how == "403":
        s.builder.collection_error(s.vnet["id"])
    expect(run(s.builder), {(LOCATION, s.compute_id): "error"})


def test_placeholder_subnet_id_is_an_error() -> None:
    # The AmlCompute REST example carries "test-subnet-resource-id": nothing to resolve.
    s = aml_scenario()
    s.compute["properties"]["properties"]["subnet"]["id"] = "test-subnet-resource-id"
    expect(run(s.builder), {(LOCATION, s.compute_id): "error"})


def test_lower_and_upper_cased_subnet_reference_still_resolves() -> None:
    s = aml_scenario()
    subnet_id = s.subnet["id"].lower().replace(SUB, SUB.upper())
    s.compute["properties"]["properties"]["subnet"]["id"] = subnet_id
    expect(run(s.builder), {(LOCATION, s.compute_id): "pass", (CAPACITY, s.subnet["id"]): "pass"})


# -- compute-subnet-capacity -----------------------------------------------------------------


@pytest.mark.parametrize(("prefix", "ip_configurations", "max_nodes", "current_nodes", "status"), [
    # /29: 8 - 5 = 3 free
    ("10.0.1.0/29", 0, 3, 0, "pass"),
    ("10.0.1.0/29", 0, 4, 0, "fail"),
    # /29 with one NIC: 2 free
    ("10.0.1.0/29", 1, 2, 0, "pass"),
    ("10.0.1.0/29", 1, 3, 0, "fail"),
    # current nodes are already placed: demand is max - current
    ("10.0.1.0/29", 1, 5, 3, "pass"),
    ("10.0.1.0/29", 1, 5, 2, "fail"),
    # /24 with ten NICs: 256 - 5 - 10 = 241 free
    ("10.0.1.0/24", 10, 250, 9, "pass"),
    ("10.0.1.0/24", 10, 250, 8, "fail"),
    ("10.0.1.0/24", 0, 251, 0, "pass"),
    ("10.0.1.0/24", 0, 252, 0, "fail"),
])
def test_capacity_boundary(prefix: str, ip_configurations: int, max_nodes: int, current_nodes: int, status: str) -> None:
    s = aml_scenario(subnet_prefix=prefix, max_nodes=max_nodes, current_nodes=current_nodes)
    _add_ip_configurations(s.subnet, ip_configurations)
    expect(run(s.builder), {(CAPACITY, s.subnet["id"]): status})


def _add_ip_configurations(subnet: dict[str, Any], count: int) -> None:
    base = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Network/networkInterfaces"
    if count:
        subnet["properties"]["ipConfigurations"] = [{"id": f"{base}/nic-{i}/ipConfigurations/ipconfig1"} for i in range(count)]


@pytest.mark.parametrize(("second_max", "status"), [(51, "pass"), (52, "fail")])
def test_two_clusters_in_two_workspaces_share_one_subnet(second_max: int, status: str) -> None:
    s = aml_scenario(max_nodes=200)
    ws_b = s.builder.workspace("mlw-team-b", storage=s.storage, key_vault=s.key_vault)
    s.builder.aml_compute(ws_b, "cpu-b", s.subnet, max_nodes=second_max)
    audit = run(s.builder)
    assert len(audit.findings_for(CAPACITY, s.subnet["id"])) == 1
    expect(audit, {(CAPACITY, s.subnet["id"]): status})


@pytest.mark.parametrize(("max_nodes", "status"), [(3, "pass"), (4, "fail")])
def test_single_prefix_given_in_address_prefixes(max_nodes: int, status: str) -> None:
    s = aml_scenario(subnet_prefix=["10.0.1.0/29"], max_nodes=max_nodes)
    expect(run(s.builder), {(CAPACITY, s.subnet["id"]): status})


def test_subnet_unreadable_is_an_error() -> None:
    s = aml_scenario()
    s.builder.drop(s.vnet)
    s.builder.collection_error(s.vnet["id"])
    expect(run(s.builder), {(CAPACITY, s.subnet["id"]): "error"})


def test_max_node_count_missing_is_an_error() -> None:
    s = aml_scenario()
    del s.compute["properties"]["properties"]["scaleSettings"]["maxNodeCount"]
    expect(run(s.builder), {(CAPACITY, s.subnet["id"]): "error"})


# -- compute-network-quota -------------------------------------------------------------------


def _set_usage(scenario: Any, name: str, current: float, limit: float) -> None:
    for block in scenario.builder.usages:
        for usage in block["value"]:
            if usage["name"]["value"] == name:
                usage["currentValue"], usage["limit"] = current, limit


@pytest.mark.parametrize(("usage", "current", "limit", "planned", "status"), [
    ("NetworkSecurityGroups", 4999, 5000, None, "pass"),   # 1 left, default plan 1
    ("NetworkSecurityGroups", 5000, 5000, None, "fail"),
    ("PublicIPAddresses", 1000, 1000, None, "fail"),
    ("LoadBalancers", 999, 1000, None, "pass"),
    ("LoadBalancers", 1000, 1000, 0, "pass"),              # nothing planned: a full quota is enough
    ("LoadBalancers", 997, 1000, 3, "pass"),
    ("LoadBalancers", 998, 1000, 3, "fail"),
    ("PublicIPAddresses", 998, 1000, 3, "fail"),
])
def test_quota_boundary(usage: str, current: float, limit: float, planned: int | None, status: str) -> None:
    s = aml_scenario()
    _set_usage(s, usage, current, limit)
    expect(run(s.builder, planned_new_clusters=planned), {(QUOTA, s.quota_id): status})


@pytest.mark.parametrize(("planned", "exit_status", "status"), [("3", 1, "fail"), ("2", 0, "pass")])
def test_quota_through_the_command_line(tmp_path: Path, planned: str, exit_status: int, status: str) -> None:
    s = aml_scenario()
    _set_usage(s, "NetworkSecurityGroups", 4998, 5000)
    code, findings = run_cli(s.document(), tmp_path, "--planned-new-clusters", planned)
    quota = [f for f in findings["findings"] if f["check_id"] == QUOTA]
    assert [(f["resource_id"].lower(), f["status"]) for f in quota] == [(s.quota_id.lower(), status)]
    assert code == exit_status


def test_usages_section_absent_is_an_error() -> None:
    s = aml_scenario()
    s.builder.usages = None
    expect(run(s.builder), {(QUOTA, s.quota_id): "error"})


def test_usages_only_for_another_region_is_an_error() -> None:
    s = aml_scenario()
    s.builder.usages = []
    s.builder.network_usages(location="westus2")
    expect(run(s.builder), {(QUOTA, s.quota_id): "error"})


def test_usage_entry_missing_is_an_error() -> None:
    s = aml_scenario()
    block = s.builder.usages[0]
    block["value"] = [u for u in block["value"] if u["name"]["value"] != "LoadBalancers"]
    expect(run(s.builder), {(QUOTA, s.quota_id): "error"})


def test_usages_forbidden_is_an_error() -> None:
    s = aml_scenario()
    s.builder.usages = []
    s.builder.collection_error(f"/subscriptions/{SUB}/providers/Microsoft.Network/locations/eastus/usages")
    expect(run(s.builder), {(QUOTA, s.quota_id): "error"})


def test_subject_is_the_vnet_subscription_and_region() -> None:
    s = aml_scenario()
    s.builder.drop(s.vnet)
    foreign = s.builder.vnet("vnet-hub", sub=OTHER_SUB, location="westus2")
    subnet = s.builder.subnet(foreign, "compute", "10.0.1.0/24")
    s.compute["properties"]["properties"]["subnet"]["id"] = subnet["id"]
    s.builder.network_usages(location="westus2", sub=OTHER_SUB, load_balancers=(1000, 1000))
    quota_id = f"/subscriptions/{OTHER_SUB}/providers/Microsoft.Network/locations/westus2"
    audit = run(s.builder)
    expect(audit, {(QUOTA, quota_id): "fail"})
    # The workspace's own subscription/region hosts no AmlCompute VNet here.
    assert audit.findings_for(QUOTA, s.quota_id) == []


# -- compute-vnet-locks ----------------------------------------------------------------------


VNET_RG_SCOPE = f"/subscriptions/{SUB}/resourceGroups/{NET_RG}"


@pytest.mark.parametrize(("scope", "level", "status"), [
    ("vnet", "ReadOnly", "fail"),
    ("vnet", "CanNotDelete", "pass"),
    (VNET_RG_SCOPE, "ReadOnly", "fail"),
    (VNET_RG_SCOPE, "CanNotDelete", "pass"),
    (f"/subscriptions/{SUB}", "ReadOnly", "fail"),
    (f"/subscriptions/{SUB}", "CanNotDelete", "pass"),
    # Resource Manager may spell lock scopes lower-cased.
    (VNET_RG_SCOPE.lower(), "ReadOnly", "fail"),
    ("vnet-lower", "ReadOnly", "fail"),
    # Near misses: the workspace's group, a group and a VNet whose names merely start alike.
    (f"/subscriptions/{SUB}/resourceGroups/{RG}", "ReadOnly", "pass"),
    (f"/subscriptions/{SUB}/resourceGroups/{NET_RG}-old", "ReadOnly", "pass"),
    (f"/subscriptions/{SUB}/resourceGroups/{NET_RG}/providers/Microsoft.Network/virtualNetworks/vnet-ml-old", "ReadOnly", "pass"),
    (f"/subscriptions/{OTHER_SUB}", "ReadOnly", "pass"),
])
def test_locks(scope: str, level: str, status: str) -> None:
    s = aml_scenario()
    target = {"vnet": s.vnet["id"], "vnet-lower": s.vnet["id"].lower()}.get(scope, scope)
    lock = s.builder.lock(target, level)
    if scope in ("vnet-lower", VNET_RG_SCOPE.lower()):
        lock["id"] = lock["id"].replace("/providers/Microsoft.Authorization/", "/providers/microsoft.authorization/")
    expect(run(s.builder), {(LOCKS, s.vnet["id"]): status})


def test_no_locks_passes() -> None:
    s = aml_scenario()
    expect(run(s.builder), {(LOCKS, s.vnet["id"]): "pass"})


def test_locks_section_absent_is_an_error() -> None:
    s = aml_scenario()
    s.builder.locks = None
    expect(run(s.builder), {(LOCKS, s.vnet["id"]): "error"})


def test_locks_forbidden_is_an_error() -> None:
    s = aml_scenario()
    s.builder.collection_error(f"/subscriptions/{SUB}/resourceGroups/{NET_RG}/providers/Microsoft.Authorization/locks",
                               operation="GET locks")
    expect(run(s.builder), {(LOCKS, s.vnet["id"]): "error"})


def test_one_quota_subject_per_vnet_region() -> None:
    s = aml_scenario()
    west = s.builder.vnet("vnet-west", location="westus2")
    s.builder.aml_compute(s.workspace, "west-cluster", s.builder.subnet(west, "compute", "10.0.1.0/24"))
    s.builder.network_usages(location="westus2", nsgs=(5000, 5000))
    west_quota = f"/subscriptions/{SUB}/providers/Microsoft.Network/locations/westus2"
    expect(run(s.builder), {(QUOTA, s.quota_id): "pass", (QUOTA, west_quota): "fail"})


def test_two_vnets_in_one_region_are_one_quota_subject() -> None:
    s = aml_scenario()
    second = s.builder.vnet("vnet-ml-2", prefixes=["10.1.0.0/16"])
    s.builder.aml_compute(s.workspace, "cluster-2", s.builder.subnet(second, "compute", "10.1.1.0/24"))
    audit = run(s.builder)
    assert len(audit.findings_for(QUOTA, s.quota_id)) == 1
    expect(audit, {(QUOTA, s.quota_id): "pass"})


@pytest.mark.parametrize(("lock_subscription", "status"), [(SUB, "pass"), (OTHER_SUB, "fail")])
def test_lock_on_the_vnet_subscription_not_the_workspace_subscription(lock_subscription: str, status: str) -> None:
    s = aml_scenario()
    s.builder.drop(s.vnet)
    hub = s.builder.vnet("vnet-hub", sub=OTHER_SUB)
    s.compute["properties"]["properties"]["subnet"]["id"] = s.builder.subnet(hub, "compute", "10.0.1.0/24")["id"]
    s.builder.lock(f"/subscriptions/{lock_subscription}")
    expect(run(s.builder), {(LOCKS, hub["id"]): status})


def test_vnet_unreadable_is_an_error_for_locks() -> None:
    s = aml_scenario()
    s.builder.drop(s.vnet)
    s.builder.collection_error(s.vnet["id"])
    expect(run(s.builder), {(LOCKS, s.vnet["id"]): "error"})


def test_lock_on_a_subnet_is_not_on_the_vnet() -> None:
    s = aml_scenario()
    s.builder.lock(s.subnet["id"])
    expect(run(s.builder), {(LOCKS, s.vnet["id"]): "pass"})


def test_usage_block_subscription_spelled_in_upper_case() -> None:
    s = aml_scenario()
    s.builder.usages[0]["subscription_id"] = SUB.upper()
    expect(run(s.builder), {(QUOTA, s.quota_id): "pass"})


def test_incomplete_audit_exits_3(tmp_path: Path) -> None:
    s = aml_scenario()
    s.builder.usages = None
    code, findings = run_cli(s.document(), tmp_path)
    statuses = {f["status"] for f in findings["findings"]}
    assert "fail" not in statuses and "error" in statuses
    assert code == 3


def test_one_subnet_referenced_in_two_spellings_is_one_subject() -> None:
    s = aml_scenario(subnet_prefix="10.0.1.0/29", max_nodes=2)
    s.builder.aml_compute(s.workspace, "cpu-2", s.subnet["id"].lower(), max_nodes=2)
    audit = run(s.builder)
    assert len(audit.findings_for(CAPACITY, s.subnet["id"])) == 1
    expect(audit, {(CAPACITY, s.subnet["id"]): "fail"})  # 3 free, 2 + 2 wanted


def test_quota_already_exceeded_fails_even_with_nothing_planned() -> None:
    s = aml_scenario()
    _set_usage(s, "LoadBalancers", 1001, 1000)
    expect(run(s.builder, planned_new_clusters=0), {(QUOTA, s.quota_id): "fail"})


def test_same_cluster_listed_twice_is_counted_once() -> None:
    # /29: 3 free, one cluster of max 3. The snapshot holds the compute twice, once with a lower-cased id.
    s = aml_scenario(subnet_prefix="10.0.1.0/29", max_nodes=3)
    again = copy.deepcopy(s.compute)
    again["id"] = again["id"].lower()
    s.builder.resources.append(again)
    expect(run(s.builder), {(CAPACITY, s.subnet["id"]): "pass"})
