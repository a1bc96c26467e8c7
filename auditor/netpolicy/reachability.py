"""Globally reachable addresses, exactly as Python's ``ipaddress`` ``is_global`` says.

The catalog's *public clients* are "globally reachable addresses (the IANA special-purpose
registries' 'globally reachable' column, which Python's ``ipaddress`` ``is_global``
follows)": RFC 1918, 100.64.0.0/10 (shared address space), the documentation ranges,
loopback, link-local, ``fc00::/7`` and the other special ranges are not.

``is_global`` answers for one address; flow questions need the whole set. The set is built
once, from the standard library itself rather than from a copied table, so it cannot drift
from the ``is_global`` of the Python that runs it:

1. every network the stdlib's ``_IPv4Constants`` / ``_IPv6Constants`` name (private,
   shared, reserved, link-local, ... whatever a given Python version lists) gives candidate
   boundaries; for IPv6 the IPv4 boundaries are added again inside ``::ffff:0:0/96``, since
   an IPv4-mapped address is judged by the IPv4 address it carries;
2. between two neighbouring boundaries ``is_global`` cannot change, so it is asked of the
   first and the last address of each such stretch (they must agree: if they did not, a
   boundary would be missing and the module refuses to load rather than guess) and the
   stretch is kept when the answer is "not global".

``tests/netpolicy/test_reachability.py`` checks the result against ``is_global`` on every
boundary, one address either side of it, and random addresses.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache

from . import intervals
from .addresses import V4_END, V6_END, AddressSet
from .intervals import IntervalSet

_IPV4_MAPPED = 0xFFFF << 32  # ::ffff:0:0/96


def _named_networks(constants: type) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """Every network an ``ipaddress`` constants class names, in any attribute (one or a list)."""
    found: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    for name in dir(constants):
        value = getattr(constants, name)
        for item in value if isinstance(value, (list, tuple)) else (value,):
            if isinstance(item, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
                found.append(item)
    return found


def _boundaries(networks: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network], offset: int = 0) -> set[int]:
    points: set[int] = set()
    for network in networks:
        points.add(offset + int(network.network_address))
        points.add(offset + int(network.broadcast_address) + 1)
    return points


def _not_global(version: int) -> IntervalSet:
    v4_networks = _named_networks(ipaddress.IPv4Address._constants)  # type: ignore[attr-defined]
    if version == 4:
        end, make = V4_END, ipaddress.IPv4Address
        points = _boundaries(v4_networks)
    else:
        end, make = V6_END, ipaddress.IPv6Address
        points = _boundaries(_named_networks(ipaddress.IPv6Address._constants))  # type: ignore[attr-defined]
        points |= _boundaries(v4_networks, _IPV4_MAPPED) | {_IPV4_MAPPED, _IPV4_MAPPED + V4_END}
    ordered = sorted(point for point in points | {0, end} if 0 <= point <= end)
    pairs: list[tuple[int, int]] = []
    for lo, hi in zip(ordered, ordered[1:]):
        first, last = make(lo).is_global, make(hi - 1).is_global
        if first != last:
            raise RuntimeError(f"ipaddress.is_global changes inside {make(lo)}-{make(hi - 1)}, at a boundary its "
                               "tables do not name; the globally reachable set cannot be derived")
        if not first:
            pairs.append((lo, hi))
    return intervals.from_pairs(pairs)


@lru_cache(maxsize=1)
def not_globally_reachable() -> AddressSet:
    """Every address (IPv4 and IPv6) for which ``ipaddress`` says ``is_global`` is False."""
    return AddressSet(_not_global(4), _not_global(6))


@lru_cache(maxsize=1)
def globally_reachable() -> AddressSet:
    """Every address for which ``ipaddress`` says ``is_global`` is True."""
    return not_globally_reachable().complement()
