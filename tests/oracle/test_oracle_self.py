"""The oracle against answers worked out by hand.

Each case is asked of both halves of the oracle (z3 and the point sampler)
and both must give the hand-computed answer, including the deciding rule.
"""

from __future__ import annotations

import copy
import ipaddress
import json
import random
from pathlib import Path
from typing import Any

import pytest

from .arm_rules import AddressContext, OracleInputError, ParsedNsg, parse_nsg, route_prefixes_of
from .flows import FlowBox, FlowClass, Packet, levels_for
from .point_sampler import PacketVerifier, evaluate_packet, sample_flow
from .z3_oracle import (
    Z3Answer,
    all_allowed,
    all_allowed_composed,
    any_allowed,
    any_allowed_composed,
    region_disagreement,
)

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "azure-samples"  # vendored ../shared/azure-samples

VNET = ("10.1.0.0/16",)
BATCH_PREFIXES = ("20.42.0.0/24", "40.80.32.0/28")
CONTEXT = AddressContext(
    virtual_network=VNET,
    service_tags={
        "BatchNodeManagement.EastUS": BATCH_PREFIXES,
        "AzureMachineLearning": ("52.10.0.0/24", "2603:1030:100::/64"),
        # Overlaps the VNet on purpose: Internet must not cover this part.
        "InsideTag": ("10.1.200.0/24", "20.50.0.0/24"),
    },
)
COMPUTE_SUBNET = "10.1.1.0/24"


def rule(name: str, priority: int, access: str, direction: str = "Inbound", **fields: Any) -> dict[str, Any]:
    """An ARM rule; fields not given default to `*` in their singular form."""
    properties: dict[str, Any] = {
        "protocol": "*",
        "sourcePortRange": "*",
        "destinationPortRange": "*",
        "sourceAddressPrefix": "*",
        "destinationAddressPrefix": "*",
        "access": access,
        "priority": priority,
        "direction": direction,
        "provisioningState": "Succeeded",
    }
    properties.update(fields)
    return {"name": name, "id": f"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/nsg/securityRules/{name}", "properties": properties}


def nsg(name: str, *rules: dict[str, Any], context: AddressContext = CONTEXT, **parse_options: Any) -> ParsedNsg:
    return parse_nsg({"name": name, "properties": {"securityRules": list(rules)}}, context, **parse_options)


def ask(flow: FlowClass, levels: tuple[ParsedNsg | None, ...]) -> tuple[Z3Answer, Z3Answer]:
    """z3's answers to both questions, after checking the sampler agrees with them."""
    if len(levels) == 1:
        every, some = all_allowed(flow, levels[0]), any_allowed(flow, levels[0])
    else:
        subnet, nic = levels if flow.direction == "Inbound" else levels[::-1]
        every, some = all_allowed_composed(flow, subnet, nic), any_allowed_composed(flow, subnet, nic)
    sampled = sample_flow(flow, levels, random.Random(7))
    assert sampled.exhaustive, "hand-made cases are small enough to walk the whole boundary grid"
    assert sampled.all_allowed == every.holds
    assert sampled.any_allowed == some.holds
    verifier = PacketVerifier(levels, flow.direction)
    for answer in (every, some):
        if answer.packet is not None:
            assert flow.contains(answer.packet)
            assert verifier.decide(answer.packet) == answer.decisions
    return every, some


def inbound_tcp(sources: tuple[str, ...], ports: tuple[int, int], destinations: tuple[str, ...] = (COMPUTE_SUBNET,)) -> FlowClass:
    return FlowClass.of("Inbound", {"Tcp"}, sources, [(0, 65535)], destinations, [ports])


# --- deny on Internet above an allow for a tag -------------------------------------------


