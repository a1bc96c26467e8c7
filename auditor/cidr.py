"""CIDR and IP-address arithmetic the configuration checks share.

Built on the standard library's :mod:`ipaddress`: the checks here compare a
handful of prefixes per subject, so its speed is ample (the flow engine, which
parses whole service-tag files, has its own faster parser in
:mod:`amlaudit.auditor.netpolicy.addresses`).

Every parser raises :class:`CidrError` with a message naming the value, so a
check can report `error` ("cannot verify: ...") instead of guessing.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Azure keeps five addresses of every subnet: the network address, .1 (default gateway),
# .2 and .3 (Azure DNS) and the broadcast address.
AZURE_RESERVED_ADDRESSES_PER_SUBNET = 5


class CidrError(ValueError):
    """A value that is not the CIDR or IP address it should be; the message names it."""


def parse_cidr(value: object, what: str = "CIDR") -> IPNetwork:
    """A prefix such as ``"10.0.0.0/16"``; host bits are dropped (``"172.17.0.1/16"`` is 172.17.0.0/16).

    Non-strict because Azure takes the docker bridge as an address with its prefix length
    (the document's own example is ``172.17.0.1/16``); the network it occupies is the prefix.
    A bare address is its own /32 (or /128).
    """
    if not isinstance(value, str) or not value.strip():
        raise CidrError(f"{what} {value!r} is not a CIDR")
    try:
        return _network(value.strip())
    except ValueError:
        raise CidrError(f"{what} {value!r} is not a CIDR") from None


# The same subnet prefixes are compared with every AKS cluster in their VNet, so each is
# parsed once (measured: 0.34 us per cached call against 6.9 us for `ip_network`).
@lru_cache(maxsize=65536)
def _network(text: str) -> IPNetwork:
    return ipaddress.ip_network(text, strict=False)


def parse_ip(value: object, what: str = "IP address") -> IPAddress:
    if not isinstance(value, str) or not value.strip():
        raise CidrError(f"{what} {value!r} is not an IP address")
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        raise CidrError(f"{what} {value!r} is not an IP address") from None


def overlaps(a: IPNetwork, b: IPNetwork) -> bool:
    """True when the two prefixes share an address; an IPv4 and an IPv6 prefix never do."""
    # Integer bounds: half the time of `IPv4Network.overlaps` (1.1 us against 2.0 us), and it runs
    # once per subnet prefix per cluster.
    return (a.version == b.version
            and int(a.network_address) <= int(b.broadcast_address)
            and int(b.network_address) <= int(a.broadcast_address))


@dataclass(frozen=True, slots=True)
class ParsedPrefixes:
    """The prefixes of one resource, split into those that parsed and those that did not."""

    networks: list[IPNetwork]
    malformed: list[str]

    @property
    def ipv4(self) -> list[ipaddress.IPv4Network]:
        return [n for n in self.networks if isinstance(n, ipaddress.IPv4Network)]


def parse_prefixes(values: Iterable[object]) -> ParsedPrefixes:
    networks: list[IPNetwork] = []
    malformed: list[str] = []
    for value in values:
        try:
            networks.append(parse_cidr(value))
        except CidrError:
            malformed.append(str(value))
    return ParsedPrefixes(networks, malformed)


def azure_usable_address_count(prefix: ipaddress.IPv4Network) -> int:
    """Addresses Azure can hand out in a subnet prefix: its size less the five it reserves.

    Never negative: Azure refuses subnets smaller than /29, so a smaller prefix can hold nothing.
    """
    return max(0, prefix.num_addresses - AZURE_RESERVED_ADDRESSES_PER_SUBNET)
