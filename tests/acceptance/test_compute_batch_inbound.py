"""compute-batch-inbound (critical; subject: AmlCompute compute; always, not applicable when
the compute says enableNodePublicIp: false): inbound TCP 29876 and 29877 from every
BatchNodeManagement tag prefix to the compute subnet is allowed.

Tag prefixes: the entry named BatchNodeManagement.<region of the VNet> (case-insensitively) when
it exists, else the global BatchNodeManagement; an IPv4-only subnet is judged on the IPv4 prefixes.
"""

from __future__ import annotations

import ipaddress

import pytest

from tests.acceptance.harness import NOT_APPLICABLE, expect, run
from tests.acceptance.scenarios import add_tags, aml_scenario, batch_allow_rule, inbound_allow, set_rules
from tests.acceptance.tagmath import (
    SERVICE_TAGS_2020_SUBSET,
    cidr_strings,
    covered,
    entry_has_ipv6,
    entry_ipv4,
    tag_prefixes_for_region,
)
from tests.estates import SERVICE_TAGS_FULL_GZ, security_rule

CHECK = "compute-batch-inbound"

EASTUS_ENTRY, EASTUS_BATCH = tag_prefixes_for_region("BatchNodeManagement", "eastus")
GLOBAL_ENTRY, GLOBAL_BATCH = tag_prefixes_for_region("BatchNodeManagement", "northeurope")
assert EASTUS_ENTRY == "BatchNodeManagement.EastUS" and len(EASTUS_BATCH) == 17
assert entry_has_ipv6("BatchNodeManagement.EastUS")  # the IPv6 prefix must not matter for an IPv4 subnet
assert GLOBAL_ENTRY == "BatchNodeManagement"
assert not covered(GLOBAL_BATCH, EASTUS_BATCH)

# A /27 of the regional tag, of which an allow covers only the first half.
SPLIT_PREFIX = next(n for n in EASTUS_BATCH if n.prefixlen == 27)
HALF_OF_SPLIT = next(SPLIT_PREFIX.subnets(new_prefix=28))
EASTUS_MINUS_HALF = [str(n) for n in EASTUS_BATCH if n != SPLIT_PREFIX] + [str(HALF_OF_SPLIT)]
assert not covered(EASTUS_BATCH, [ipaddress.ip_network(p) for p in EASTUS_MINUS_HALF])

WESTUS2_BATCH = entry_ipv4("BatchNodeManagement.WestUS2")
assert not covered(EASTUS_BATCH, WESTUS2_BATCH)

PORTS = ["29876", "29877"]


def _deny(name: str, priority: int, source: str, ports: str | list[str] = "*", protocol: str = "*",
          destination: str = "*") -> dict:
    return security_rule(name, priority, "Inbound", "Deny", protocol, source, destination, ports)


