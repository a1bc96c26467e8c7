"""Port sets (0-65535) as NSG rules write them."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from . import intervals
from .errors import ParseError
from .intervals import IntervalSet

PORT_END = 65536
ALL_PORTS: IntervalSet = (0, PORT_END)


@lru_cache(maxsize=65536)
def parse_port_item(text: str) -> IntervalSet:
    """One ``"*"``, ``"80"`` or ``"100-200"`` as an interval set; raises ParseError."""
    item = text.strip()
    if item == "*":
        return ALL_PORTS
    first_text, dash, last_text = item.partition("-")
    if not dash:
        last_text = first_text
    first_text, last_text = first_text.strip(), last_text.strip()
    if not (first_text.isascii() and first_text.isdigit() and last_text.isascii() and last_text.isdigit()):
        raise ParseError(f"not a port or port range: {text!r}")
    first, last = int(first_text), int(last_text)
    if first > last or last >= PORT_END:
        raise ParseError(f"port range out of order or above 65535: {text!r}")
    return (first, last + 1)


class PortSet:
    """An immutable set of ports 0-65535.

    Parses ``"*"``, ``"80"``, ``"100-200"``, the effective-rules style
    ``"0-65535"``, comma lists and lists of those.
    """

    __slots__ = ("ranges",)

    ranges: IntervalSet

    def __init__(self, ranges: IntervalSet = ()) -> None:
        self.ranges = ranges

    @classmethod
    def parse(cls, items: str | Iterable[str]) -> PortSet:
        if isinstance(items, str):
            items = items.split(",")
        parsed = [parse_port_item(item) for item in items]
        if not parsed:
            raise ParseError("no port given")
        return cls(intervals.union_all(parsed))

    @classmethod
    def all(cls) -> PortSet:
        return cls(ALL_PORTS)

    @classmethod
    def of(cls, *ports: int) -> PortSet:
        return cls(intervals.from_pairs((port, port + 1) for port in ports))

    def union(self, other: PortSet) -> PortSet:
        return PortSet(intervals.union(self.ranges, other.ranges))

    def intersection(self, other: PortSet) -> PortSet:
        return PortSet(intervals.intersect(self.ranges, other.ranges))

    def difference(self, other: PortSet) -> PortSet:
        return PortSet(intervals.difference(self.ranges, other.ranges, PORT_END))

    def issubset(self, other: PortSet) -> bool:
        return intervals.is_subset(self.ranges, other.ranges)

    __or__ = union
    __and__ = intersection
    __sub__ = difference
    __le__ = issubset

    def is_empty(self) -> bool:
        return not self.ranges

    def is_all(self) -> bool:
        return self.ranges == ALL_PORTS

    def __bool__(self) -> bool:
        return bool(self.ranges)

    def __contains__(self, port: int) -> bool:
        return intervals.contains(self.ranges, port)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PortSet):
            return NotImplemented
        return self.ranges == other.ranges

    def __hash__(self) -> int:
        return hash(self.ranges)

    def size(self) -> int:
        return intervals.size(self.ranges)

    def sample(self, preferred: int | None = None) -> int:
        """``preferred`` when it is a member, else the lowest member."""
        if not self.ranges:
            raise ValueError("empty port set has no member")
        if preferred is not None and preferred in self:
            return preferred
        return self.ranges[0]

    def to_strings(self) -> list[str]:
        """``["80", "100-200"]``; all ports render as ``["0-65535"]``."""
        out: list[str] = []
        for lo, hi in intervals.pairs(self.ranges):
            out.append(str(lo) if hi - lo == 1 else f"{lo}-{hi - 1}")
        return out

    def __str__(self) -> str:
        return ",".join(self.to_strings()) or "(no ports)"

    def __repr__(self) -> str:
        return f"PortSet({str(self)!r})"
