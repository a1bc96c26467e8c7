"""VirtualNetwork with route prefixes, the two readings of Internet, and when the second can matter."""

from __future__ import annotations

import random

import pytest

from amlaudit.auditor.netpolicy import (
    AddressSet,
    FlowClass,
    InternetReading,
    NsgCompiler,
    Packet,
    Question,
    VirtualNetworkTags,
    compile_nsg,
    decide_packet,
    depends_on_internet,
    evaluate,
    evaluate_chain,
    user_route_addresses,
)
from tests.netpolicy.conftest import build_nsg, build_rule

OWN = AddressSet.parse(["10.1.0.0/16", "10.2.0.0/16", "84.17.32.0/24"])
FORCED = AddressSet.parse(["0.0.0.0/0"])
WITH, WITHOUT = InternetReading.WITH_ROUTES, InternetReading.WITHOUT_ROUTES


def test_virtual_network_holds_the_route_prefixes_under_both_readings() -> None:
    routes = AddressSet.parse(["13.0.0.0/8", "10.1.5.0/24"])
    with_routes = VirtualNetworkTags(OWN, routes)
    without = with_routes.under(WITHOUT)
    assert with_routes.virtual_network == without.virtual_network == OWN | routes
    assert "13.1.2.3" not in with_routes.internet and "13.1.2.3" in without.internet
    assert "8.8.8.8" in with_routes.internet and "8.8.8.8" in without.internet
    for tags in (with_routes, without):
        assert "168.63.129.16" not in tags.internet and "10.1.5.1" not in tags.internet
    # Only the route prefixes outside the own networks set the readings apart.
    assert with_routes.reading_dependent == AddressSet.parse("13.0.0.0/8")
    assert with_routes.readings_differ


def test_readings_coincide_when_routes_stay_inside_the_own_networks() -> None:
    tags = VirtualNetworkTags(OWN, AddressSet.parse(["10.1.0.0/24", "168.63.129.16/32"]))
    assert not tags.readings_differ and tags.internet == tags.under(WITHOUT).internet
    assert not VirtualNetworkTags(OWN).readings_differ


def test_forced_tunnelling_route_puts_every_address_in_virtual_network() -> None:
    tags = VirtualNetworkTags(OWN, FORCED)
    nsg = compile_nsg(build_nsg("nsg", build_rule("DenyInternet", 4000, access="Deny", src="Internet")), tags, None)
    # Read with the route prefixes Internet holds no IPv4 address: DenyInternet stops nobody, AllowVnetInBound admits all.
    assert decide_packet(nsg, "Inbound", Packet("Tcp", "8.8.8.8", 1024, "10.1.1.4", 22)).rule_name == "AllowVnetInBound"
    other = compile_nsg(build_nsg("nsg", build_rule("DenyInternet", 4000, access="Deny", src="Internet")),
                        tags.under(WITHOUT), None)
    assert decide_packet(other, "Inbound", Packet("Tcp", "8.8.8.8", 1024, "10.1.1.4", 22)).rule_name == "DenyInternet"
    # IPv6 is untouched by an IPv4 default route.
    assert "2a00:1450::1" in tags.internet


def test_compiler_compiles_once_per_nsg_and_tags() -> None:
    compiler = NsgCompiler(None)
    raw = build_nsg("nsg", build_rule("AllowVnet", 100, src="VirtualNetwork"))
    tags = VirtualNetworkTags(OWN, FORCED)
    first = compiler.compile(raw, tags)
    assert compiler.compile(raw, VirtualNetworkTags(OWN, FORCED)) is first
    assert compiler.compile(raw, tags.under(WITHOUT)) is not first
    assert compiler.compile(raw, OWN) is not first  # plain VirtualNetwork space: Internet its complement


def _flow(src: str, dst: str = "10.1.1.0/24", ports: str = "22") -> FlowClass:
    return FlowClass.of("Inbound", protocols="Tcp", src=src, dst=dst, dst_ports=ports)