CASES = {
    # -- ports ---------------------------------------------------------------------------------
    "plural-ports": ([inbound_allow("A", 100, "BatchNodeManagement", PORTS)], "pass"),
    "singular-range": ([inbound_allow("A", 100, "BatchNodeManagement", "29876-29877")], "pass"),
    "wide-range": ([inbound_allow("A", 100, "BatchNodeManagement", "29000-30000")], "pass"),
    "any-port": ([inbound_allow("A", 100, "BatchNodeManagement", "*")], "pass"),
    "only-29876": ([inbound_allow("A", 100, "BatchNodeManagement", "29876")], "fail"),
    "two-rules-one-port-each": ([inbound_allow("A", 100, "BatchNodeManagement", "29876"),
                                 inbound_allow("B", 110, "BatchNodeManagement", "29877")], "pass"),
    "source-ports-restricted": ([security_rule("A", 100, "Inbound", "Allow", "Tcp", "BatchNodeManagement", "*", PORTS,
                                               source_ports="1024-65535")], "fail"),
    # -- protocol ------------------------------------------------------------------------------
    "protocol-any": ([inbound_allow("A", 100, "BatchNodeManagement", PORTS, protocol="*")], "pass"),
    "protocol-TCP-upper": ([inbound_allow("A", 100, "BatchNodeManagement", PORTS, protocol="TCP")], "pass"),
    "protocol-udp": ([inbound_allow("A", 100, "BatchNodeManagement", PORTS, protocol="Udp")], "fail"),
    # -- sources -------------------------------------------------------------------------------
    "source-star": ([inbound_allow("A", 100, "*", PORTS)], "pass"),
    "source-Any": ([inbound_allow("A", 100, "Any", PORTS)], "pass"),
    "source-0.0.0.0/0": ([inbound_allow("A", 100, "0.0.0.0/0", PORTS)], "pass"),
    "source-Internet": ([inbound_allow("A", 100, "Internet", PORTS)], "pass"),
    "source-internet-lower": ([inbound_allow("A", 100, "internet", PORTS)], "pass"),
    "source-VirtualNetwork": ([inbound_allow("A", 100, "VirtualNetwork", PORTS)], "fail"),
    "source-AzureLoadBalancer": ([inbound_allow("A", 100, "AzureLoadBalancer", PORTS)], "fail"),
    "source-regional-tag": ([inbound_allow("A", 100, "BatchNodeManagement.EastUS", PORTS)], "pass"),
    "source-other-region-tag": ([inbound_allow("A", 100, "BatchNodeManagement.WestUS2", PORTS)], "fail"),
    "source-all-17-ipv4-prefixes": ([inbound_allow("A", 100, cidr_strings(EASTUS_BATCH), PORTS)], "pass"),
    "source-some-prefixes": ([inbound_allow("A", 100, cidr_strings(EASTUS_BATCH[:5]), PORTS)], "fail"),
    "source-half-of-one-prefix": ([inbound_allow("A", 100, EASTUS_MINUS_HALF, PORTS)], "fail"),
    "half-plus-rest-in-second-rule": ([inbound_allow("A", 100, EASTUS_MINUS_HALF, PORTS),
                                       inbound_allow("B", 110, [str(SPLIT_PREFIX)], PORTS)], "pass"),
    # -- destinations --------------------------------------------------------------------------
    "destination-VirtualNetwork": ([inbound_allow("A", 100, "BatchNodeManagement", PORTS, destination="VirtualNetwork")], "pass"),
    "destination-the-subnet": ([inbound_allow("A", 100, "BatchNodeManagement", PORTS, destination="10.0.1.0/24")], "pass"),
    "destination-half-subnet": ([inbound_allow("A", 100, "BatchNodeManagement", PORTS, destination="10.0.1.0/25")], "fail"),
    "destination-one-ip": ([inbound_allow("A", 100, "BatchNodeManagement", PORTS, destination="10.0.1.4")], "fail"),
    "destination-other-subnet": ([inbound_allow("A", 100, "BatchNodeManagement", PORTS, destination="10.0.2.0/24")], "fail"),
    # -- order ---------------------------------------------------------------------------------
    "deny-internet-above-allow": ([_deny("DenyInternet", 100, "Internet"), batch_allow_rule(110)], "fail"),
    "deny-internet-one-port-above": ([_deny("DenyInternet", 100, "Internet", "29877", "Tcp"), batch_allow_rule(110)], "fail"),
    "deny-internet-below-allow": ([batch_allow_rule(100), _deny("DenyInternet", 120, "Internet")], "pass"),
    "deny-udp-above-allow": ([_deny("DenyUdp", 100, "*", "*", "Udp"), batch_allow_rule(110)], "pass"),
    "deny-vnet-above-allow": ([_deny("DenyVnet", 100, "VirtualNetwork"), batch_allow_rule(110)], "pass"),
    "deny-one-batch-ip-above": ([_deny("DenyOne", 100, str(EASTUS_BATCH[0])), batch_allow_rule(110)], "fail"),
    "outbound-rule-only": ([security_rule("A", 100, "Outbound", "Allow", "Tcp", "BatchNodeManagement", "*", PORTS)], "fail"),
    "default-rules-only": ([], "fail"),
}


@pytest.mark.parametrize(("rules", "status"), list(CASES.values()), ids=list(CASES))
def test_batch_inbound_rules(rules: list[dict], status: str) -> None:
    s = aml_scenario(rules=rules)
    expect(run(s.builder), {(CHECK, s.compute_id): status})