def test_deny_internet_above_tag_allow_blocks_the_tag() -> None:
    levels = (
        nsg(
            "compute-nsg",
            rule("DenyInternet", 100, "Deny", sourceAddressPrefix="Internet"),
            rule("AllowBatch", 110, "Allow", protocol="Tcp", sourceAddressPrefix="BatchNodeManagement.EastUS", destinationPortRange="29876-29877"),
        ),
    )
    every, some = ask(inbound_tcp(BATCH_PREFIXES, (29876, 29877)), levels)
    assert not every.holds and not some.holds
    assert every.packet is not None
    assert every.deciding is not None and (every.deciding.rule_name, every.deciding.priority) == ("DenyInternet", 100)


def test_tag_allow_above_internet_deny_allows_the_tag() -> None:
    levels = (
        nsg(
            "compute-nsg",
            rule("AllowBatch", 90, "Allow", protocol="Tcp", sourceAddressPrefix="BatchNodeManagement.EastUS", destinationPortRange="29876-29877"),
            rule("DenyInternet", 100, "Deny", sourceAddressPrefix="Internet"),
        ),
    )
    every, some = ask(inbound_tcp(BATCH_PREFIXES, (29876, 29877)), levels)
    assert every.holds and some.holds
    assert some.deciding is not None and some.deciding.rule_name == "AllowBatch"


def test_internet_excludes_the_virtual_network_part_of_a_tag() -> None:
    # InsideTag = 10.1.200.0/24 (inside the VNet) + 20.50.0.0/24 (public).
    # DenyInternet catches only the public half; the VNet half reaches AllowInside.
    levels = (
        nsg(
            "compute-nsg",
            rule("DenyInternet", 100, "Deny", sourceAddressPrefix="Internet"),
            rule("AllowInside", 110, "Allow", sourceAddressPrefix="InsideTag", destinationPortRange="443"),
        ),
    )
    every, some = ask(inbound_tcp(("10.1.200.0/24", "20.50.0.0/24"), (443, 443)), levels)
    assert not every.holds and some.holds
    assert every.packet is not None and every.packet.source_ip in ipaddress.ip_network("20.50.0.0/24")
    assert some.packet is not None and some.packet.source_ip in ipaddress.ip_network("10.1.200.0/24")
    assert some.deciding is not None and some.deciding.rule_name == "AllowInside"


def test_tag_names_in_rules_are_case_insensitive() -> None:
    levels = (nsg("n", rule("AllowBatch", 100, "Allow", sourceAddressPrefix="batchnodemanagement.eastus")),)
    every, _ = ask(inbound_tcp(BATCH_PREFIXES, (29876, 29877)), levels)
    assert every.holds


# --- half a prefix covered ---------------------------------------------------------------


def test_half_a_prefix_covered_is_not_allowed() -> None:
    levels = (nsg("n", rule("AllowLowerHalf", 100, "Allow", protocol="Tcp", sourceAddressPrefix="52.10.0.0/25", destinationPortRange="443")),)
    every, some = ask(inbound_tcp(("52.10.0.0/24",), (443, 443)), levels)
    assert not every.holds and some.holds
    assert every.packet is not None and every.packet.source_ip in ipaddress.ip_network("52.10.0.128/25")
    assert every.deciding is not None and every.deciding.rule_name == "DenyAllInBound"
    assert some.packet is not None and some.packet.source_ip in ipaddress.ip_network("52.10.0.0/25")


def test_two_halves_in_plural_prefixes_cover_the_prefix() -> None:
    levels = (
        nsg(
            "n",
            rule(
                "AllowBothHalves", 100, "Allow",
                sourceAddressPrefix="", sourceAddressPrefixes=["52.10.0.128/25", "52.10.0.0/25"],
            ),
        ),
    )
    every, _ = ask(inbound_tcp(("52.10.0.0/24",), (443, 443)), levels)
    assert every.holds


# --- port lists in the plural field ------------------------------------------------------


def test_port_list_in_plural_field() -> None:
    batch_rule = rule(
        "AllowBatchPorts", 100, "Allow", protocol="Tcp",
        destinationPortRange="", destinationPortRanges=["29876", "29877"],
    )
    levels = (nsg("n", batch_rule),)
    every, _ = ask(inbound_tcp(BATCH_PREFIXES, (29876, 29877)), levels)
    assert every.holds
    wider, _ = ask(inbound_tcp(BATCH_PREFIXES, (29875, 29878)), levels)
    assert not wider.holds
    assert wider.packet is not None and wider.packet.destination_port in (29875, 29878)


