"""Protocol sets as NSG rules write them: ``Tcp``, ``Udp``, ``Icmp``, ``Esp``, ``Ah``, ``*``."""

from __future__ import annotations

from collections.abc import Iterable

from .errors import ParseError

PROTOCOL_NAMES: tuple[str, ...] = ("Tcp", "Udp", "Icmp", "Esp", "Ah")
"""Every protocol an NSG rule can name; ``*`` means all of them."""

_PROTOCOL_BIT = {name.lower(): 1 << index for index, name in enumerate(PROTOCOL_NAMES)}
ALL_PROTOCOLS_MASK = (1 << len(PROTOCOL_NAMES)) - 1
_EVERY_PROTOCOL_SPELLINGS = frozenset({"*", "all", "any"})


def parse_protocol_mask(text: str) -> int:
    """``"Tcp"`` -> bit mask; ``"*"``, ``"All"``, ``"Any"`` (any case) -> all protocols."""
    key = text.strip().lower()
    if key in _EVERY_PROTOCOL_SPELLINGS:
        return ALL_PROTOCOLS_MASK
    try:
        return _PROTOCOL_BIT[key]
    except KeyError:
        raise ParseError(f"unknown protocol {text!r}") from None


class ProtocolSet:
    """An immutable set of protocols among ``Tcp, Udp, Icmp, Esp, Ah``."""

    __slots__ = ("mask",)

    mask: int

    def __init__(self, mask: int = 0) -> None:
        self.mask = mask & ALL_PROTOCOLS_MASK

    @classmethod
    def parse(cls, items: str | Iterable[str]) -> ProtocolSet:
        if isinstance(items, str):
            items = items.split(",")
        mask = 0
        for item in items:
            mask |= parse_protocol_mask(item)
        return cls(mask)

    @classmethod
    def all(cls) -> ProtocolSet:
        return cls(ALL_PROTOCOLS_MASK)

    def union(self, other: ProtocolSet) -> ProtocolSet:
        return ProtocolSet(self.mask | other.mask)

    def intersection(self, other: ProtocolSet) -> ProtocolSet:
        return ProtocolSet(self.mask & other.mask)

    def difference(self, other: ProtocolSet) -> ProtocolSet:
        return ProtocolSet(self.mask & ~other.mask)

    def issubset(self, other: ProtocolSet) -> bool:
        return self.mask & ~other.mask == 0

    __or__ = union
    __and__ = intersection
    __sub__ = difference
    __le__ = issubset

    def is_empty(self) -> bool:
        return self.mask == 0

    def is_all(self) -> bool:
        return self.mask == ALL_PROTOCOLS_MASK

    def __bool__(self) -> bool:
        return self.mask != 0

    def __contains__(self, protocol: str) -> bool:
        """Membership of one named protocol (``"Tcp"``, any case)."""
        bit = _PROTOCOL_BIT.get(protocol.strip().lower())
        if bit is None:
            raise ParseError(f"not a single protocol: {protocol!r}")
        return bool(self.mask & bit)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ProtocolSet):
            return NotImplemented
        return self.mask == other.mask

    def __hash__(self) -> int:
        return hash(self.mask)

    def names(self) -> list[str]:
        """Members in canonical order and spelling, e.g. ``["Tcp", "Udp"]``."""
        return [name for index, name in enumerate(PROTOCOL_NAMES) if self.mask >> index & 1]

    def sample(self) -> str:
        names = self.names()
        if not names:
            raise ValueError("empty protocol set has no member")
        return names[0]

    def __str__(self) -> str:
        if self.is_all():
            return "any protocol"
        return "/".join(name.upper() for name in self.names()) or "(no protocol)"

    def __repr__(self) -> str:
        return f"ProtocolSet({self.names()!r})"