def test_application_security_group_allow_may_not_match() -> None:
    # Catalog: with ASGs assume the worst for the check: an allow may not match.
    s = aml_scenario()
    rule = inbound_allow("AllowBatchToAsg", 100, "BatchNodeManagement", PORTS, destination="")
    rule["properties"].pop("destinationAddressPrefix")
    rule["properties"]["destinationApplicationSecurityGroups"] = [
        {"id": s.nsg["id"].replace("networkSecurityGroups/nsg-compute", "applicationSecurityGroups/asg-ml")}]
    set_rules(s.nsg, [rule])
    expect(run(s.builder), {(CHECK, s.compute_id): "fail"})


def test_application_security_group_deny_may_match() -> None:
    s = aml_scenario()
    deny = _deny("DenyToAsg", 100, "*")
    deny["properties"].pop("destinationAddressPrefix")
    deny["properties"]["destinationApplicationSecurityGroups"] = [
        {"id": s.nsg["id"].replace("networkSecurityGroups/nsg-compute", "applicationSecurityGroups/asg-ml")}]
    set_rules(s.nsg, [deny, batch_allow_rule(110)])
    expect(run(s.builder), {(CHECK, s.compute_id): "fail"})


def test_no_subnet_nsg_allows_everything() -> None:
    s = aml_scenario(with_nsg=False)
    expect(run(s.builder), {(CHECK, s.compute_id): "pass"})


@pytest.mark.parametrize(("rules", "status"), [
    ([inbound_allow("A", 100, cidr_strings(EASTUS_BATCH), PORTS)], "fail"),  # regional prefixes only
    ([batch_allow_rule()], "pass"),
])
def test_region_without_regional_entry_uses_global_tag(rules: list[dict], status: str) -> None:
    s = aml_scenario(location="northeurope", rules=rules)
    expect(run(s.builder), {(CHECK, s.compute_id): status})


def test_westus2_uses_its_regional_entry() -> None:
    s = aml_scenario(location="westus2", rules=[inbound_allow("A", 100, cidr_strings(WESTUS2_BATCH), PORTS)])
    expect(run(s.builder), {(CHECK, s.compute_id): "pass"})


def test_node_public_ip_disabled_is_not_applicable() -> None:
    s = aml_scenario(rules=[], enable_node_public_ip=False)
    expect(run(s.builder), {(CHECK, s.compute_id): NOT_APPLICABLE})


@pytest.mark.parametrize("how", ["absent", "403"])
def test_nsg_unreadable_is_an_error(how: str) -> None:
    s = aml_scenario()
    assert s.nsg is not None
    s.builder.drop(s.nsg)
    if how == "403":
        s.builder.collection_error(s.nsg["id"])
    expect(run(s.builder), {(CHECK, s.compute_id): "error"})


def test_service_tags_absent_is_an_error() -> None:
    s = aml_scenario(tags=None)
    s.builder.service_tags = None
    expect(run(s.builder), {(CHECK, s.compute_id): "error"})


def test_service_tags_forbidden_is_an_error() -> None:
    s = aml_scenario(tags=None)
    s.builder.collection_error(f"/subscriptions/{s.builder.subscription}/providers/Microsoft.Network/locations/eastus/serviceTags")
    expect(run(s.builder), {(CHECK, s.compute_id): "error"})


def test_batch_tag_not_in_the_download_is_an_error() -> None:
    # The 2020 download has BatchNodeManagement.EastUS only: westus2 has neither a regional nor a global entry.
    s = aml_scenario(location="westus2", tags=SERVICE_TAGS_2020_SUBSET)
    expect(run(s.builder), {(CHECK, s.compute_id): "error"})


def test_compute_subnet_unreadable_is_an_error() -> None:
    s = aml_scenario()
    s.builder.drop(s.vnet)
    expect(run(s.builder), {(CHECK, s.compute_id): "error"})


@pytest.mark.parametrize("source", ["batchnodemanagement", "batchnodemanagement.eastus", "BATCHNODEMANAGEMENT.EASTUS"])
def test_service_tag_names_are_case_insensitive(source: str) -> None:
    s = aml_scenario(rules=[inbound_allow("A", 100, source, PORTS)])
    expect(run(s.builder), {(CHECK, s.compute_id): "pass"})