def test_depends_on_internet_only_when_a_reached_internet_rule_sees_the_changing_addresses() -> None:
    tags = VirtualNetworkTags(OWN, FORCED)
    changing = tags.reading_dependent
    allow_first = build_nsg("nsg", build_rule("AllowSsh", 100, src="*", dst_ports="22"),
                            build_rule("DenyInternet", 4000, access="Deny", src="Internet"))
    deny_first = build_nsg("nsg", build_rule("DenyInternet", 100, access="Deny", src="Internet"),
                           build_rule("AllowSsh", 200, src="*", dst_ports="22"))
    for raw, depends in ((allow_first, False), (deny_first, True)):
        levels = [("subnet", compile_nsg(raw, tags, None))]
        verdict = evaluate_chain(_flow("8.8.8.0/24"), levels)
        assert depends_on_internet(verdict, levels, changing) is depends
    # A flow whose sides hold none of the changing addresses never depends on the reading.
    levels = [("subnet", compile_nsg(deny_first, tags, None))]
    assert not depends_on_internet(evaluate_chain(_flow("10.2.0.0/24"), levels), levels, changing)
    assert not depends_on_internet(evaluate_chain(_flow("8.8.8.0/24"), levels), levels, AddressSet())


_PREFIXES = ["0.0.0.0/0", "8.0.0.0/7", "8.8.8.0/24", "10.1.0.0/16", "10.0.0.0/8", "84.17.32.0/24", "84.17.0.0/16",
             "168.63.129.16/32", "Internet", "VirtualNetwork", "*"]


def test_when_it_says_independent_both_readings_give_the_same_parts() -> None:
    """Randomized: over small NSGs and flows, False from depends_on_internet means the second reading's
    verdict is the very same split with the same deciders."""
    rng = random.Random(7)
    checked = skipped = 0
    for _ in range(400):
        routes = AddressSet.parse(rng.sample(["0.0.0.0/0", "8.0.0.0/8", "84.0.0.0/8", "10.1.0.0/16"], rng.randint(1, 2)))
        tags = VirtualNetworkTags(OWN, routes)
        rules = [build_rule(f"r{i}", 100 + i * 10, access=rng.choice(("Allow", "Deny")), src=rng.choice(_PREFIXES),
                            dst=rng.choice(["*", "VirtualNetwork", "10.1.1.0/24", "Internet"]),
                            dst_ports=rng.choice(["22", "*", "20-30"]), protocol=rng.choice(["Tcp", "*"]))
                 for i in range(rng.randint(0, 5))]
        raw = build_nsg("nsg", *rules)
        flow = _flow(rng.choice(["8.8.8.0/24", "0.0.0.0/0", "84.17.0.0/16", "10.1.0.0/16", "13.0.0.0/8"]))
        question = rng.choice(list(Question))
        # Either reading first: Internet gains the changing addresses going one way and loses them the other.
        readings = rng.choice([(WITH, WITHOUT), (WITHOUT, WITH)])
        first = [("subnet", compile_nsg(raw, tags.under(readings[0]), None))]
        second = [("subnet", compile_nsg(raw, tags.under(readings[1]), None))]
        verdict = evaluate_chain(flow, first, question)
        if depends_on_internet(verdict, first, tags.reading_dependent):
            skipped += 1
            continue
        other = evaluate_chain(flow, second, question)
        assert [(p.access, p.deciders, p.region.boxes) for p in verdict.parts] == \
            [(p.access, p.deciders, p.region.boxes) for p in other.parts]
        checked += 1
    assert checked > 100 and skipped > 20  # both outcomes exercised


