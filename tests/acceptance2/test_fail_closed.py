"""Fail closed: what the catalog's first paragraph demands when data is missing or cannot decide.

"A check that cannot decide (data missing, unreadable, a referenced resource absent) reports error,
never pass." An "applies when" that itself cannot be evaluated is undecided too: error, not
not_applicable.
"""

from __future__ import annotations

import copy

import pytest

from tests.acceptance.harness import NOT_APPLICABLE, expect, run
from tests.acceptance.scenarios import aks_scenario, aml_scenario, batch_allow_rule
from tests.acceptance2.kit import allow_in, attach_route_table, deny_out
from tests.estates import SUB

BATCH = "compute-batch-inbound"


@pytest.mark.parametrize("check", ["compute-remote-login", "compute-forced-tunneling"])
def test_applies_when_cannot_be_read_is_an_error(check: str) -> None:
    # Whether the compute subnet has an NSG / a route table is unknown when its VNet was not readable.
    s = aml_scenario()
    attach_route_table(s.builder, s.subnet, [])
    s.builder.drop(s.vnet)
    s.builder.collection_error(s.vnet["id"])
    expect(run(s.builder), {(check, s.compute_id): "error"})


def test_subnet_missing_from_a_readable_vnet_is_an_error() -> None:
    # The compute names subnet "gone" of a VNet that was read and has no such subnet.
    s = aml_scenario()
    missing = s.subnet["id"].rsplit("/", 1)[0] + "/gone"
    s.compute["properties"]["properties"]["subnet"]["id"] = missing
    expect(run(s.builder), {(BATCH, s.compute_id): "error", ("compute-outbound-vnet", s.compute_id): "error",
                            ("compute-outbound-internet", s.compute_id): "error",
                            ("compute-remote-login", s.compute_id): "error",
                            ("compute-subnet-capacity", missing): "error"})


def test_service_tags_download_without_entries_is_an_error() -> None:
    s = aml_scenario(tags=None)
    assert s.builder.service_tags is not None
    s.builder.service_tags.append({"location": "eastus", "body": {"changeNumber": "1", "cloud": "Public", "values": []}})
    expect(run(s.builder), {(BATCH, s.compute_id): "error", ("compute-outbound-internet", s.compute_id): "error"})


def test_default_rules_not_collected() -> None:
    # Only the default rules decide outbound here. They are fixed by Azure, so assuming them is fair, and
    # so is refusing to decide without them; treating their absence as "deny everything" is not.
    s = aml_scenario(rules=[batch_allow_rule()])
    assert s.nsg is not None
    del s.nsg["properties"]["defaultSecurityRules"]
    expect(run(s.builder), {("compute-outbound-internet", s.compute_id): {"pass", "error"},
                            ("compute-outbound-vnet", s.compute_id): {"pass", "error"}})


def test_default_rules_not_collected_but_an_own_rule_decides() -> None:
    # A custom deny decides the flow before any default rule: no need for the defaults to say fail.
    s = aml_scenario(rules=[batch_allow_rule(), deny_out("DenyInternet", 100, "Internet")])
    assert s.nsg is not None
    del s.nsg["properties"]["defaultSecurityRules"]
    expect(run(s.builder), {("compute-outbound-internet", s.compute_id): {"fail", "error"}})


# -- AKS --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("via", ["config", "cluster"])
def test_docker_bridge_without_a_service_cidr_is_an_error(via: str) -> None:
    # The bridge must not overlap the service CIDR; with the CIDR unknown that cannot be decided.
    # (Neither the compute's configuration nor the managed cluster's profile names one.)
    s = aks_scenario(via=via)
    if via == "config":
        del s.compute["properties"]["properties"]["aksNetworkingConfiguration"]["serviceCidr"]
    del s.cluster["properties"]["networkProfile"]["serviceCidr"]
    expect(run(s.builder), {("aks-docker-bridge", s.compute_id): "error", ("aks-service-cidr", s.compute_id): "error",
                            ("aks-dns-service-ip", s.compute_id): "error"})