def test_deny_naming_a_tag_missing_from_the_download_is_an_error() -> None:
    # AzureCloud is not in the subset: whether the deny covers Batch addresses cannot be known.
    s = aml_scenario(rules=[_deny("DenyAzureCloud", 90, "AzureCloud"), batch_allow_rule()])
    expect(run(s.builder), {(CHECK, s.compute_id): "error"})


def test_source_application_security_group_allow_may_not_match() -> None:
    s = aml_scenario()
    rule = inbound_allow("AllowFromAsg", 100, "", PORTS)
    rule["properties"].pop("sourceAddressPrefix")
    rule["properties"]["sourceApplicationSecurityGroups"] = [
        {"id": s.nsg["id"].replace("networkSecurityGroups/nsg-compute", "applicationSecurityGroups/asg-batch")}]
    set_rules(s.nsg, [rule])
    expect(run(s.builder), {(CHECK, s.compute_id): "fail"})


@pytest.mark.parametrize(("source", "status"), [
    ("BatchNodeManagement", "pass"),
    (cidr_strings(EASTUS_BATCH), "fail"),   # a dual-stack subnet is judged on the IPv6 prefix too
])
def test_dual_stack_subnet_is_judged_on_ipv6_prefixes_too(source: str | list[str], status: str) -> None:
    s = aml_scenario(rules=[inbound_allow("A", 100, source, PORTS)], subnet_prefix=["10.0.1.0/24", "ace:cab:deca:deed::/64"])
    s.vnet["properties"]["addressSpace"]["addressPrefixes"] = ["10.0.0.0/16", "ace:cab:deca::/48"]
    expect(run(s.builder), {(CHECK, s.compute_id): status})


def test_tags_block_for_another_location_still_holds_the_regional_entry() -> None:
    # The service-tags API returns the whole cloud whichever location it is asked for.
    s = aml_scenario(tags=None)
    add_tags(s.builder, "westus2")
    expect(run(s.builder), {(CHECK, s.compute_id): "pass"})


def test_node_public_ip_disabled_needs_no_nsg_data() -> None:
    s = aml_scenario(enable_node_public_ip=False)
    assert s.nsg is not None
    s.builder.drop(s.nsg)
    expect(run(s.builder), {(CHECK, s.compute_id): NOT_APPLICABLE})


FRANCE = "BatchNodeManagement.FranceCentral"


@pytest.mark.parametrize(("rules", "status"), [
    ([inbound_allow("A", 100, cidr_strings(entry_ipv4(FRANCE, SERVICE_TAGS_FULL_GZ)), PORTS)], "pass"),
    ([inbound_allow("A", 100, FRANCE, PORTS)], "pass"),
    # One address of the regional entry denied first: the regional flow is not wholly allowed.
    ([security_rule("D", 90, "Inbound", "Deny", "Tcp", str(entry_ipv4(FRANCE, SERVICE_TAGS_FULL_GZ)[0].network_address),
                    "*", PORTS),
      inbound_allow("A", 100, "BatchNodeManagement", PORTS)], "fail"),
])
def test_regional_entry_whose_region_field_differs_from_the_arm_location(rules: list[dict], status: str) -> None:
    # BatchNodeManagement.FranceCentral says properties.region "centralfrance"; found by name all the same.
    assert tag_prefixes_for_region("BatchNodeManagement", "francecentral", SERVICE_TAGS_FULL_GZ)[0] == FRANCE
    s = aml_scenario(location="francecentral", tags=SERVICE_TAGS_FULL_GZ, rules=rules)
    expect(run(s.builder), {(CHECK, s.compute_id): status})


def test_node_public_ip_setting_absent_still_applies() -> None:
    s = aml_scenario(rules=[], enable_node_public_ip=None)
    expect(run(s.builder), {(CHECK, s.compute_id): "fail"})


@pytest.mark.parametrize(("source", "status"), [("BatchNodeManagement.EastUS", "fail"), ("BatchNodeManagement.WestUS2", "pass")])
def test_region_is_the_vnet_region_not_the_workspace_region(source: str, status: str) -> None:
    s = aml_scenario(rules=[inbound_allow("A", 100, source, PORTS)])
    s.vnet["location"] = "westus2"   # the workspace stays in eastus
    expect(run(s.builder), {(CHECK, s.compute_id): status})
