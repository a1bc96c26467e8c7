"""IPv4 and IPv6 address sets.

Each family is its own :mod:`intervals` set over its own integer range, so an
IPv4 prefix can never match an IPv6 address (``0.0.0.0/0`` is not ``::/0``).
Parsing uses ``socket.inet_pton`` (strict, implemented in C, several times
faster than ``ipaddress.ip_network`` on the ~96,000 prefixes of a full
service-tag file).
"""

from __future__ import annotations

import socket
from collections.abc import Iterable
from functools import lru_cache
from typing import Literal

from . import intervals
from .errors import ParseError
from .intervals import IntervalSet

Family = Literal[4, 6]

V4_END = 1 << 32
V6_END = 1 << 128
_FAMILY_BITS = {4: 32, 6: 128}
_FAMILY_END = {4: V4_END, 6: V6_END}


def parse_address(text: str) -> tuple[Family, int]:
    """``"10.0.0.4"`` -> ``(4, 167772164)``; ``"2001:db8::1"`` -> ``(6, ...)``."""
    candidate = text.strip()
    try:
        if ":" in candidate:
            return 6, int.from_bytes(socket.inet_pton(socket.AF_INET6, candidate), "big")
        return 4, int.from_bytes(socket.inet_pton(socket.AF_INET, candidate), "big")
    except OSError:
        raise ParseError(f"not an IP address: {text!r}") from None


def format_address(family: Family, value: int) -> str:
    """The usual text form of an address (IPv6 compressed)."""
    if family == 4:
        return socket.inet_ntop(socket.AF_INET, value.to_bytes(4, "big"))
    return socket.inet_ntop(socket.AF_INET6, value.to_bytes(16, "big"))


@lru_cache(maxsize=262144)
def parse_block(text: str) -> tuple[Family, int, int]:
    """One CIDR, bare IP or ``first-last`` range as ``(family, lo, hi)``, hi exclusive.

    Host bits below the prefix length are ignored (``10.0.0.5/24`` is
    ``10.0.0.0/24``), which is how Azure applies such a prefix.
    """
    if not isinstance(text, str):
        raise ParseError(f"not an address text: {text!r}")
    candidate = text.strip()
    if "/" in candidate:
        address_text, _, length_text = candidate.partition("/")
        family, value = parse_address(address_text)
        bits = _FAMILY_BITS[family]
        if not (length_text.isascii() and length_text.isdigit()) or int(length_text) > bits:
            raise ParseError(f"bad prefix length in {text!r}")
        host_bits = bits - int(length_text)
        lo = (value >> host_bits) << host_bits
        return family, lo, lo + (1 << host_bits)
    if "-" in candidate:
        first_text, _, last_text = candidate.partition("-")
        first_family, first = parse_address(first_text)
        last_family, last = parse_address(last_text)
        if first_family != last_family or first > last:
            raise ParseError(f"bad address range {text!r}")
        return first_family, first, last + 1
    family, value = parse_address(candidate)
    return family, value, value + 1


def _cidr_blocks(lo: int, hi: int, bits: int) -> Iterable[tuple[int, int]]:
    """Minimal aligned power-of-two blocks covering ``[lo, hi)`` as (start, prefixlen)."""
    while lo < hi:
        block = (lo & -lo) if lo else 1 << bits
        while block > hi - lo:
            block >>= 1
        yield lo, bits - (block.bit_length() - 1)
        lo += block


