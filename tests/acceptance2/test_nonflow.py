"""Non-flow rows: AKS address plans, placement, quota, locks, capacity, storage and key vault rules.

Each case quotes the row it reads; the first round's plain cases are not repeated.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.acceptance.harness import NOT_APPLICABLE, expect, run
from tests.acceptance.scenarios import aks_scenario, aml_scenario
from tests.acceptance2.kit import SUBNET_V6_PREFIX, make_dual_stack, peer
from tests.estates import OTHER_SUB, SUB

# -- AKS address plans -----------------------------------------------------------------------------------
# aks-service-cidr: the service CIDR overlaps no subnet of the VNet.
# aks-dns-service-ip: the DNS service IP lies in the service CIDR and is neither its network address nor
#   its first host address.
# aks-docker-bridge: the docker bridge CIDR overlaps neither a subnet of the VNet nor the service CIDR.


def test_service_cidr_overlapping_a_subnet_of_a_peered_vnet_passes() -> None:
    # "the VNet" is the AKS subnet's VNet; a peered VNet's subnets are not its subnets.
    s = aks_scenario(service_cidr="10.60.0.0/16", dns_service_ip="10.60.0.10")
    hub = s.builder.vnet("vnet-hub", prefixes=["10.60.0.0/16"])
    s.builder.subnet(hub, "shared", "10.60.1.0/24")
    peer(s.vnet, "vnet-hub", ["10.60.0.0/16"])
    expect(run(s.builder), {("aks-service-cidr", s.compute_id): "pass"})


@pytest.mark.parametrize("via", ["config", "cluster"])
def test_docker_bridge_equal_to_the_service_cidr_fails(via: str) -> None:
    s = aks_scenario(via=via, service_cidr="10.2.0.0/16", dns_service_ip="10.2.0.10", docker_bridge_cidr="10.2.0.0/16")
    expect(run(s.builder), {("aks-docker-bridge", s.compute_id): "fail", ("aks-service-cidr", s.compute_id): "pass"})


@pytest.mark.parametrize(("docker", "status"), [
    ("10.0.200.1/24", "pass"),      # inside the VNet's space but in no subnet: the row names subnets
    ("10.0.0.1/8", "fail"),         # 10.0.0.0/8 holds every subnet
    ("10.2.128.1/17", "fail"),      # inside the service CIDR 10.2.0.0/16
])
def test_docker_bridge_against_space_subnets_and_service_cidr(docker: str, status: str) -> None:
    s = aks_scenario(docker_bridge_cidr=docker)
    expect(run(s.builder), {("aks-docker-bridge", s.compute_id): status})


def test_docker_bridge_overlapping_a_subnet_of_another_vnet_passes() -> None:
    s = aks_scenario()
    other = s.builder.vnet("vnet-other", prefixes=["172.17.0.0/16"])
    s.builder.subnet(other, "apps", "172.17.0.0/24")
    expect(run(s.builder), {("aks-docker-bridge", s.compute_id): "pass"})


@pytest.mark.parametrize(("dns_ip", "status"), [
    ("10.2.255.255", "pass"),   # the last address: the row excludes only the network and first host addresses
    ("10.2.0.3", "pass"),
    ("10.1.255.255", "fail"),   # just below the CIDR
])
def test_dns_service_ip_edges(dns_ip: str, status: str) -> None:
    s = aks_scenario(dns_service_ip=dns_ip)
    expect(run(s.builder), {("aks-dns-service-ip", s.compute_id): status})


def test_dual_stack_aks_subnet_address_plans() -> None:
    # A dual-stack AKS subnet: the IPv4 service CIDR cannot overlap the IPv6 prefix, and 10.2.0.0/16 is
    # clear of every IPv4 subnet.
    s = aks_scenario()
    make_dual_stack(s.vnet, s.subnet)
    assert SUBNET_V6_PREFIX in s.subnet["properties"]["addressPrefixes"]
    expect(run(s.builder), {("aks-service-cidr", s.compute_id): "pass", ("aks-docker-bridge", s.compute_id): "pass"})


@pytest.mark.parametrize(("vnet_location", "cluster_location", "status"), [
    ("westus2", "westus2", "pass"),   # both away from the workspace's eastus: the row compares cluster and VNet only
    ("eastus", "westus2", "fail"),
])
def test_aks_vnet_location_ignores_the_workspace_region(vnet_location: str, cluster_location: str, status: str) -> None:
    s = aks_scenario(cluster_location=cluster_location)
    s.vnet["location"] = vnet_location
    expect(run(s.builder), {("aks-vnet-location", s.compute_id): status})


def test_aml_created_cluster_unreadable_leaves_the_configured_rows_decidable() -> None:
    # The compute's aksNetworkingConfiguration carries the subnet and address plan; only the cluster's
    # region (aks-vnet-location) needs the managed cluster itself.
    s = aks_scenario(via="config")
    s.builder.drop(s.cluster)
    s.builder.collection_error(s.cluster["id"])
    expect(run(s.builder), {("aks-vnet-location", s.compute_id): "error", ("aks-service-cidr", s.compute_id): "pass",
                            ("aks-dns-service-ip", s.compute_id): "pass", ("aks-docker-bridge", s.compute_id): "pass",
                            ("aks-inbound-from-aml", s.compute_id): "pass", ("aks-scoring-inbound", s.compute_id): "pass"})


# -- compute-vnet-location: the VNet is in the workspace's subscription and region ----------------------


def test_vnet_in_another_subscription_same_region_unreadable_still_fails() -> None:
    # The subnet id names another subscription; that alone breaks "the workspace's subscription",
    # whatever the VNet's region turns out to be.
    s = aml_scenario()
    s.builder.drop(s.vnet)
    foreign_subnet = s.subnet["id"].replace(SUB, OTHER_SUB)
    s.compute["properties"]["properties"]["subnet"]["id"] = foreign_subnet
    s.builder.collection_error(f"/subscriptions/{OTHER_SUB}")
    expect(run(s.builder), {("compute-vnet-location", s.compute_id): "fail"})


def test_vnet_in_another_subscription_same_region_readable_fails() -> None:
    s = aml_scenario()
    s.builder.drop(s.vnet)
    hub = s.builder.vnet("vnet-ml", sub=OTHER_SUB)
    subnet = s.builder.subnet(hub, "compute", "10.0.1.0/24")
    s.compute["properties"]["properties"]["subnet"]["id"] = subnet["id"]
    assert hub["location"] == s.workspace["location"]
    expect(run(s.builder), {("compute-vnet-location", s.compute_id): "fail"})


def test_location_spelling_is_case_insensitive() -> None:
    s = aml_scenario()
    s.vnet["location"] = "EastUS"
    expect(run(s.builder), {("compute-vnet-location", s.compute_id): "pass"})


# -- compute-network-quota: limit - currentValue >= planned (default 1) for NSGs, public IPs, LBs -------


def _set_usage(block: dict[str, Any], name: str, current: float, limit: float) -> None:
    for usage in block["value"]:
        if usage["name"]["value"] == name:
            usage["currentValue"], usage["limit"] = current, limit


@pytest.mark.parametrize(("exhausted", "status"), [("LoadBalancers", "fail"), ("RouteTables", "pass"), ("VirtualNetworks", "pass")])
def test_quota_only_the_three_named_usages_count(exhausted: str, status: str) -> None:
    s = aml_scenario()
    _set_usage(s.builder.usages[0], exhausted, 1000, 1000)
    expect(run(s.builder), {("compute-network-quota", s.quota_id): status})


def test_quota_with_usages_listed_twice_for_the_region() -> None:
    # Two usage blocks for one subscription and region that disagree: the reading is ambiguous, so the
    # check cannot say pass on the friendlier one.
    s = aml_scenario()
    s.builder.network_usages(load_balancers=(1000, 1000))
    expect(run(s.builder), {("compute-network-quota", s.quota_id): {"fail", "error"}})


# -- compute-vnet-locks: no ReadOnly lock on the VNet, its resource group or its subscription ---------------


@pytest.mark.parametrize(("scope_of", "status"), [
    ("nsg", "pass"),          # the compute subnet's NSG: not the VNet
    ("workspace", "pass"),    # the workspace lives in rg-ml-prod; the VNet in rg-network
    ("vnet-rg", "fail"),
])
def test_locks_on_neighbouring_resources(scope_of: str, status: str) -> None:
    s = aml_scenario()
    assert s.nsg is not None
    scope = {"nsg": s.nsg["id"], "workspace": s.workspace["id"],
             "vnet-rg": s.vnet["id"].split("/providers/")[0]}[scope_of]
    s.builder.lock(scope, "ReadOnly")
    expect(run(s.builder), {("compute-vnet-locks", s.vnet["id"]): status})


# -- compute-subnet-capacity: free = 2^(32-len) - 5 - ipConfigurations >= sum(max - current) -----------------


@pytest.mark.parametrize(("first", "second", "status"), [
    ((2, 0), (1, 0), "pass"),    # /29: 3 free, 2 + 1 wanted
    ((2, 0), (2, 0), "fail"),    # 4 wanted
    ((4, 2), (1, 0), "pass"),    # (4-2) + 1 = 3
    ((4, 1), (1, 0), "fail"),    # (4-1) + 1 = 4
])
def test_two_clusters_of_one_workspace_in_one_subnet(first: tuple[int, int], second: tuple[int, int], status: str) -> None:
    s = aml_scenario(subnet_prefix="10.0.1.0/29", max_nodes=first[0], current_nodes=first[1])
    s.builder.aml_compute(s.workspace, "gpu-cluster", s.subnet, max_nodes=second[0], current_nodes=second[1])
    audit = run(s.builder)
    assert len(audit.findings_for("compute-subnet-capacity", s.subnet["id"])) == 1
    expect(audit, {("compute-subnet-capacity", s.subnet["id"]): status})


@pytest.mark.parametrize(("max_nodes", "status"), [(3, "pass"), (4, "fail")])
def test_an_ipv6_prefix_adds_no_node_addresses(max_nodes: int, status: str) -> None:
    # A dual-stack /29 + /64: nodes need IPv4 addresses; the row's 2^(32-len) is IPv4 arithmetic.
    s = aml_scenario(subnet_prefix="10.0.1.0/29", max_nodes=max_nodes)
    make_dual_stack(s.vnet, s.subnet)
    expect(run(s.builder), {("compute-subnet-capacity", s.subnet["id"]): status})


@pytest.mark.parametrize(("max_nodes", "status"), [(3, "pass"), (6, "pass"), (7, "fail"), (12, "fail")])
def test_two_ipv4_prefixes(max_nodes: int, status: str) -> None:
    # Two /29s. The row's formula is written for one prefix; Azure reserves 5 addresses in every prefix,
    # so the subnet has (8 - 5) + (8 - 5) = 6 free. 3 and 12 are decided the same under any reading
    # (first prefix only: 3; pooled: 16 - 5 = 11); 6 and 7 follow Azure's per-prefix reservation.
    s = aml_scenario(subnet_prefix=["10.0.1.0/29", "10.0.9.0/29"], max_nodes=max_nodes)
    expect(run(s.builder), {("compute-subnet-capacity", s.subnet["id"]): status})


# -- storage and key vault virtual network rules -------------------------------------------------------------


def test_key_vault_rule_naming_the_vnet_not_the_subnet_fails() -> None:
    s = aml_scenario()
    s.key_vault["properties"]["networkAcls"]["virtualNetworkRules"] = [{"id": s.vnet["id"].lower()}]
    expect(run(s.builder), {("keyvault-vnet-rule", s.key_vault["id"]): "fail"})


def test_key_vault_rule_naming_a_same_named_subnet_of_another_vnet_fails() -> None:
    s = aml_scenario()
    twin = s.builder.vnet("vnet-ml-dr", prefixes=["10.9.0.0/16"])
    twin_subnet = s.builder.subnet(twin, "compute", "10.9.1.0/24", service_endpoints=("Microsoft.KeyVault",))
    s.key_vault["properties"]["networkAcls"]["virtualNetworkRules"] = [{"id": twin_subnet["id"].lower()}]
    expect(run(s.builder), {("keyvault-vnet-rule", s.key_vault["id"]): "fail"})


def test_storage_rule_naming_the_vnet_not_the_subnet_fails() -> None:
    s = aml_scenario()
    s.storage["properties"]["networkAcls"]["virtualNetworkRules"] = [
        {"id": s.vnet["id"], "action": "Allow", "state": "Succeeded"}]
    expect(run(s.builder), {("storage-vnet-rule", s.storage["id"]): "fail"})


def test_storage_rule_for_the_subnet_with_only_a_key_vault_endpoint_fails() -> None:
    s = aml_scenario()
    s.subnet["properties"]["serviceEndpoints"] = [
        {"provisioningState": "Succeeded", "service": "Microsoft.KeyVault", "locations": ["*"]}]
    sid, kid = s.storage["id"], s.key_vault["id"]
    expect(run(s.builder), {("storage-vnet-rule", sid): "fail", ("keyvault-vnet-rule", kid): "pass"})


def test_every_compute_subnet_counts_vm_and_aml_compute_together() -> None:
    # An AmlCompute subnet listed everywhere, plus an attached VM in a second subnet listed nowhere.
    s = aml_scenario()
    vm_subnet = s.builder.subnet(s.vnet, "vms", "10.0.3.0/24", service_endpoints=("Microsoft.Storage", "Microsoft.KeyVault"))
    nic = s.builder.nic("nic-dsvm", vm_subnet, "10.0.3.4")
    vm = s.builder.vm("dsvm", nic)
    s.builder.vm_compute(s.workspace, "dsvm", vm)
    expect(run(s.builder), {("storage-vnet-rule", s.storage["id"]): "fail", ("keyvault-vnet-rule", s.key_vault["id"]): "fail"})


def test_key_vault_restriction_applies_with_inference_compute_too() -> None:
    # keyvault-network-restricted applies whenever there is experimentation compute (no "and no
    # inference compute" clause, unlike storage-network-restricted).
    s = aml_scenario(kv_default="Allow", storage_default="Allow")
    aks_vnet = s.builder.vnet("vnet-aks", prefixes=["10.8.0.0/16"])
    aks_subnet = s.builder.subnet(aks_vnet, "aks", "10.8.0.0/22")
    cluster = s.builder.managed_cluster("aks-ml", aks_subnet, service_cidr="10.9.0.0/16", dns_service_ip="10.9.0.10")
    s.builder.aks_compute(s.workspace, "aks", cluster)
    expect(run(s.builder), {("keyvault-network-restricted", s.key_vault["id"]): "fail",
                            ("storage-network-restricted", s.storage["id"]): NOT_APPLICABLE,
                            ("storage-inference-access", s.storage["id"]): "pass"})


@pytest.mark.parametrize(("bypass", "status"), [("AzureServices", "pass"), ("None", "fail")])
def test_key_vault_trusted_services_without_experimentation_compute(bypass: str, status: str) -> None:
    # keyvault-trusted-services applies on defaultAction Deny alone, whatever the computes are.
    s = aks_scenario()
    s.key_vault["properties"]["networkAcls"] = {"defaultAction": "Deny", "bypass": bypass, "ipRules": [],
                                                "virtualNetworkRules": []}
    expect(run(s.builder), {("keyvault-trusted-services", s.key_vault["id"]): status,
                            ("keyvault-network-restricted", s.key_vault["id"]): NOT_APPLICABLE})


# -- the rows read networkAcls.defaultAction, not publicNetworkAccess ---------------------------------------------


def test_public_network_access_disabled_does_not_change_the_default_action_rows() -> None:
    # storage-network-restricted passes on "defaultAction is Deny"; keyvault-network-restricted the same.
    # publicNetworkAccess: Disabled is a different switch the rows do not name.
    s = aml_scenario(storage_default="Allow", kv_default="Allow")
    s.storage["properties"]["publicNetworkAccess"] = "Disabled"
    s.key_vault["properties"]["publicNetworkAccess"] = "Disabled"
    expect(run(s.builder), {("storage-network-restricted", s.storage["id"]): "fail",
                            ("keyvault-network-restricted", s.key_vault["id"]): "fail",
                            ("storage-trusted-services", s.storage["id"]): NOT_APPLICABLE})


def test_inference_access_reads_the_default_action() -> None:
    s = aks_scenario()
    s.storage["properties"]["publicNetworkAccess"] = "Disabled"
    expect(run(s.builder), {("storage-inference-access", s.storage["id"]): "pass"})


def test_storage_rule_with_action_other_than_allow_does_not_count() -> None:
    # "every compute subnet is in networkAcls.virtualNetworkRules (action Allow)".
    s = aml_scenario()
    s.storage["properties"]["networkAcls"]["virtualNetworkRules"][0]["action"] = "Deny"
    expect(run(s.builder), {("storage-vnet-rule", s.storage["id"]): "fail"})


def test_aks_location_spelling_is_case_insensitive() -> None:
    s = aks_scenario(cluster_location="EastUS")
    expect(run(s.builder), {("aks-vnet-location", s.compute_id): "pass"})


def test_storage_global_endpoint_counts_like_the_regional_one() -> None:
    # Row: "... and has a `Microsoft.Storage` or `Microsoft.Storage.Global` service endpoint (the
    # global one carries the subnet to accounts in every region)".
    s = aml_scenario()
    s.subnet["properties"]["serviceEndpoints"] = [
        {"provisioningState": "Succeeded", "service": "Microsoft.Storage.Global", "locations": ["*"]},
        {"provisioningState": "Succeeded", "service": "Microsoft.KeyVault", "locations": ["*"]}]
    expect(run(s.builder), {("storage-vnet-rule", s.storage["id"]): "pass"})


def test_storage_endpoint_of_another_service_does_not_count() -> None:
    # Guard for the case above: the same estate with only the key vault endpoint fails.
    s = aml_scenario()
    s.subnet["properties"]["serviceEndpoints"] = [
        {"provisioningState": "Succeeded", "service": "Microsoft.KeyVault", "locations": ["*"]}]
    expect(run(s.builder), {("storage-vnet-rule", s.storage["id"]): "fail"})
