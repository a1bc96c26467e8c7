"""Exactness on a tiny universe: every packet of the flow, one at a time.

A naive packet-at-a-time evaluator written here with ``ipaddress`` (no code
shared with the engine) decides each packet; the engine's verdict must put
that packet in exactly one part, decided by the same rule with the same
access. (The larger z3/point-sampler differential test lives in
tests/test_differential_nsg.py.)
"""

from __future__ import annotations

import ipaddress
from itertools import product
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from amlaudit.auditor.netpolicy import WELL_KNOWN_DEFAULT_RULES, AddressSet, FlowClass, Packet, compile_nsg, evaluate

VNET_TEXT = ["10.1.0.0/30"]
VNET = AddressSet.parse(VNET_TEXT)
ALB = ipaddress.ip_address("168.63.129.16")

ADDRESS_ITEMS = ["*", "Internet", "VirtualNetwork", "AzureLoadBalancer", "20.0.0.0/31", "20.0.0.1",
                 "10.1.0.2/31", "2001:db8::/127", "2001:db8::1", "0.0.0.0/0", "::/0"]
PORT_ITEMS = ["*", "0", "1", "2", "0-1", "1-2", "2-65535"]
PROTOCOLS = ["Tcp", "Udp", "Icmp", "*"]
FLOW_SOURCES = ["20.0.0.0/31", "10.1.0.0/31", "168.63.129.16", "2001:db8::/127"]
FLOW_DESTINATIONS = ["10.1.0.0/31", "20.0.0.1", "2001:db8::/127"]
PORT_UNIVERSE = range(0, 3)


def side(draw: st.DrawFn, items: list[str]) -> Any:
    chosen = draw(st.lists(st.sampled_from(items), min_size=1, max_size=2, unique=True))
    return chosen if len(chosen) > 1 or draw(st.booleans()) else chosen[0]


@st.composite
def nsgs(draw: st.DrawFn) -> dict[str, Any]:
    count = draw(st.integers(0, 6))
    priorities = draw(st.lists(st.integers(100, 4096), min_size=count, max_size=count, unique=True))
    rules = []
    for index, priority in enumerate(priorities):
        fields: dict[str, Any] = {}
        for singular, plural, items in (
            ("sourceAddressPrefix", "sourceAddressPrefixes", ADDRESS_ITEMS),
            ("destinationAddressPrefix", "destinationAddressPrefixes", ADDRESS_ITEMS),
            ("sourcePortRange", "sourcePortRanges", PORT_ITEMS),
            ("destinationPortRange", "destinationPortRanges", PORT_ITEMS),
        ):
            value = side(draw, items)
            if isinstance(value, list):
                fields[singular], fields[plural] = "", value
            else:
                fields[singular] = value
        fields.update(
            protocol=draw(st.sampled_from(PROTOCOLS)),
            access=draw(st.sampled_from(["Allow", "Deny"])),
            priority=priority,
            direction="Inbound",
        )
        rules.append({"name": f"r{index}", "properties": fields})
    return {"name": "tiny", "properties": {"securityRules": rules}}


# --- the naive reference ---------------------------------------------------------------


def address_matches(item: str, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    word = item.lower()
    in_vnet = any(address in ipaddress.ip_network(net) for net in VNET_TEXT if ipaddress.ip_network(net).version == address.version)
    if word in ("*", "any"):
        return True
    if word == "virtualnetwork":
        return in_vnet
    if word == "azureloadbalancer":
        return address == ALB
    if word == "internet":
        return not in_vnet and address != ALB
    network = ipaddress.ip_network(item, strict=False)
    return network.version == address.version and address in network


def port_matches(item: str, port: int) -> bool:
    if item == "*":
        return True
    low, _, high = item.partition("-")
    return int(low) <= port <= int(high or low)


def values(properties: dict[str, Any], singular: str, plural: str) -> list[str]:
    return list(properties.get(plural) or []) + ([properties[singular]] if properties.get(singular) else [])


def reference_decision(nsg: dict[str, Any], packet: Packet) -> tuple[str, str]:
    rules = list(nsg["properties"]["securityRules"]) + list(WELL_KNOWN_DEFAULT_RULES)
    src, dst = ipaddress.ip_address(packet.src_ip), ipaddress.ip_address(packet.dst_ip)
    for rule in sorted(rules, key=lambda r: r["properties"]["priority"]):
        p = rule["properties"]
        if p["direction"] != "Inbound":
            continue
        if p["protocol"] != "*" and p["protocol"].lower() != packet.protocol.lower():
            continue
        if not any(address_matches(i, src) for i in values(p, "sourceAddressPrefix", "sourceAddressPrefixes")):
            continue
        if not any(address_matches(i, dst) for i in values(p, "destinationAddressPrefix", "destinationAddressPrefixes")):
            continue
        if not any(port_matches(i, packet.src_port) for i in values(p, "sourcePortRange", "sourcePortRanges")):
            continue
        if not any(port_matches(i, packet.dst_port) for i in values(p, "destinationPortRange", "destinationPortRanges")):
            continue
        return rule["name"], p["access"]
    raise AssertionError("the default rules always match")


def addresses_of(prefix: str) -> list[str]:
    return [str(address) for address in ipaddress.ip_network(prefix)] if "/" in prefix else [prefix]


@settings(max_examples=200, deadline=None)
@given(
    nsg=nsgs(),
    protocols=st.lists(st.sampled_from(["Tcp", "Udp", "Icmp"]), min_size=1, max_size=2, unique=True),
    sources=st.lists(st.sampled_from(FLOW_SOURCES), min_size=1, max_size=2, unique=True),
    destinations=st.lists(st.sampled_from(FLOW_DESTINATIONS), min_size=1, max_size=2, unique=True),
)
def test_every_packet_is_in_exactly_one_part_with_the_reference_decider(
    nsg: dict[str, Any], protocols: list[str], sources: list[str], destinations: list[str]
) -> None:
    source_set, destination_set = AddressSet.parse(sources), AddressSet.parse(destinations)
    if not set(source_set.families) & set(destination_set.families):
        return  # no packet can go from these sources to these destinations
    flow = FlowClass.of("Inbound", protocols=protocols, src=source_set, dst=destination_set,
                        src_ports="0-2", dst_ports="0-2")
    verdict = evaluate(flow, compile_nsg(nsg, VNET, None))
    assert verdict.is_complete
    checked = 0
    for protocol, src, dst, src_port, dst_port in product(
        protocols,
        [a for prefix in sources for a in addresses_of(prefix)],
        [a for prefix in destinations for a in addresses_of(prefix)],
        PORT_UNIVERSE,
        PORT_UNIVERSE,
    ):
        if ipaddress.ip_address(src).version != ipaddress.ip_address(dst).version:
            continue
        packet = Packet(protocol, src, src_port, dst, dst_port)
        containing = [part for part in verdict.parts if part.region.contains(packet)]
        assert len(containing) == 1, packet
        expected_rule, expected_access = reference_decision(nsg, packet)
        assert (containing[0].decider.rule_name, containing[0].access) == (expected_rule, expected_access), packet
        checked += 1
    assert checked > 0
    for part in verdict.parts:
        assert reference_decision(nsg, part.witness) == (part.decider.rule_name, part.access)