def test_port_ranges_with_gap() -> None:
    levels = (nsg("n", rule("AllowSplit", 100, "Allow", destinationPortRange=None, destinationPortRanges=["100-199", "201-300"])),)
    every, some = ask(inbound_tcp(("52.10.0.0/24",), (100, 300)), levels)
    assert not every.holds and some.holds
    assert every.packet is not None and every.packet.destination_port == 200


def test_protocol_restricts_the_match() -> None:
    levels = (nsg("n", rule("AllowTcp", 100, "Allow", protocol="Tcp")),)
    flow = FlowClass.of("Inbound", {"Tcp", "Udp"}, ["52.10.0.0/24"], [(0, 65535)], [COMPUTE_SUBNET], [(443, 443)])
    every, _ = ask(flow, levels)
    assert not every.holds and every.packet is not None and every.packet.protocol == "Udp"


# --- default rules -----------------------------------------------------------------------


def test_default_rules_inbound() -> None:
    levels = (nsg("n"),)
    from_vnet, _ = ask(FlowClass.of("Inbound", {"Tcp", "Udp", "Icmp"}, VNET, [(0, 65535)], [COMPUTE_SUBNET], [(0, 65535)]), levels)
    assert from_vnet.holds
    from_internet, some = ask(inbound_tcp(("8.8.8.0/24",), (443, 443)), levels)
    assert not from_internet.holds and not some.holds
    assert from_internet.deciding is not None and from_internet.deciding.rule_name == "DenyAllInBound"
    probe, _ = ask(inbound_tcp(("168.63.129.16/32",), (80, 80)), levels)
    assert probe.holds


def test_default_rules_outbound() -> None:
    levels = (nsg("n"),)
    out = FlowClass.of("Outbound", {"Tcp"}, [COMPUTE_SUBNET], [(0, 65535)], ["8.8.8.8/32"], [(443, 443)])
    internet, _ = ask(out, levels)
    assert internet.holds
    # 168.63.129.16 is neither VirtualNetwork nor Internet: only DenyAllOutBound matches.
    to_probe = FlowClass.of("Outbound", {"Tcp"}, [COMPUTE_SUBNET], [(0, 65535)], ["168.63.129.16/32"], [(80, 80)])
    blocked, _ = ask(to_probe, levels)
    assert not blocked.holds
    assert blocked.deciding is not None and blocked.deciding.rule_name == "DenyAllOutBound"


def test_explicit_default_rules_from_the_real_arm_example_are_used() -> None:
    example = json.loads((SAMPLES / "arm-examples/network-2023-09-01-NetworkSecurityGroupGet.json").read_text())
    body = example["responses"]["200"]["body"]
    parsed = parse_nsg(body, CONTEXT)
    assert [r.name for r in parsed.inbound] == ["rule1", "AllowVnetInBound", "AllowAzureLoadBalancerInBound", "DenyAllInBound"]
    every, _ = ask(inbound_tcp(("8.8.8.0/24",), (80, 80)), (parsed,))
    assert every.holds and every.packet is None
    _, some = ask(inbound_tcp(("8.8.8.0/24",), (81, 81)), (parsed,))
    assert not some.holds


def test_explicit_default_rules_replace_the_built_in_ones() -> None:
    body = {
        "name": "odd",
        "properties": {
            "securityRules": [],
            "defaultSecurityRules": [rule("DenyAllInBound", 65500, "Deny")],
        },
    }
    parsed = parse_nsg(body, CONTEXT)
    every, _ = ask(FlowClass.of("Inbound", {"Tcp"}, VNET, [(0, 65535)], [COMPUTE_SUBNET], [(22, 22)]), (parsed,))
    assert not every.holds  # no AllowVnetInBound in this NSG's own defaults


