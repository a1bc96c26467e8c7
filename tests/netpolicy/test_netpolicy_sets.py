"""Address, port and protocol sets: parsing, algebra, rendering."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amlaudit.auditor.netpolicy import AddressSet, ParseError, PortSet, ProtocolSet
from amlaudit.auditor.netpolicy import intervals

# --- intervals, checked against Python sets on a small universe ----------------------

UNIVERSE = 64
small_sets = st.frozensets(st.integers(min_value=0, max_value=UNIVERSE - 1), max_size=40)


def as_intervals(members: frozenset[int]) -> intervals.IntervalSet:
    return intervals.from_pairs((member, member + 1) for member in members)


def as_members(interval_set: intervals.IntervalSet) -> frozenset[int]:
    return frozenset(value for lo, hi in intervals.pairs(interval_set) for value in range(lo, hi))


@settings(max_examples=300, deadline=None)
@given(small_sets, small_sets)
def test_interval_algebra_matches_python_sets(left: frozenset[int], right: frozenset[int]) -> None:
    a, b = as_intervals(left), as_intervals(right)
    assert as_members(intervals.intersect(a, b)) == left & right
    assert as_members(intervals.union(a, b)) == left | right
    assert as_members(intervals.difference(a, b, UNIVERSE)) == left - right
    assert as_members(intervals.complement(a, UNIVERSE)) == frozenset(range(UNIVERSE)) - left
    assert intervals.is_subset(a, b) == (left <= right)
    assert intervals.overlaps(a, b) == bool(left & right)
    assert intervals.size(a) == len(left)
    for probe in range(UNIVERSE):
        assert intervals.contains(a, probe) == (probe in left)


@pytest.mark.parametrize(("a", "b", "expected"), [
    ((0, 5), (5, 10), False),                    # half-open: touching is not overlapping
    ((0, 6), (5, 10), True),
    ((0, 2, 4, 6, 8, 10), (2, 4, 6, 8), False),  # each in the other's gaps
    ((0, 2, 4, 6, 8, 10), (6, 8, 9, 12), True),  # only the last intervals meet
    ((3, 4), (0, 2, 5, 9), False),               # a small set inside a gap of a large one
    ((0, 100), (40, 41, 60, 61), True),          # one interval spanning the other set
    ((), (0, 1), False),
])
def test_overlaps_stops_at_the_first_shared_point(a: intervals.IntervalSet, b: intervals.IntervalSet,
                                                  expected: bool) -> None:
    assert intervals.overlaps(a, b) is expected and intervals.overlaps(b, a) is expected
    assert expected == bool(intervals.intersect(a, b))


@settings(max_examples=200, deadline=None)
@given(small_sets, small_sets)
def test_interval_results_are_normalised(left: frozenset[int], right: frozenset[int]) -> None:
    """Sorted, disjoint and non-touching: equal sets have equal tuples."""
    a, b = as_intervals(left), as_intervals(right)
    for result in (intervals.intersect(a, b), intervals.union(a, b), intervals.difference(a, b, UNIVERSE)):
        assert list(result) == sorted(result)
        assert len(set(result)) == len(result)
        assert result == as_intervals(as_members(result))


# --- address sets ------------------------------------------------------------------------


def test_parse_accepts_cidr_bare_ip_range_and_ipv6() -> None:
    addresses = AddressSet.parse(["10.0.0.0/24", "10.0.1.4", "192.168.0.10-192.168.0.12", "2001:db8::/126"])
    assert addresses.to_cidrs() == [
        "10.0.0.0/24",
        "10.0.1.4/32",
        "192.168.0.10/31",
        "192.168.0.12/32",
        "2001:db8::/126",
    ]
    assert addresses.size() == 256 + 1 + 3 + 4
    assert addresses.families == (4, 6)


def test_host_bits_are_ignored_like_azure_does() -> None:
    assert AddressSet.parse("10.0.0.5/24") == AddressSet.parse("10.0.0.0/24")


@pytest.mark.parametrize("text", ["10.0.0.0/33", "10.0.0", "300.1.1.1", "Storage", "::/129", "10.0.0.9-10.0.0.1", "", "10.0.0.0/²", "fe80::1%eth0"])
def test_parse_rejects_what_is_not_an_address(text: str) -> None:
    with pytest.raises(ParseError):
        AddressSet.parse(text)


def test_families_never_mix() -> None:
    every_ipv4 = AddressSet.parse("0.0.0.0/0")
    assert "::1" not in every_ipv4
    assert "::ffff:10.0.0.1" not in every_ipv4  # an IPv4-mapped IPv6 address is still IPv6
    assert not every_ipv4.overlaps(AddressSet.parse("::/0"))
    assert (every_ipv4 & AddressSet.parse("::/0")).is_empty()
    assert AddressSet.everything() - every_ipv4 == AddressSet.parse("::/0")


def test_set_algebra_and_membership() -> None:
    vnet = AddressSet.parse("10.1.0.0/16")
    subnet = AddressSet.parse("10.1.1.0/24")
    assert subnet <= vnet
    assert not vnet <= subnet
    assert "10.1.1.200" in subnet and "10.1.2.1" not in subnet
    rest = vnet - subnet
    assert rest.size() == 65536 - 256
    assert (rest | subnet) == vnet
    assert (rest & subnet).is_empty()
    assert rest.to_cidrs()[:2] == ["10.1.0.0/24", "10.1.2.0/23"]
    assert len(rest.to_cidrs()) == rest.cidr_count() == 8


def test_complement_of_a_vnet_covers_both_families() -> None:
    outside = AddressSet.parse("10.0.0.0/8").complement()
    assert "11.0.0.0" in outside and "9.255.255.255" in outside and "10.0.0.1" not in outside
    assert "2001:db8::1" in outside
    assert outside.size_of(4) == 2**32 - 2**24


def test_to_cidrs_is_minimal_and_exact() -> None:
    addresses = AddressSet.parse("10.0.0.1-10.0.0.254")
    cidrs = addresses.to_cidrs()
    assert cidrs == [
        "10.0.0.1/32", "10.0.0.2/31", "10.0.0.4/30", "10.0.0.8/29", "10.0.0.16/28", "10.0.0.32/27",
        "10.0.0.64/26", "10.0.0.128/26", "10.0.0.192/27", "10.0.0.224/28", "10.0.0.240/29",
        "10.0.0.248/30", "10.0.0.252/31", "10.0.0.254/32",
    ]
    # netaddr agrees that this is the minimal cover
    netaddr = pytest.importorskip("netaddr")
    assert [str(net) for net in netaddr.iprange_to_cidrs("10.0.0.1", "10.0.0.254")] == cidrs
    assert AddressSet.everything().to_cidrs() == ["0.0.0.0/0", "::/0"]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2**32 - 1), st.integers(8, 32)), min_size=1, max_size=12))
def test_to_cidrs_round_trips_against_ipaddress(blocks: list[tuple[int, int]]) -> None:
    texts = [str(ipaddress.ip_network((address, length), strict=False)) for address, length in blocks]
    addresses = AddressSet.parse(texts)
    rendered = addresses.to_cidrs()
    assert AddressSet.parse(rendered) == addresses
    collapsed = [str(net) for net in ipaddress.collapse_addresses(ipaddress.ip_network(t) for t in texts)]
    assert rendered == collapsed


def test_only_restricts_to_one_family_and_sample_is_a_member() -> None:
    mixed = AddressSet.parse(["13.92.114.103/32", "2603:1030:210:1::340/122"])
    assert mixed.only(4) == AddressSet.parse("13.92.114.103/32")
    assert mixed.only(6).families == (6,)
    assert mixed.sample() == "13.92.114.103"
    assert mixed.only(6).sample() in mixed
    subnet = AddressSet.parse("10.1.1.0/24")
    assert subnet.sample() == "10.1.1.4"  # first address Azure hands to a VM
    with pytest.raises(ValueError):
        AddressSet().sample()


def test_address_sets_are_hashable_values() -> None:
    assert hash(AddressSet.parse(["10.0.0.0/25", "10.0.0.128/25"])) == hash(AddressSet.parse("10.0.0.0/24"))
    assert {AddressSet.parse("10.0.0.0/24"): 1}[AddressSet.parse("10.0.0.0/24")] == 1


# --- ports ------------------------------------------------------------------------------------


def test_port_spellings() -> None:
    assert PortSet.parse("*") == PortSet.all() == PortSet.parse("0-65535")
    assert PortSet.parse("80").to_strings() == ["80"]
    assert PortSet.parse(["100-200", "150-300", "443"]).to_strings() == ["100-300", "443"]
    assert PortSet.parse("29876,29877").to_strings() == ["29876-29877"]
    assert PortSet.parse(" 22 ").to_strings() == ["22"]
    assert 65535 in PortSet.all() and 0 in PortSet.all()


@pytest.mark.parametrize("text", ["65536", "200-100", "http", "-1", "1-", "", "80;443", "²"])
def test_bad_ports_are_rejected(text: str) -> None:
    with pytest.raises(ParseError):
        PortSet.parse(text)


def test_port_algebra() -> None:
    web = PortSet.parse(["80", "443"])
    assert web <= PortSet.all()
    assert (PortSet.all() - web).size() == 65536 - 2
    assert (web & PortSet.parse("400-500")).to_strings() == ["443"]
    assert PortSet.all().sample(preferred=1024) == 1024
    assert web.sample(preferred=1024) == 80


# --- protocols ----------------------------------------------------------------------------------


def test_protocol_spellings() -> None:
    assert ProtocolSet.parse("*") == ProtocolSet.parse("All") == ProtocolSet.parse("any") == ProtocolSet.all()
    assert ProtocolSet.parse("TCP").names() == ["Tcp"]
    assert ProtocolSet.parse(["udp", "Icmp"]).names() == ["Udp", "Icmp"]
    assert ProtocolSet.all().names() == ["Tcp", "Udp", "Icmp", "Esp", "Ah"]
    assert "Esp" in ProtocolSet.all() and "Tcp" not in ProtocolSet.parse("Udp")
    with pytest.raises(ParseError):
        ProtocolSet.parse("Gre")


def test_protocol_algebra() -> None:
    tcp_udp = ProtocolSet.parse(["Tcp", "Udp"])
    assert ProtocolSet.parse("Tcp") <= tcp_udp
    assert (ProtocolSet.all() - tcp_udp).names() == ["Icmp", "Esp", "Ah"]
    assert str(tcp_udp) == "TCP/UDP" and str(ProtocolSet.all()) == "any protocol"


def test_internet_addresses_next_to_a_vnet() -> None:
    from amlaudit.auditor.netpolicy import AZURE_LOAD_BALANCER, internet_addresses

    vnet = AddressSet.parse(["10.1.0.0/16", "fd00:1::/64"])
    internet = internet_addresses(vnet)
    assert not internet.overlaps(vnet) and not internet.overlaps(AZURE_LOAD_BALANCER)
    assert internet | vnet | AZURE_LOAD_BALANCER == AddressSet.everything()
    assert "2603:1030::1" in internet and "192.168.0.1" in internet