class AddressSet:
    """An immutable set of IPv4 and IPv6 addresses.

    ``v4`` and ``v6`` are :mod:`intervals` sets (flat half-open boundaries).
    Supports ``|``, ``&``, ``-``, ``<=``, ``in`` (address text), ``==``,
    ``hash`` and ``bool`` (non-empty).
    """

    __slots__ = ("v4", "v6", "_hash")

    v4: IntervalSet
    v6: IntervalSet

    def __init__(self, v4: IntervalSet = (), v6: IntervalSet = ()) -> None:
        self.v4 = v4
        self.v6 = v6
        self._hash: int | None = None  # sets key caches (compiled NSGs per VirtualNetwork): hash once

    # construction -------------------------------------------------------

    @classmethod
    def parse(cls, items: str | Iterable[str]) -> AddressSet:
        """CIDRs, bare IPs and ``first-last`` ranges, either family; raises ParseError."""
        if isinstance(items, str):
            family, lo, hi = parse_block(items)
            return cls((lo, hi), ()) if family == 4 else cls((), (lo, hi))
        v4_pairs: list[tuple[int, int]] = []
        v6_pairs: list[tuple[int, int]] = []
        for item in items:
            family, lo, hi = parse_block(item)
            (v4_pairs if family == 4 else v6_pairs).append((lo, hi))
        return cls(intervals.from_pairs(v4_pairs), intervals.from_pairs(v6_pairs))

    @classmethod
    def empty(cls) -> AddressSet:
        return cls()

    @classmethod
    def everything(cls) -> AddressSet:
        """Every IPv4 and every IPv6 address."""
        return cls((0, V4_END), (0, V6_END))

    # set algebra --------------------------------------------------------

    def union(self, other: AddressSet) -> AddressSet:
        return AddressSet(intervals.union(self.v4, other.v4), intervals.union(self.v6, other.v6))

    def intersection(self, other: AddressSet) -> AddressSet:
        return AddressSet(
            intervals.intersect(self.v4, other.v4), intervals.intersect(self.v6, other.v6)
        )

    def difference(self, other: AddressSet) -> AddressSet:
        return AddressSet(
            intervals.difference(self.v4, other.v4, V4_END),
            intervals.difference(self.v6, other.v6, V6_END),
        )

    def complement(self) -> AddressSet:
        """Every address of both families not in this set."""
        return AddressSet(
            intervals.complement(self.v4, V4_END), intervals.complement(self.v6, V6_END)
        )

    def issubset(self, other: AddressSet) -> bool:
        return intervals.is_subset(self.v4, other.v4) and intervals.is_subset(self.v6, other.v6)

    def overlaps(self, other: AddressSet) -> bool:
        return intervals.overlaps(self.v4, other.v4) or intervals.overlaps(self.v6, other.v6)

    __or__ = union
    __and__ = intersection
    __sub__ = difference
    __le__ = issubset

    def is_empty(self) -> bool:
        return not self.v4 and not self.v6

    def __bool__(self) -> bool:
        return bool(self.v4) or bool(self.v6)

    def __contains__(self, address: str) -> bool:
        family, value = parse_address(address)
        return intervals.contains(self.v4 if family == 4 else self.v6, value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AddressSet):
            return NotImplemented
        return self.v4 == other.v4 and self.v6 == other.v6

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash((self.v4, self.v6))
        return self._hash

    # families -----------------------------------------------------------

    @property
    def families(self) -> tuple[Family, ...]:
        """The families with at least one address, e.g. ``(4,)``."""
        present: list[Family] = []
        if self.v4:
            present.append(4)
        if self.v6:
            present.append(6)
        return tuple(present)

    def only(self, family: Family) -> AddressSet:
        """The addresses of one family (a subnet with IPv4 only is judged on IPv4)."""
        if family == 4:
            return AddressSet(self.v4, ())
        if family == 6:
            return AddressSet((), self.v6)
        raise ValueError(f"family must be 4 or 6, not {family!r}")

    def family_set(self, family: Family) -> IntervalSet:
        """The raw interval set of one family."""
        return self.v4 if family == 4 else self.v6

    # measuring and rendering ----------------------------------------------

    def size(self) -> int:
        """Number of addresses (both families)."""
        return intervals.size(self.v4) + intervals.size(self.v6)

    def size_of(self, family: Family) -> int:
        return intervals.size(self.family_set(family))

    def sample(self) -> str:
        """One member as text (IPv4 first); raises ValueError when empty."""
        for family in (4, 6):
            chosen = sample_value(self.family_set(family))
            if chosen is not None:
                return format_address(family, chosen)
        raise ValueError("empty address set has no member")

    def to_cidrs(self) -> list[str]:
        """The minimal list of CIDRs covering exactly this set (IPv4 first)."""
        out: list[str] = []
        for family in (4, 6):
            bits = _FAMILY_BITS[family]
            for lo, hi in intervals.pairs(self.family_set(family)):
                for start, length in _cidr_blocks(lo, hi, bits):
                    out.append(f"{format_address(family, start)}/{length}")
        return out

    def cidr_count(self) -> int:
        """``len(self.to_cidrs())`` without rendering."""
        count = 0
        for family in (4, 6):
            bits = _FAMILY_BITS[family]
            for lo, hi in intervals.pairs(self.family_set(family)):
                count += sum(1 for _ in _cidr_blocks(lo, hi, bits))
        return count

    def __repr__(self) -> str:
        cidrs = self.to_cidrs()
        shown = ", ".join(cidrs[:6]) + (f", ... ({len(cidrs)} CIDRs)" if len(cidrs) > 6 else "")
        return f"AddressSet([{shown}])"


def sample_value(interval_set: IntervalSet) -> int | None:
    """A representative member of an address interval set, or None when empty.

    Azure reserves the first four addresses of every subnet, so in a block of
    eight or more the fifth address (``x.x.x.4`` of a subnet) is the first one
    a VM can hold; in smaller blocks skip only the network address.
    """
    if not interval_set:
        return None
    lo, hi = interval_set[0], interval_set[1]
    if hi - lo >= 8:
        return lo + 4
    if hi - lo >= 4:
        return lo + 1
    return lo


def family_end(family: Family) -> int:
    return _FAMILY_END[family]
