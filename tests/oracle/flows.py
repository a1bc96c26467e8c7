"""Flow classes, packets and per-NSG decisions as the oracle sees them.

Packet model: one IP header, so a packet's source and destination share a
family; every packet has a source and destination port (0-65535) whatever
its protocol, and rules match all five fields. A flow class is a box: every
combination of its protocols, source prefixes, source ports, destination
prefixes and destination ports (of one family at a time).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from .arm_rules import (
    PORT_MAX,
    PORT_MIN,
    PROTOCOLS,
    Access,
    Direction,
    IPNetwork,
    OracleInputError,
    ParsedNsg,
    PortRange,
    parse_network,
)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

__all__ = ["PROTOCOLS", "FlowBox", "FlowClass", "LevelDecision", "Packet", "levels_for"]


def _networks(prefixes: Iterable[str | IPNetwork]) -> tuple[IPNetwork, ...]:
    return tuple(prefix if not isinstance(prefix, str) else parse_network(prefix) for prefix in prefixes)


def _ports(ranges: Iterable[PortRange | int]) -> tuple[PortRange, ...]:
    result: list[PortRange] = []
    for entry in ranges:
        low, high = (entry, entry) if isinstance(entry, int) else entry
        if not (PORT_MIN <= low <= high <= PORT_MAX):
            raise OracleInputError(f"bad port range {entry!r}")
        result.append((low, high))
    return tuple(result)


def _protocols(protocols: Iterable[str]) -> frozenset[str]:
    chosen = frozenset(protocols)
    unknown = chosen - set(PROTOCOLS)
    if unknown:
        raise OracleInputError(f"unknown protocols {sorted(unknown)} (use {PROTOCOLS})")
    return chosen


@dataclass(frozen=True)
class FlowBox:
    """A box of packets without a direction (the shape of an allowed/denied part)."""

    protocols: frozenset[str]
    source_prefixes: tuple[IPNetwork, ...]
    source_ports: tuple[PortRange, ...]
    destination_prefixes: tuple[IPNetwork, ...]
    destination_ports: tuple[PortRange, ...]

    @staticmethod
    def of(
        protocols: Iterable[str],
        source_prefixes: Iterable[str | IPNetwork],
        source_ports: Iterable[PortRange | int],
        destination_prefixes: Iterable[str | IPNetwork],
        destination_ports: Iterable[PortRange | int],
    ) -> FlowBox:
        return FlowBox(
            _protocols(protocols),
            _networks(source_prefixes),
            _ports(source_ports),
            _networks(destination_prefixes),
            _ports(destination_ports),
        )

    def contains(self, packet: Packet) -> bool:
        return (
            packet.protocol in self.protocols
            and any(packet.source_ip in network for network in self.source_prefixes if network.version == packet.family)
            and any(low <= packet.source_port <= high for low, high in self.source_ports)
            and any(
                packet.destination_ip in network
                for network in self.destination_prefixes
                if network.version == packet.family
            )
            and any(low <= packet.destination_port <= high for low, high in self.destination_ports)
        )


@dataclass(frozen=True)
class FlowClass:
    """A question's packets: a direction and a box."""

    direction: Direction
    box: FlowBox

    @staticmethod
    def of(
        direction: Direction,
        protocols: Iterable[str],
        source_prefixes: Iterable[str | IPNetwork],
        source_ports: Iterable[PortRange | int],
        destination_prefixes: Iterable[str | IPNetwork],
        destination_ports: Iterable[PortRange | int],
    ) -> FlowClass:
        if direction not in ("Inbound", "Outbound"):
            raise OracleInputError(f"unknown direction {direction!r}")
        return FlowClass(
            direction, FlowBox.of(protocols, source_prefixes, source_ports, destination_prefixes, destination_ports)
        )

    @property
    def protocols(self) -> frozenset[str]:
        return self.box.protocols

    @property
    def source_prefixes(self) -> tuple[IPNetwork, ...]:
        return self.box.source_prefixes

    @property
    def source_ports(self) -> tuple[PortRange, ...]:
        return self.box.source_ports

    @property
    def destination_prefixes(self) -> tuple[IPNetwork, ...]:
        return self.box.destination_prefixes

    @property
    def destination_ports(self) -> tuple[PortRange, ...]:
        return self.box.destination_ports

    def families(self) -> tuple[int, ...]:
        """Families with at least one packet (source and destination of that family both present)."""
        return tuple(
            family
            for family in (4, 6)
            if any(n.version == family for n in self.source_prefixes)
            and any(n.version == family for n in self.destination_prefixes)
        )

    def contains(self, packet: Packet) -> bool:
        return self.box.contains(packet)


@dataclass(frozen=True)
class Packet:
    protocol: str
    source_ip: IPAddress
    source_port: int
    destination_ip: IPAddress
    destination_port: int

    def __post_init__(self) -> None:
        if self.source_ip.version != self.destination_ip.version:
            raise OracleInputError("a packet's source and destination share one IP family")

    @property
    def family(self) -> int:
        return self.source_ip.version

    def __str__(self) -> str:
        return f"{self.protocol} {self.source_ip}:{self.source_port} -> {self.destination_ip}:{self.destination_port}"


@dataclass(frozen=True)
class LevelDecision:
    """What one NSG level did with one packet; ``rule_name`` is None when the level has no NSG."""

    nsg_name: str | None
    access: Access
    rule_name: str | None
    priority: int | None


def levels_for(direction: Direction, subnet_nsg: ParsedNsg | None, nic_nsg: ParsedNsg | None) -> tuple[ParsedNsg | None, ...]:
    """Evaluation order: inbound through the subnet NSG then the NIC NSG; outbound the reverse."""
    return (subnet_nsg, nic_nsg) if direction == "Inbound" else (nic_nsg, subnet_nsg)