def test_empty_rule_set_denies() -> None:
    body = {"name": "bare", "properties": {"securityRules": [], "defaultSecurityRules": []}}
    every, some = ask(inbound_tcp(("8.8.8.0/24",), (80, 80)), (parse_nsg(body, CONTEXT),))
    assert not every.holds and not some.holds
    assert every.deciding is not None and every.deciding.rule_name is None and every.deciding.access == "Deny"


# --- IPv6 --------------------------------------------------------------------------------


def test_ipv4_prefixes_never_match_ipv6_packets() -> None:
    levels = (
        nsg(
            "n",
            rule("DenyAllV4", 100, "Deny", sourceAddressPrefix="0.0.0.0/0"),
            rule("AllowAml", 110, "Allow", sourceAddressPrefix="AzureMachineLearning"),
        ),
    )
    v6_flow = FlowClass.of("Inbound", {"Tcp"}, ["2603:1030:100::/64"], [(0, 65535)], ["fd00::/64"], [(443, 443)])
    every, _ = ask(v6_flow, levels)
    assert every.holds
    v4_flow = inbound_tcp(("52.10.0.0/24",), (443, 443))
    blocked, _ = ask(v4_flow, levels)
    assert not blocked.holds and blocked.deciding is not None and blocked.deciding.rule_name == "DenyAllV4"


def test_ipv6_internet_and_half_prefix() -> None:
    levels = (
        nsg(
            "n",
            rule("AllowHalf", 100, "Allow", sourceAddressPrefix="2603:1030:100::/65"),
            rule("DenyInternet", 110, "Deny", sourceAddressPrefix="Internet"),
            rule("AllowAll", 120, "Allow"),
        ),
    )
    flow = FlowClass.of("Inbound", {"Tcp"}, ["2603:1030:100::/64"], [(0, 65535)], ["fd00::/64"], [(443, 443)])
    every, some = ask(flow, levels)
    assert not every.holds and some.holds
    assert every.packet is not None and every.packet.source_ip in ipaddress.ip_network("2603:1030:100:0:8000::/65")
    assert every.deciding is not None and every.deciding.rule_name == "DenyInternet"


def test_star_spans_both_families() -> None:
    levels = (nsg("n", rule("DenyStar", 100, "Deny")),)
    flow = FlowClass.of("Inbound", {"Tcp"}, ["2603:1030:100::/64", "52.10.0.0/24"], [(0, 65535)], ["fd00::/64", COMPUTE_SUBNET], [(443, 443)])
    _, some = ask(flow, levels)
    assert not some.holds


# --- composition -------------------------------------------------------------------------


def test_inbound_subnet_then_nic() -> None:
    subnet = nsg("subnet-nsg", rule("AllowSsh", 100, "Allow", destinationPortRange="22"))
    nic = nsg("nic-nsg", rule("DenySsh", 100, "Deny", destinationPortRange="22"))
    flow = inbound_tcp(("52.10.0.0/24",), (22, 22))
    every, some = ask(flow, levels_for("Inbound", subnet, nic))
    assert not every.holds and not some.holds
    assert [d.rule_name for d in every.decisions] == ["AllowSsh", "DenySsh"]
    assert every.deciding is not None and every.deciding.nsg_name == "nic-nsg"


def test_outbound_nic_then_subnet() -> None:
    subnet = nsg("subnet-nsg", rule("DenyWeb", 100, "Deny", "Outbound", destinationPortRange="443"))
    nic = nsg("nic-nsg", rule("DenyAllOut", 100, "Deny", "Outbound"))
    flow = FlowClass.of("Outbound", {"Tcp"}, [COMPUTE_SUBNET], [(0, 65535)], ["8.8.8.8/32"], [(443, 443)])
    every, _ = ask(flow, levels_for("Outbound", subnet, nic))
    # The NIC NSG is first outbound, so it is the one that decides.
    assert every.deciding is not None and (every.deciding.nsg_name, every.deciding.rule_name) == ("nic-nsg", "DenyAllOut")


