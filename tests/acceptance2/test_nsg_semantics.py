"""NSG evaluation semantics, seen through compute-batch-inbound.

Row: compute-batch-inbound (critical; AmlCompute compute; not applicable when enableNodePublicIp is
false) passes when inbound TCP 29876 and 29877 from every BatchNodeManagement tag prefix to the compute
subnet is allowed. "Allowed": the effective decision for every address, port and protocol of the flow,
rules in ascending priority, first match wins, default rules included; a flow only partly allowed is not
allowed. The flow names no source port, so it covers every source port.

The compute sits in 10.0.1.0/24 of VNet 10.0.0.0/16 (eastus); the eastus Batch entry has 17 IPv4
prefixes and one IPv6 prefix.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from tests.acceptance.harness import expect, run
from tests.acceptance.scenarios import aml_scenario
from tests.acceptance2.kit import (
    SUBNET_V6_PREFIX,
    allow_in,
    allow_out,
    cidrs,
    covers,
    deny_in,
    ipv4,
    ipv6,
    make_dual_stack,
    nsg_rule,
    peer,
    set_subnet_prefixes,
    tag,
)

CHECK = "compute-batch-inbound"
PORTS = ["29876", "29877"]
BATCH_EASTUS = tag("BatchNodeManagement.EastUS")
assert len(ipv4(BATCH_EASTUS)) == 17 and len(ipv6(BATCH_EASTUS)) == 1

# A /27 of the regional entry: a peered VNet whose space holds it makes that /27 "VirtualNetwork".
BATCH_27 = ipaddress.ip_network("40.71.12.192/27")
assert BATCH_27 in BATCH_EASTUS


def batch_allow(priority: int = 110, **kwargs: Any) -> dict[str, Any]:
    return allow_in("AllowBatchNodeManagement", priority, kwargs.pop("source", "BatchNodeManagement"),
                    kwargs.pop("ports", PORTS), **kwargs)


CASES: dict[str, tuple[list[dict[str, Any]], str]] = {
    # -- a deny on part of the flow above the allow ---------------------------------------------------
    # 29877 from the Batch tag is denied first: half the ports of the flow are refused.
    "deny-29877-from-batch-above": ([deny_in("DenyOnePort", 100, "BatchNodeManagement", "29877", "Tcp"), batch_allow()], "fail"),
    "deny-29877-plural-field-above": ([deny_in("DenyPorts", 100, "*", ["22", "29877"], "Tcp"), batch_allow()], "fail"),
    "deny-29876-29877-range-udp-above": ([deny_in("DenyUdp", 100, "*", "29876-29877", "Udp"), batch_allow()], "pass"),
    "deny-29878-above": ([deny_in("DenyNext", 100, "*", "29878", "Tcp"), batch_allow()], "pass"),
    # Source ports: the flow is every source port, so a deny on some source ports refuses part of it.
    "deny-high-source-ports-above": ([deny_in("DenyEphemeral", 100, "BatchNodeManagement", PORTS, "Tcp",
                                              source_ports="1024-65535"), batch_allow()], "fail"),
    "deny-low-source-ports-above": ([deny_in("DenyLow", 100, "*", "*", "*", source_ports=["0-1023"]), batch_allow()], "fail"),
    "deny-source-ports-below": ([batch_allow(100), deny_in("DenyEphemeral", 110, "*", "*", "*", source_ports="1024-65535")],
                                "pass"),
    # -- protocols that are not TCP ---------------------------------------------------------------------
    "deny-icmp-above": ([deny_in("DenyIcmp", 100, "*", "*", "Icmp"), batch_allow()], "pass"),
    "deny-esp-above": ([deny_in("DenyEsp", 100, "*", "*", "Esp"), batch_allow()], "pass"),
    "deny-ah-above": ([deny_in("DenyAh", 100, "*", "*", "Ah"), batch_allow()], "pass"),
    "allow-udp-then-deny-all": ([batch_allow(100, protocol="Udp"), deny_in("DenyAll", 200, "*")], "fail"),
    "allow-udp-and-allow-tcp": ([batch_allow(100, protocol="Udp"), allow_in("AllowBatchTcp", 110, "BatchNodeManagement", PORTS)],
                                "pass"),
    "allow-icmp-only": ([batch_allow(100, protocol="Icmp")], "fail"),
    # -- the allow split over rules ------------------------------------------------------------------
    "allow-split-by-port-and-protocol": ([allow_in("A", 100, "BatchNodeManagement", "29876", "*"),
                                          allow_in("B", 110, "BatchNodeManagement", "29877-29877", "Tcp")], "pass"),
    "allow-ipv4-halves-in-plural-field": ([allow_in("A", 100, ["0.0.0.0/1", "128.0.0.0/1"], PORTS)], "pass"),
    "allow-low-half-only": ([allow_in("A", 100, "0.0.0.0/1", PORTS)], "fail"),
    # -- destinations ----------------------------------------------------------------------------------
    "destination-vnet-cidr": ([batch_allow(destination="10.0.0.0/16")], "pass"),
    "destination-supernet": ([batch_allow(destination="10.0.0.0/8")], "pass"),
    "destination-list-with-our-subnet": ([batch_allow(destination=["10.0.2.0/24", "10.0.1.0/24"])], "pass"),
    "destination-list-two-halves": ([batch_allow(destination=["10.0.1.0/25", "10.0.1.128/25"])], "pass"),
    "destination-list-other-subnets": ([batch_allow(destination=["10.0.2.0/24", "10.0.3.0/24"])], "fail"),
    "destination-Internet": ([batch_allow(destination="Internet")], "fail"),
    "destination-AzureLoadBalancer": ([batch_allow(destination="AzureLoadBalancer")], "fail"),
    # -- direction ---------------------------------------------------------------------------------------
    # Equal priorities in different directions are legal in ARM and do not interact.
    "outbound-deny-at-same-priority": ([batch_allow(100), nsg_rule("DenyOut", 100, "Outbound", "Deny", protocol="*")], "pass"),
    "outbound-deny-all": ([batch_allow(100), nsg_rule("DenyOut", 90, "Outbound", "Deny", protocol="*")], "pass"),
}


@pytest.mark.parametrize(("rules", "status"), list(CASES.values()), ids=list(CASES))
def test_batch_inbound_semantics(rules: list[dict[str, Any]], status: str) -> None:
    s = aml_scenario(rules=rules)
    expect(run(s.builder), {(CHECK, s.compute_id): status})


def test_allow_on_udp_only_fails_with_the_ports_right() -> None:
    # Guard: the same rule on TCP passes, so the failure above is the protocol's doing.
    s = aml_scenario(rules=[batch_allow(100, protocol="Udp")])
    expect(run(s.builder), {(CHECK, s.compute_id): "fail"})
    s = aml_scenario(rules=[batch_allow(100, protocol="Tcp")])
    expect(run(s.builder), {(CHECK, s.compute_id): "pass"})


# -- priority ties -------------------------------------------------------------------------------------


def test_inbound_allow_and_deny_at_the_same_priority_is_an_error() -> None:
    # ARM rejects two rules of one direction at one priority; a snapshot holding them is not what ARM
    # returns, and which rule wins cannot be known: the verdict cannot be decided.
    s = aml_scenario(rules=[deny_in("DenyInternet", 100, "Internet"), batch_allow(100)])
    expect(run(s.builder), {(CHECK, s.compute_id): "error"})


def test_two_inbound_allows_at_the_same_priority() -> None:
    # Both rules allow: whichever wins, the flow is allowed. Refusing the invalid data is also fair.
    s = aml_scenario(rules=[batch_allow(100), allow_in("AllowAlsoBatch", 100, "BatchNodeManagement.EastUS", "29876-29877")])
    expect(run(s.builder), {(CHECK, s.compute_id): {"pass", "error"}})


# -- subnets with several prefixes ---------------------------------------------------------------------


@pytest.mark.parametrize(("destination", "status"), [
    ("10.0.1.0/24", "fail"),                          # one of the subnet's two prefixes only
    (["10.0.1.0/24", "10.0.9.0/24"], "pass"),
    ("VirtualNetwork", "pass"),
    ("*", "pass"),
])
def test_subnet_with_two_prefixes(destination: str | list[str], status: str) -> None:
    s = aml_scenario(rules=[batch_allow(destination=destination)])
    set_subnet_prefixes(s.subnet, ["10.0.1.0/24", "10.0.9.0/24"])
    expect(run(s.builder), {(CHECK, s.compute_id): status})


@pytest.mark.parametrize(("destination", "status"), [("VirtualNetwork", "pass"), ("10.0.0.0/16", "fail"), ("10.1.0.0/16", "pass")])
def test_subnet_in_the_second_address_space(destination: str, status: str) -> None:
    s = aml_scenario(rules=[batch_allow(destination=destination)], subnet_prefix="10.1.1.0/24")
    s.vnet["properties"]["addressSpace"]["addressPrefixes"] = ["10.0.0.0/16", "10.1.0.0/16"]
    expect(run(s.builder), {(CHECK, s.compute_id): status})


# -- dual stack: the IPv6 prefix of the tag counts -----------------------------------------------------


# ARM keeps IPv4 and IPv6 prefixes in separate rules, so each family gets its own rule here.
@pytest.mark.parametrize(("rules", "status"), [
    ([batch_allow(source="*")], "pass"),
    ([batch_allow(source="0.0.0.0/0")], "fail"),        # every IPv4 source, but not 2603:1030:210:1::340/122
    ([batch_allow(source="0.0.0.0/0"), allow_in("AllowV6", 120, "::/0", PORTS)], "pass"),
    ([batch_allow(source=cidrs(ipv4(BATCH_EASTUS))), allow_in("AllowV6", 120, cidrs(ipv6(BATCH_EASTUS)), PORTS)], "pass"),
    ([batch_allow(destination="10.0.1.0/24")], "fail"),  # the IPv6 half of the subnet is not a destination
    ([batch_allow(destination="10.0.1.0/24"), allow_in("AllowToV6", 120, "BatchNodeManagement", PORTS,
                                                        destination=SUBNET_V6_PREFIX)], "pass"),
    ([batch_allow(destination="VirtualNetwork")], "pass"),
])
def test_dual_stack_subnet(rules: list[dict[str, Any]], status: str) -> None:
    s = aml_scenario(rules=rules)
    make_dual_stack(s.vnet, s.subnet)
    expect(run(s.builder), {(CHECK, s.compute_id): status})


def test_ipv6_deny_does_not_touch_an_ipv4_subnet() -> None:
    # Only the IPv4 prefixes count for an IPv4-only subnet: denying the tag's IPv6 prefix changes nothing.
    s = aml_scenario(rules=[deny_in("DenyV6Batch", 100, cidrs(ipv6(BATCH_EASTUS))), batch_allow()])
    expect(run(s.builder), {(CHECK, s.compute_id): "pass"})


# -- VirtualNetwork includes peered spaces ---------------------------------------------------------------


@pytest.mark.parametrize(("peered", "status"), [(True, "fail"), (False, "pass")])
def test_deny_virtual_network_reaches_a_peered_public_space(peered: bool, status: str) -> None:
    # A peered VNet built on public space that holds a Batch /27: that /27 is now "VirtualNetwork",
    # so a deny from VirtualNetwork above the Batch allow refuses part of the flow.
    assert covers([ipaddress.ip_network("40.71.12.0/24")], [BATCH_27])
    s = aml_scenario(rules=[deny_in("DenyVnet", 100, "VirtualNetwork"), batch_allow()])
    if peered:
        peer(s.vnet, "vnet-public-space", ["40.71.12.0/24"])
    expect(run(s.builder), {(CHECK, s.compute_id): status})


@pytest.mark.parametrize(("peered", "status"), [(True, "fail"), (False, "pass")])
def test_allow_from_internet_misses_a_peered_batch_prefix(peered: bool, status: str) -> None:
    # Internet is everything outside VirtualNetwork and 168.63.129.16: once 40.71.12.0/24 is a peered space,
    # "Internet" no longer covers the Batch /27 in it, and DenyRest (200) refuses it before the default
    # AllowVnetInBound (65000) is reached.
    s = aml_scenario(rules=[allow_in("AllowFromInternet", 100, "Internet", PORTS), deny_in("DenyRest", 200, "*")])
    if peered:
        peer(s.vnet, "vnet-public-space", ["40.71.12.0/24"])
    expect(run(s.builder), {(CHECK, s.compute_id): status})


# -- unreadable or malformed rules fail closed -----------------------------------------------------------


def test_nsg_whose_rules_were_not_collected_is_an_error() -> None:
    s = aml_scenario()
    assert s.nsg is not None
    del s.nsg["properties"]["securityRules"]
    expect(run(s.builder), {(CHECK, s.compute_id): "error"})


@pytest.mark.parametrize(("field", "value"), [
    ("destinationPortRange", "29876-"),
    ("sourceAddressPrefix", "10.0.0.0/33"),
    ("protocol", "Tcpp"),
])
def test_malformed_deny_above_the_allow_is_an_error(field: str, value: str) -> None:
    # Whether the deny refuses part of the flow cannot be read from it.
    deny = deny_in("DenyOdd", 100, "Internet", "29877", "Tcp")
    deny["properties"][field] = value
    s = aml_scenario(rules=[deny, batch_allow()])
    expect(run(s.builder), {(CHECK, s.compute_id): "error"})


def test_rule_without_priority_is_an_error() -> None:
    deny = deny_in("DenyInternet", 100, "Internet")
    del deny["properties"]["priority"]
    s = aml_scenario(rules=[deny, batch_allow()])
    expect(run(s.builder), {(CHECK, s.compute_id): "error"})


def test_outbound_rules_never_decide_inbound() -> None:
    # An outbound allow from the Batch tag with every inbound default in place: DenyAllInBound refuses.
    s = aml_scenario(rules=[allow_out("AllowBatchOut", 100, "*", PORTS, "Tcp", source="BatchNodeManagement")])
    expect(run(s.builder), {(CHECK, s.compute_id): "fail"})


# -- a tag missing from the download only matters where it could decide -----------------------------------
# AzureCloud is not in the 2025-07 subset. A rule that cannot touch the flow (other port, other
# protocol, or below an allow that already decided) leaves the verdict decidable.


@pytest.mark.parametrize(("rules", "status"), [
    ([deny_in("DenyCloudRdp", 100, "AzureCloud", "3389", "Tcp"), batch_allow()], "pass"),
    ([deny_in("DenyCloudUdp", 100, "AzureCloud", "*", "Udp"), batch_allow()], "pass"),
    ([batch_allow(100), deny_in("DenyCloud", 110, "AzureCloud")], "pass"),
    ([deny_in("DenyCloud", 100, "AzureCloud", "29876", "Tcp"), batch_allow()], "error"),
])
def test_unknown_tag_in_a_rule_that_cannot_decide(rules: list[dict[str, Any]], status: str) -> None:
    s = aml_scenario(rules=rules)
    expect(run(s.builder), {(CHECK, s.compute_id): status})


@pytest.mark.parametrize(("ports", "status"), [("0-65535", "pass"), ("1-65535", "pass"), ("29000-29876", "fail")])
def test_explicit_full_port_ranges(ports: str, status: str) -> None:
    s = aml_scenario(rules=[batch_allow(ports=ports)])
    expect(run(s.builder), {(CHECK, s.compute_id): status})