@pytest.mark.parametrize("readings", [(WITH,), (WITHOUT,)])
def test_evaluate_accepts_tags_for_one_nsg(readings: tuple[InternetReading, ...]) -> None:
    raw = build_nsg("nsg", build_rule("AllowInternet", 100, src="Internet", dst_ports="443", protocol="Tcp"))
    tags = VirtualNetworkTags(OWN, AddressSet.parse("8.8.8.0/24"), readings[0])
    verdict = evaluate(_flow("8.8.8.8", ports="443"), compile_nsg(raw, tags, None), Question.ALL_ALLOWED)
    # 8.8.8.8 is routed, so VirtualNetwork: Internet holds it only when read without the route prefixes.
    assert verdict.parts[0].decider.rule_name == ("AllowInternet" if readings[0] is WITHOUT else "AllowVnetInBound")


def test_user_routes_with_the_addresses_each_names(tags) -> None:
    table = {"name": "rt", "id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/routeTables/rt",
             "properties": {"routes": [
                 {"name": "default", "properties": {"addressPrefix": "0.0.0.0/0", "nextHopType": "VirtualAppliance",
                                                     "nextHopIpAddress": "10.1.255.4"}},
                 {"name": "batch", "properties": {"addressPrefix": "BatchNodeManagement.EastUS", "nextHopType": "Internet"}},
                 {"name": "branch", "properties": {"addressPrefix": "84.17.32.0/24", "nextHopType": "VirtualNetworkGateway"}},
             ]}}
    routes, problems = user_route_addresses(table, tags)
    assert problems == []
    assert [route.name for route, _ in routes] == ["default", "batch", "branch"]
    assert routes[0][1] == FORCED and routes[2][1] == AddressSet.parse("84.17.32.0/24")
    assert routes[1][1] == tags.get("BatchNodeManagement.EastUS").addresses
    table["properties"]["routes"].append({"name": "odd", "properties": {"addressPrefix": "NoSuchTag", "nextHopType": "None"}})
    table["properties"]["routes"].append({"name": "no-hop", "properties": {"addressPrefix": "10.9.0.0/16"}})
    routes, problems = user_route_addresses(table, tags)
    assert len(routes) == 3 and [problem.item for problem in problems] == ["odd", "no-hop"]


def test_an_nsg_compiled_for_another_context_decides_as_if_compiled_alone() -> None:
    """The compiler shares an NSG's rules between contexts (protocol, ports; resolved context-free
    sides). Randomized: a context compiled second decides every flow exactly as a fresh compilation."""
    rng = random.Random(11)
    for _ in range(200):
        rules = [build_rule(f"r{i}", 100 + i * 10, access=rng.choice(("Allow", "Deny")), src=rng.choice(_PREFIXES),
                            dst=rng.choice(["*", "VirtualNetwork", "10.1.1.0/24", "Internet"]),
                            dst_ports=rng.choice(["22", "*", "20-30", "443"]), protocol=rng.choice(["Tcp", "*", "Udp"]))
                 for i in range(rng.randint(1, 6))]
        raw = build_nsg("nsg", *rules)
        contexts = [VirtualNetworkTags(OWN, routes, reading)
                    for routes in (AddressSet(), FORCED, AddressSet.parse("8.0.0.0/8")) for reading in (WITH, WITHOUT)]
        rng.shuffle(contexts)
        compiler = NsgCompiler(None)
        flows = [_flow(rng.choice(["8.8.8.0/24", "0.0.0.0/0", "84.17.0.0/16", "10.1.0.0/16"]), ports=rng.choice(["22", "443"]))
                 for _ in range(3)]
        for tags in contexts:
            shared = compiler.compile(raw, tags)
            alone = compile_nsg(raw, tags, None)
            for flow in flows:
                for question in Question:
                    got, want = evaluate(flow, shared, question), evaluate(flow, alone, question)
                    assert [(p.access, p.deciders, p.region.boxes) for p in got.parts] == \
                        [(p.access, p.deciders, p.region.boxes) for p in want.parts]
                    for part_got, part_want in zip(got.parts, want.parts):
                        assert part_got.shadowed_allow == part_want.shadowed_allow