def test_missing_nsg_allows_at_its_level() -> None:
    nic = nsg("nic-nsg", rule("AllowSsh", 100, "Allow", destinationPortRange="22"))
    flow = inbound_tcp(("52.10.0.0/24",), (22, 22))
    every, _ = ask(flow, levels_for("Inbound", None, nic))
    assert every.holds
    blocked, _ = ask(inbound_tcp(("52.10.0.0/24",), (22, 23)), levels_for("Inbound", None, nic))
    assert not blocked.holds
    assert blocked.decisions[0].nsg_name is None and blocked.decisions[0].access == "Allow"
    nothing, _ = ask(flow, levels_for("Inbound", None, None))
    assert nothing.holds


# --- application security groups ---------------------------------------------------------


def test_asg_rules_read_as_worst_case_for_each_question() -> None:
    asg = [{"id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/applicationSecurityGroups/web"}]
    rules = [
        rule("DenyAsg", 100, "Deny", sourceAddressPrefix=None, sourceApplicationSecurityGroups=asg),
        rule("AllowAll", 110, "Allow"),
    ]
    flow = inbound_tcp(("52.10.0.0/24",), (443, 443))
    for_all = nsg("n", *rules, asg_reading="all_allowed")
    assert for_all.inbound[0].asg_assumed
    assert not all_allowed(flow, for_all).holds  # the ASG deny may match everything
    for_any = nsg("n", *rules, asg_reading="any_allowed")
    assert any_allowed(flow, for_any).holds  # ...or nothing
    with pytest.raises(OracleInputError):
        nsg("n", *rules)


# --- checking a claimed allowed region ---------------------------------------------------


def test_region_disagreement_finds_a_wrong_split() -> None:
    level = nsg("n", rule("AllowLowerHalf", 100, "Allow", sourceAddressPrefix="52.10.0.0/25"))
    flow = inbound_tcp(("52.10.0.0/24",), (443, 443))
    right = FlowBox.of({"Tcp"}, ["52.10.0.0/25"], [(0, 65535)], [COMPUTE_SUBNET], [(443, 443)])
    assert region_disagreement(flow, (level,), [right]).holds
    too_big = FlowBox.of({"Tcp"}, ["52.10.0.0/24"], [(0, 65535)], [COMPUTE_SUBNET], [(443, 443)])
    wrong = region_disagreement(flow, (level,), [too_big])
    assert not wrong.holds and wrong.packet is not None
    assert wrong.packet.source_ip in ipaddress.ip_network("52.10.0.128/25")
    assert wrong.decisions[0].rule_name == "DenyAllInBound"
    missing_ports = FlowBox.of({"Tcp"}, ["52.10.0.0/25"], [(1, 65535)], [COMPUTE_SUBNET], [(443, 443)])
    gap = region_disagreement(flow, (level,), [missing_ports])
    assert not gap.holds and gap.packet is not None and gap.packet.source_port == 0


# --- the point sampler on its own --------------------------------------------------------


def test_evaluate_packet_walks_rules_in_priority_order() -> None:
    # Listed out of order on purpose: priority, not list position, decides.
    level = nsg(
        "n",
        rule("AllowLater", 200, "Allow"),
        rule("DenyFirst", 100, "Deny", destinationPortRange="22"),
    )
    packet = Packet("Tcp", ipaddress.ip_address("52.10.0.1"), 5000, ipaddress.ip_address("10.1.1.4"), 22)
    decision = evaluate_packet(level, "Inbound", packet)
    assert (decision.access, decision.rule_name, decision.priority) == ("Deny", "DenyFirst", 100)
    other_port = Packet("Tcp", ipaddress.ip_address("52.10.0.1"), 5000, ipaddress.ip_address("10.1.1.4"), 23)
    assert evaluate_packet(level, "Inbound", other_port).rule_name == "AllowLater"