def test_attached_cluster_without_a_vnet_subnet() -> None:
    # A kubenet cluster whose agent pool names no vnetSubnetID: there is no AKS subnet to judge.
    s = aks_scenario(via="cluster")
    del s.cluster["properties"]["agentPoolProfiles"][0]["vnetSubnetID"]
    undecided = {"error", NOT_APPLICABLE}
    expect(run(s.builder), {("aks-vnet-location", s.compute_id): undecided, ("aks-inbound-from-aml", s.compute_id): undecided,
                            ("aks-scoring-inbound", s.compute_id): undecided, ("aks-service-cidr", s.compute_id): undecided})


def test_compute_networking_configuration_names_the_subnet() -> None:
    # aksNetworkingConfiguration.subnetId (default rules only) wins over the agent pool's subnet (no NSG).
    s = aks_scenario(rules=[])
    pool_subnet = s.builder.subnet(s.vnet, "aks-pool", "10.0.12.0/22")
    s.cluster["properties"]["agentPoolProfiles"][0]["vnetSubnetID"] = pool_subnet["id"]
    expect(run(s.builder), {("aks-inbound-from-aml", s.compute_id): "fail"})


def test_compute_networking_configuration_names_the_subnet_guard() -> None:
    # Same estate with the allow in place: the configured subnet's NSG is the one consulted.
    s = aks_scenario(rules=[allow_in("AllowAml", 100, "AzureMachineLearning", "443")])
    pool_subnet = s.builder.subnet(s.vnet, "aks-pool", "10.0.12.0/22")
    s.cluster["properties"]["agentPoolProfiles"][0]["vnetSubnetID"] = pool_subnet["id"]
    expect(run(s.builder), {("aks-inbound-from-aml", s.compute_id): "pass"})


# -- capacity edges ---------------------------------------------------------------------------------------


def test_full_subnet_with_a_cluster_scaled_to_its_maximum() -> None:
    # /29 with 3 NICs: 0 free; the cluster already runs its maximum (3 of 3), so it wants 0 more.
    s = aml_scenario(subnet_prefix="10.0.1.0/29", max_nodes=3, current_nodes=3)
    s.subnet["properties"]["ipConfigurations"] = [
        {"id": f"/subscriptions/{SUB}/resourceGroups/MC_rg_batch/providers/Microsoft.Network/networkInterfaces/"
               f"node-{i}/ipConfigurations/ipconfig1"} for i in range(3)]
    expect(run(s.builder), {("compute-subnet-capacity", s.subnet["id"]): "pass"})


# -- one resource, two different bodies ------------------------------------------------------------------------



@pytest.mark.parametrize("allowing_copy_first", [
    pytest.param(True),
    pytest.param(False),
])
def test_conflicting_copies_of_one_nsg_are_an_error(allowing_copy_first: bool) -> None:
    # The snapshot holds the compute subnet's NSG twice (the second spelled in lower case, as another
    # listing returned it): one copy allows Batch, the other has the default rules only. Which one Azure
    # holds now is unknowable from the file; either verdict would rest on a guess.
    s = aml_scenario()
    assert s.nsg is not None
    twin = copy.deepcopy(s.nsg)
    twin["id"] = twin["id"].lower()
    twin["properties"]["securityRules"] = []
    position = s.builder.resources.index(s.nsg) + (1 if allowing_copy_first else 0)
    s.builder.resources.insert(position, twin)
    expect(run(s.builder), {(BATCH, s.compute_id): "error"})


def test_identical_copies_of_one_nsg_decide_normally() -> None:
    s = aml_scenario()
    assert s.nsg is not None
    twin = copy.deepcopy(s.nsg)
    twin["id"] = twin["id"].lower()
    s.builder.resources.append(twin)
    expect(run(s.builder), {(BATCH, s.compute_id): "pass"})


def test_subnet_nsg_forbidden_touches_only_the_flow_rows() -> None:
    s = aml_scenario()
    assert s.nsg is not None
    s.builder.drop(s.nsg)
    s.builder.collection_error(s.nsg["id"])
    expect(run(s.builder), {(BATCH, s.compute_id): "error", ("compute-outbound-vnet", s.compute_id): "error",
                            ("compute-outbound-internet", s.compute_id): "error",
                            ("compute-remote-login", s.compute_id): "error",
                            ("compute-vnet-location", s.compute_id): "pass",
                            ("compute-subnet-capacity", s.subnet["id"]): "pass",
                            ("compute-vnet-locks", s.vnet["id"]): "pass"})
