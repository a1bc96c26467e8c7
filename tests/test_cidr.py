import ipaddress

import netaddr
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amlaudit.auditor.cidr import CidrError, azure_usable_address_count, overlaps, parse_cidr, parse_ip, parse_prefixes


def test_host_bits_are_dropped() -> None:
    assert str(parse_cidr("172.17.0.1/16")) == "172.17.0.0/16"
    assert str(parse_cidr(" 10.0.0.4 ")) == "10.0.0.4/32"


@pytest.mark.parametrize("value", [None, "", "10.0.0.0/33", "10.0.0.256/24", "abc", 167772160, "10.0.0.0/"])
def test_malformed_cidr_raises_naming_the_value(value: object) -> None:
    with pytest.raises(CidrError) as info:
        parse_cidr(value, "serviceCidr")
    assert "serviceCidr" in str(info.value) and repr(value) in str(info.value)


def test_malformed_ip_raises() -> None:
    with pytest.raises(CidrError):
        parse_ip("10.0.0.1/32")


def test_families_never_overlap() -> None:
    assert not overlaps(parse_cidr("0.0.0.0/0"), parse_cidr("::/0"))
    assert not overlaps(parse_cidr("::ffff:10.0.0.0/104"), parse_cidr("10.0.0.0/8"))


def test_parse_prefixes_splits_good_and_bad() -> None:
    parsed = parse_prefixes(["10.0.0.0/24", "fd00::/64", "bogus"])
    assert [str(n) for n in parsed.ipv4] == ["10.0.0.0/24"]
    assert parsed.malformed == ["bogus"]


@pytest.mark.parametrize(("prefix", "usable"), [("10.0.0.0/24", 251), ("10.0.0.0/29", 3), ("10.0.0.0/30", 0), ("10.0.0.0/16", 65531)])
def test_azure_usable_address_count(prefix: str, usable: int) -> None:
    assert azure_usable_address_count(ipaddress.IPv4Network(prefix)) == usable


_ipv4_cidr = st.builds(lambda a, n: f"{ipaddress.IPv4Address(a)}/{n}", st.integers(0, 2**32 - 1), st.integers(0, 32))


@settings(max_examples=300, deadline=None)
@given(_ipv4_cidr, _ipv4_cidr)
def test_overlap_agrees_with_netaddr(a: str, b: str) -> None:
    expected = bool(netaddr.IPSet([netaddr.IPNetwork(a).cidr]) & netaddr.IPSet([netaddr.IPNetwork(b).cidr]))
    assert overlaps(parse_cidr(a), parse_cidr(b)) is expected
