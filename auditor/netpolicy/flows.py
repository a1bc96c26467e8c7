"""Packets, flow classes and flow regions (unions of boxes).

A *box* is the product of one address family, a protocol set, a destination
port set, a source port set, a destination address set and a source address
set. It is stored as the plain tuple ``(family_index, protocol_mask,
dst_ports, src_ports, dst_addresses, src_addresses)`` (family_index 0 = IPv4,
1 = IPv6; the last four are :mod:`intervals` sets) because the evaluator
builds and takes apart thousands of them per question. Source and
destination of a box are always of the same family: there is no packet from
an IPv4 address to an IPv6 one. A :class:`FlowRegion` is a union of disjoint
boxes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

from . import intervals
from .addresses import AddressSet, Family, format_address, parse_address, parse_block, sample_value
from .intervals import IntervalSet
from .ports import PortSet
from .protocols import PROTOCOL_NAMES, ProtocolSet, parse_protocol_mask
from .tags import ResolvedTag

Box = tuple[int, int, IntervalSet, IntervalSet, IntervalSet, IntervalSet]

FAMILIES: tuple[Family, Family] = (4, 6)
"""``FAMILIES[family_index]``."""

_SOURCE_PORT_PREFERENCE = 1024
"""Witness packets use source port 1024 when the flow allows it: it reads as
an ordinary client port, where the lowest member (0) would look like a bug."""


class Direction(str, Enum):
    INBOUND = "Inbound"
    OUTBOUND = "Outbound"

    @classmethod
    def parse(cls, value: str | Direction) -> Direction:
        if isinstance(value, Direction):
            return value
        for member in cls:
            if member.value.lower() == str(value).strip().lower():
                return member
        raise ValueError(f"direction must be Inbound or Outbound, not {value!r}")


@dataclass(frozen=True)
class Packet:
    """One concrete packet (a witness, or a single-packet question)."""

    protocol: str
    src_ip: str
    src_port: int
    dst_ip: str
    dst_port: int

    def __str__(self) -> str:
        return (
            f"{self.protocol.upper()} {_endpoint_text(self.src_ip, self.src_port)}"
            f" -> {_endpoint_text(self.dst_ip, self.dst_port)}"
        )

    def to_json(self) -> dict[str, object]:
        return {
            "protocol": self.protocol,
            "src_ip": self.src_ip,
            "src_port": self.src_port,
            "dst_ip": self.dst_ip,
            "dst_port": self.dst_port,
        }


def _endpoint_text(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


@dataclass(frozen=True)
class Endpoint:
    """One side of a flow class: an address set plus what to call it in evidence.

    ``prefixes`` (optional) are the prefixes the set was built from, so
    evidence can say "17 of 17 IPv4 prefixes of BatchNodeManagement.EastUS".
    """

    addresses: AddressSet
    label: str | None = None
    prefixes: tuple[str, ...] = ()

    @classmethod
    def of_tag(cls, tag: ResolvedTag) -> Endpoint:
        """A resolved service tag, labelled with the entry it came from."""
        return cls(tag.addresses, tag.label, tag.prefixes)

    @classmethod
    def of(cls, value: Endpoint | AddressSet | ResolvedTag | str | Iterable[str], label: str | None = None) -> Endpoint:
        """Accept an Endpoint, an AddressSet, a ResolvedTag, ``"*"`` or prefix text(s)."""
        if isinstance(value, Endpoint):
            return value
        if isinstance(value, ResolvedTag):
            return cls.of_tag(value)
        if isinstance(value, AddressSet):
            return cls(value, label)
        items = [value] if isinstance(value, str) else list(value)
        if len(items) == 1 and items[0].strip().lower() in ("*", "any"):
            return cls(AddressSet.everything(), label or "any address")
        return cls(AddressSet.parse(items), label, tuple(items))

    def only(self, family: Family) -> Endpoint:
        kept = tuple(prefix for prefix in self.prefixes if parse_block(prefix)[0] == family)
        return Endpoint(self.addresses.only(family), self.label, kept)


@dataclass(frozen=True)
class FlowClass:
    """All packets with a protocol in ``protocols``, a source in ``src`` on a
    port in ``src_ports`` and a destination in ``dst`` on a port in ``dst_ports``,
    travelling in ``direction`` (as seen by the NSGs being asked)."""

    direction: Direction
    protocols: ProtocolSet
    src: Endpoint
    src_ports: PortSet
    dst: Endpoint
    dst_ports: PortSet

    @classmethod
    def of(
        cls,
        direction: str | Direction,
        *,
        protocols: str | Iterable[str] | ProtocolSet = "*",
        src: Endpoint | AddressSet | ResolvedTag | str | Iterable[str] = "*",
        src_ports: str | Iterable[str] | PortSet = "*",
        dst: Endpoint | AddressSet | ResolvedTag | str | Iterable[str] = "*",
        dst_ports: str | Iterable[str] | PortSet = "*",
    ) -> FlowClass:
        """Build from text the way an NSG rule writes it, or from ready sets."""
        return cls(
            direction=Direction.parse(direction),
            protocols=protocols if isinstance(protocols, ProtocolSet) else ProtocolSet.parse(protocols),
            src=Endpoint.of(src),
            src_ports=src_ports if isinstance(src_ports, PortSet) else PortSet.parse(src_ports),
            dst=Endpoint.of(dst),
            dst_ports=dst_ports if isinstance(dst_ports, PortSet) else PortSet.parse(dst_ports),
        )

    @classmethod
    def from_packet(cls, direction: str | Direction, packet: Packet) -> FlowClass:
        return cls.of(
            direction,
            protocols=packet.protocol,
            src=packet.src_ip,
            src_ports=str(packet.src_port),
            dst=packet.dst_ip,
            dst_ports=str(packet.dst_port),
        )

    def region(self) -> FlowRegion:
        """The flow as boxes, one per family present on both sides."""
        boxes: list[Box] = []
        if not self.protocols or not self.src_ports or not self.dst_ports:
            return FlowRegion(())
        for family_index, family in enumerate(FAMILIES):
            src = self.src.addresses.family_set(family)
            dst = self.dst.addresses.family_set(family)
            if src and dst:
                boxes.append(
                    (family_index, self.protocols.mask, self.dst_ports.ranges, self.src_ports.ranges, dst, src)
                )
        return FlowRegion(tuple(boxes))


class FlowRegion:
    """A union of disjoint boxes: part of a flow class (e.g. what one rule denied)."""

    __slots__ = ("boxes",)

    boxes: tuple[Box, ...]

    def __init__(self, boxes: tuple[Box, ...]) -> None:
        self.boxes = boxes

    def is_empty(self) -> bool:
        return not self.boxes

    def __bool__(self) -> bool:
        return bool(self.boxes)

    @property
    def protocols(self) -> ProtocolSet:
        mask = 0
        for box in self.boxes:
            mask |= box[1]
        return ProtocolSet(mask)

    @property
    def dst_ports(self) -> PortSet:
        return PortSet(intervals.union_all(box[2] for box in self.boxes))

    @property
    def src_ports(self) -> PortSet:
        return PortSet(intervals.union_all(box[3] for box in self.boxes))

    @property
    def dst(self) -> AddressSet:
        return self._addresses(4)

    @property
    def src(self) -> AddressSet:
        return self._addresses(5)

    def _addresses(self, position: int) -> AddressSet:
        per_family = [
            intervals.union_all(box[position] for box in self.boxes if box[0] == family_index)
            for family_index in (0, 1)
        ]
        return AddressSet(per_family[0], per_family[1])

    def contains(self, packet: Packet) -> bool:
        """Whether this exact packet lies in the region."""
        src_family, src_value = parse_address(packet.src_ip)
        dst_family, dst_value = parse_address(packet.dst_ip)
        if src_family != dst_family:
            return False
        family_index = FAMILIES.index(src_family)
        protocol_bit = parse_protocol_mask(packet.protocol)
        for box in self.boxes:
            if (
                box[0] == family_index
                and box[1] & protocol_bit == protocol_bit
                and intervals.contains(box[2], packet.dst_port)
                and intervals.contains(box[3], packet.src_port)
                and intervals.contains(box[4], dst_value)
                and intervals.contains(box[5], src_value)
            ):
                return True
        return False

    def sample(self) -> Packet:
        """A concrete member packet; raises ValueError when empty."""
        if not self.boxes:
            raise ValueError("empty flow region has no packet")
        return sample_box(self.boxes[0])

    def __repr__(self) -> str:
        return f"FlowRegion({len(self.boxes)} boxes, {self.protocols}, e.g. {self.sample() if self.boxes else '-'})"


def sample_box(box: Box) -> Packet:
    family_index, protocol_mask, dst_ports, src_ports, dst, src = box
    family = FAMILIES[family_index]
    protocol = next(name for index, name in enumerate(PROTOCOL_NAMES) if protocol_mask >> index & 1)
    src_port = (
        _SOURCE_PORT_PREFERENCE if intervals.contains(src_ports, _SOURCE_PORT_PREFERENCE) else src_ports[0]
    )
    src_value = sample_value(src)
    dst_value = sample_value(dst)
    assert src_value is not None and dst_value is not None  # boxes are never empty
    return Packet(
        protocol=protocol,
        src_ip=format_address(family, src_value),
        src_port=src_port,
        dst_ip=format_address(family, dst_value),
        dst_port=dst_ports[0],
    )