def test_sampler_finds_a_single_denied_port_in_a_large_grid() -> None:
    # Many rules make the grid too big to walk; the sweep must still visit the lone hole.
    rules = [rule(f"Allow{i}", 100 + i, "Allow", sourceAddressPrefix=f"52.{i}.0.0/16") for i in range(40)]
    rules.append(rule("DenyOnePort", 99, "Deny", destinationPortRange="8443"))
    level = nsg("n", *rules)
    flow = FlowClass.of("Inbound", {"Tcp", "Udp"}, [f"52.{i}.0.0/16" for i in range(40)], [(0, 65535)], [COMPUTE_SUBNET], [(1, 65535)])
    sampled = sample_flow(flow, (level,), random.Random(1), exhaustive_limit=100)
    assert not sampled.exhaustive
    assert sampled.all_allowed is False
    assert sampled.denied_packet is not None and sampled.denied_packet.destination_port == 8443
    assert sampled.any_allowed is True


def test_unexhausted_sample_does_not_claim_a_pass() -> None:
    level = nsg("n", rule("AllowAll", 100, "Allow"))
    flow = inbound_tcp(tuple(f"52.{i}.0.0/16" for i in range(40)), (0, 65535))
    sampled = sample_flow(flow, (level,), random.Random(1), exhaustive_limit=10, sampled_packets=20)
    assert not sampled.exhaustive
    assert sampled.all_allowed is None  # nothing denied was seen, which proves nothing
    assert sampled.any_allowed is True


# --- reading ARM fails closed ------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        {"sourceAddressPrefix": "NoSuchTag"},
        {"sourceAddressPrefix": "", "sourceAddressPrefixes": []},
        {"destinationPortRange": "70000"},
        {"destinationPortRange": "300-200"},
        {"destinationPortRange": "http"},
        {"protocol": "Gre"},
        {"sourceAddressPrefix": "10.0.0.1/24"},
    ],
)
def test_unreadable_rules_are_refused(fields: dict[str, Any]) -> None:
    with pytest.raises(OracleInputError):
        nsg("n", rule("Odd", 100, "Allow", **fields))


def test_duplicate_priority_in_one_direction_is_refused() -> None:
    with pytest.raises(OracleInputError):
        nsg("n", rule("A", 100, "Allow"), rule("B", 100, "Deny"))
    # The same priority in the other direction is fine.
    parsed = nsg("n", rule("A", 100, "Allow"), rule("B", 100, "Deny", "Outbound"))
    assert [r.name for r in parsed.outbound][0] == "B"


def test_effective_rules_spellings_are_understood() -> None:
    level = nsg("n", rule("Eff", 100, "Deny", protocol="All", sourcePortRange="0-65535", destinationPortRange="22-22", sourceAddressPrefix="0.0.0.0/0"))
    assert level.inbound[0].protocols == frozenset({"Tcp", "Udp", "Icmp", "Esp", "Ah"})
    every, _ = ask(inbound_tcp(("52.10.0.0/24",), (22, 22)), (level,))
    assert not every.holds and every.deciding is not None and every.deciding.rule_name == "Eff"


def test_parse_does_not_mutate_its_input() -> None:
    body = {"name": "n", "properties": {"securityRules": [rule("A", 100, "Allow", sourceAddressPrefix="InsideTag")]}}
    before = copy.deepcopy(body)
    parse_nsg(body, CONTEXT)
    assert body == before


def test_partition_disagreement_checks_deciders_and_coverage() -> None:
    from .z3_oracle import ClaimedPart, partition_disagreement

    level = nsg(
        "n",
        rule("AllowLowerHalf", 100, "Allow", sourceAddressPrefix="52.10.0.0/25"),
        rule("DenyRest", 200, "Deny", sourceAddressPrefix="52.10.0.0/24"),
    )
    flow = inbound_tcp(("52.10.0.0/24",), (443, 443))
    lower = (FlowBox.of({"Tcp"}, ["52.10.0.0/25"], [(0, 65535)], [COMPUTE_SUBNET], [(443, 443)]),)
    upper = (FlowBox.of({"Tcp"}, ["52.10.0.128/25"], [(0, 65535)], [COMPUTE_SUBNET], [(443, 443)]),)
    right = [ClaimedPart(lower, (100,)), ClaimedPart(upper, (200,))]
    assert partition_disagreement(flow, (level,), right).holds
    # The right split but the upper half blamed on the default deny.
    wrong_rule = partition_disagreement(flow, (level,), [ClaimedPart(lower, (100,)), ClaimedPart(upper, (65500,))])
    assert not wrong_rule.holds and wrong_rule.packet is not None
    assert wrong_rule.decisions[0].rule_name == "DenyRest"
    # A part left out.
    gap = partition_disagreement(flow, (level,), [ClaimedPart(lower, (100,))])
    assert not gap.holds and gap.packet is not None and gap.packet.source_ip in ipaddress.ip_network("52.10.0.128/25")
    # A part reaching outside the flow.
    wide = (FlowBox.of({"Tcp"}, ["52.10.0.0/25"], [(0, 65535)], [COMPUTE_SUBNET], [(443, 444)]),)
    outside = partition_disagreement(flow, (level,), [ClaimedPart(wide, (100,)), ClaimedPart(upper, (200,))])
    assert not outside.holds and outside.packet is not None and outside.packet.destination_port == 444
    # Two levels: a missing NSG is claimed as None.
    path = levels_for("Inbound", None, level)
    assert partition_disagreement(flow, path, [ClaimedPart(lower, (None, 100)), ClaimedPart(upper, (None, 200))]).holds
    assert not partition_disagreement(flow, path, [ClaimedPart(lower, (100, 100)), ClaimedPart(upper, (None, 200))]).holds


# --- VirtualNetwork with route prefixes; both readings of Internet ---------------------------------


def _forced(reading: str) -> AddressContext:
    table = {"name": "rt", "properties": {"routes": [
        {"name": "default", "properties": {"addressPrefix": "0.0.0.0/0", "nextHopType": "VirtualAppliance"}},
        {"name": "batch", "properties": {"addressPrefix": "BatchNodeManagement.EastUS", "nextHopType": "Internet"}}]}}
    return AddressContext(VNET + ("84.17.32.0/24",), CONTEXT.service_tags, route_prefixes_of(table), reading)  # type: ignore[arg-type]


def test_a_default_route_puts_every_ipv4_address_in_virtual_network() -> None:
    levels = (nsg("compute-nsg", rule("DenyInternet", 4000, "Deny", sourceAddressPrefix="Internet"), context=_forced("with_routes")),)
    every, _ = ask(inbound_tcp(("8.8.8.0/24",), (22, 22)), levels)
    # Read with the route prefixes, Internet holds no IPv4 address: AllowVnetInBound admits SSH from anywhere.
    assert every.holds
    levels = (nsg("compute-nsg", rule("DenyInternet", 4000, "Deny", sourceAddressPrefix="Internet"), context=_forced("without_routes")),)
    every, some = ask(inbound_tcp(("8.8.8.0/24",), (22, 22)), levels)
    assert not some.holds and every.deciding is not None and every.deciding.rule_name == "DenyInternet"


def test_on_premises_space_is_virtual_network_and_not_internet() -> None:
    context = AddressContext(VNET + ("84.17.32.0/24",), CONTEXT.service_tags)
    levels = (nsg("compute-nsg", rule("DenyInternet", 100, "Deny", sourceAddressPrefix="Internet"), context=context),)
    every, _ = ask(inbound_tcp(("84.17.32.0/25",), (22, 22)), levels)
    assert every.holds and every.packet is None  # nothing denied: AllowVnetInBound


def test_a_route_naming_a_tag_adds_the_tags_prefixes() -> None:
    assert set(_forced("with_routes").route_networks()) >= {ipaddress.ip_network(p) for p in BATCH_PREFIXES}


def test_an_unreadable_route_is_refused() -> None:
    with pytest.raises(OracleInputError):
        route_prefixes_of({"name": "rt", "properties": {"routes": [{"name": "x", "properties": {"nextHopType": "None"}}]}})
