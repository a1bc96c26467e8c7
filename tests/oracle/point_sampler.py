"""One packet at a time, the way Network Watcher's IP flow verify decides.

``PacketVerifier`` walks each level's rules of the packet's direction in
ascending priority and stops at the first rule whose five fields all match,
returning its access and name. ``sample_flow`` asks it about packets of a
flow class: the corners of the boundary grid (the first and last address of
every prefix a rule or the flow names, one beyond each; every port range's
edges and one beyond) and uniformly random packets.

Why the grid is exact when walked completely: along each dimension, every
maximal stretch on which all rule and flow ranges agree begins at the first
value of some range or one past the last value of some range, and those are
candidates. Every packet of the flow therefore shares its verdict with a
packet built from candidates, so checking the whole grid decides the
question; when the grid is too large, a sample of it and random packets
only give one-sided answers (see ``SampleResult``).
"""

from __future__ import annotations

import ipaddress
import itertools
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from .arm_rules import PORT_MAX, PORT_MIN, AddressMatcher, Direction, IPNetwork, OracleRule, ParsedNsg, PortRange
from .flows import FlowClass, LevelDecision, Packet, levels_for

Interval = tuple[int, int]


def _network_interval(network: IPNetwork) -> Interval:
    first = int(network.network_address)
    return (first, first + network.num_addresses - 1)


def _intervals_by_family(networks: Sequence[IPNetwork]) -> dict[int, tuple[Interval, ...]]:
    return {
        family: tuple(_network_interval(network) for network in networks if network.version == family)
        for family in (4, 6)
    }


def _in_intervals(value: int, intervals: Sequence[Interval]) -> bool:
    return any(low <= value <= high for low, high in intervals)


@dataclass(frozen=True)
class _CompiledMatcher:
    """An ``AddressMatcher`` as integer intervals per family (membership without ipaddress objects)."""

    networks: dict[int, tuple[Interval, ...]]
    complements: tuple[dict[int, tuple[Interval, ...]], ...]

    @staticmethod
    def of(matcher: AddressMatcher) -> _CompiledMatcher:
        return _CompiledMatcher(
            _intervals_by_family(matcher.networks),
            tuple(_intervals_by_family(complement) for complement in matcher.complements),
        )

    def contains(self, family: int, address: int) -> bool:
        if _in_intervals(address, self.networks[family]):
            return True
        return any(not _in_intervals(address, complement[family]) for complement in self.complements)


@dataclass(frozen=True)
class _CompiledRule:
    rule: OracleRule
    source: _CompiledMatcher
    destination: _CompiledMatcher

    def matches(self, packet: Packet, source: int, destination: int) -> bool:
        rule = self.rule
        return (
            packet.protocol in rule.protocols
            and _in_intervals(packet.source_port, rule.source_ports)
            and _in_intervals(packet.destination_port, rule.destination_ports)
            and self.source.contains(packet.family, source)
            and self.destination.contains(packet.family, destination)
        )


class PacketVerifier:
    """IP-flow-verify for a path of NSG levels (``None`` = no NSG: allows)."""

    def __init__(self, levels: Sequence[ParsedNsg | None], direction: Direction) -> None:
        self.levels = tuple(levels)
        self.direction = direction
        self._compiled = tuple(
            None
            if nsg is None
            else tuple(
                _CompiledRule(rule, _CompiledMatcher.of(rule.source), _CompiledMatcher.of(rule.destination))
                for rule in nsg.rules_for(direction)
            )
            for nsg in self.levels
        )

    @staticmethod
    def composed(direction: Direction, subnet_nsg: ParsedNsg | None, nic_nsg: ParsedNsg | None) -> PacketVerifier:
        return PacketVerifier(levels_for(direction, subnet_nsg, nic_nsg), direction)

    def decide(self, packet: Packet) -> tuple[LevelDecision, ...]:
        """Each level's decision, in evaluation order (all levels, even after a deny)."""
        source = int(packet.source_ip)
        destination = int(packet.destination_ip)
        decisions: list[LevelDecision] = []
        for nsg, compiled_rules in zip(self.levels, self._compiled):
            if nsg is None or compiled_rules is None:
                decisions.append(LevelDecision(None, "Allow", None, None))
                continue
            for compiled in compiled_rules:
                if compiled.matches(packet, source, destination):
                    decisions.append(LevelDecision(nsg.name, compiled.rule.access, compiled.rule.name, compiled.rule.priority))
                    break
            else:
                # Nothing matched (possible only without Azure's DenyAll defaults): deny.
                decisions.append(LevelDecision(nsg.name, "Deny", None, None))
        return tuple(decisions)

    def allows(self, packet: Packet) -> bool:
        return all(decision.access == "Allow" for decision in self.decide(packet))


def evaluate_packet(nsg: ParsedNsg | None, direction: Direction, packet: Packet) -> LevelDecision:
    """One NSG's decision for one packet (compiles the NSG each call; use ``PacketVerifier`` in loops)."""
    return PacketVerifier((nsg,), direction).decide(packet)[0]


@dataclass(frozen=True)
class SampleResult:
    """What sampling found. The verdicts are three-valued on purpose: a sample
    that found no denied packet proves nothing unless the grid was exhausted.
    """

    exhaustive: bool
    packets_checked: int
    denied_packet: Packet | None
    denied_decisions: tuple[LevelDecision, ...]
    allowed_packet: Packet | None
    allowed_decisions: tuple[LevelDecision, ...]

    @property
    def all_allowed(self) -> bool | None:
        if self.denied_packet is not None:
            return False
        return True if self.exhaustive else None

    @property
    def any_allowed(self) -> bool | None:
        if self.allowed_packet is not None:
            return True
        return False if self.exhaustive else None


def _edges(interval: Interval, domain_max: int) -> tuple[int, ...]:
    low, high = interval
    return tuple(value for value in (low - 1, low, high, high + 1) if 0 <= value <= domain_max)


def _candidates(edges_of: Sequence[Interval], flow_intervals: Sequence[Interval], domain_max: int) -> list[int]:
    values = {value for interval in (*edges_of, *flow_intervals) for value in _edges(interval, domain_max)}
    return sorted(value for value in values if _in_intervals(value, flow_intervals))


def _rule_networks(levels: Sequence[ParsedNsg | None], direction: Direction) -> list[IPNetwork]:
    networks: list[IPNetwork] = []
    for nsg in levels:
        for rule in () if nsg is None else nsg.rules_for(direction):
            networks.extend(rule.source.all_networks())
            networks.extend(rule.destination.all_networks())
    return networks


def _rule_ports(levels: Sequence[ParsedNsg | None], direction: Direction) -> tuple[list[PortRange], list[PortRange]]:
    source_ports: list[PortRange] = []
    destination_ports: list[PortRange] = []
    for nsg in levels:
        for rule in () if nsg is None else nsg.rules_for(direction):
            source_ports.extend(rule.source_ports)
            destination_ports.extend(rule.destination_ports)
    return source_ports, destination_ports


@dataclass(frozen=True)
class _Grid:
    """Candidate values per dimension; addresses per family (a packet has one family)."""

    protocols: tuple[str, ...]
    source_addresses: dict[int, list[int]]
    destination_addresses: dict[int, list[int]]
    source_ports: list[int]
    destination_ports: list[int]

    def size(self) -> int:
        address_pairs = sum(
            len(self.source_addresses[family]) * len(self.destination_addresses[family]) for family in self.source_addresses
        )
        return address_pairs * len(self.source_ports) * len(self.destination_ports) * len(self.protocols)

    def every_packet(self) -> Iterator[Packet]:
        for family in self.source_addresses:
            make = _address_maker(family)
            for protocol, source, source_port, destination, destination_port in itertools.product(
                self.protocols,
                self.source_addresses[family],
                self.source_ports,
                self.destination_addresses[family],
                self.destination_ports,
            ):
                yield Packet(protocol, make(source), source_port, make(destination), destination_port)

    def random_packet(self, rng: random.Random) -> Packet:
        family = rng.choice(sorted(self.source_addresses))
        make = _address_maker(family)
        return Packet(
            rng.choice(self.protocols),
            make(rng.choice(self.source_addresses[family])),
            rng.choice(self.source_ports),
            make(rng.choice(self.destination_addresses[family])),
            rng.choice(self.destination_ports),
        )

    def sweeps(self, rng: random.Random) -> Iterator[Packet]:
        """Every candidate of every dimension at least once, the other fields random candidates."""
        for family in sorted(self.source_addresses):
            make = _address_maker(family)

            def pick() -> tuple[str, int, int, int, int]:
                return (
                    rng.choice(self.protocols),
                    rng.choice(self.source_addresses[family]),
                    rng.choice(self.source_ports),
                    rng.choice(self.destination_addresses[family]),
                    rng.choice(self.destination_ports),
                )

            dimensions: list[tuple[int, Sequence[object]]] = [
                (0, self.protocols),
                (1, self.source_addresses[family]),
                (2, self.source_ports),
                (3, self.destination_addresses[family]),
                (4, self.destination_ports),
            ]
            for position, values in dimensions:
                for value in values:
                    fields = list(pick())
                    fields[position] = value
                    protocol, source, source_port, destination, destination_port = fields
                    yield Packet(str(protocol), make(int(source)), int(source_port), make(int(destination)), int(destination_port))


def _address_maker(family: int) -> type[ipaddress.IPv4Address] | type[ipaddress.IPv6Address]:
    return ipaddress.IPv4Address if family == 4 else ipaddress.IPv6Address


def _grid(flow: FlowClass, levels: Sequence[ParsedNsg | None]) -> _Grid:
    rule_networks = _rule_networks(levels, flow.direction)
    rule_source_ports, rule_destination_ports = _rule_ports(levels, flow.direction)
    source_addresses: dict[int, list[int]] = {}
    destination_addresses: dict[int, list[int]] = {}
    for family in flow.families():
        domain_max = (1 << (32 if family == 4 else 128)) - 1
        boundaries = [_network_interval(network) for network in rule_networks if network.version == family]
        source_flow = [_network_interval(n) for n in flow.source_prefixes if n.version == family]
        destination_flow = [_network_interval(n) for n in flow.destination_prefixes if n.version == family]
        source_addresses[family] = _candidates(boundaries, source_flow, domain_max)
        destination_addresses[family] = _candidates(boundaries, destination_flow, domain_max)
    return _Grid(
        protocols=tuple(sorted(flow.protocols)),
        source_addresses=source_addresses,
        destination_addresses=destination_addresses,
        source_ports=_candidates(rule_source_ports, list(flow.source_ports), PORT_MAX),
        destination_ports=_candidates(rule_destination_ports, list(flow.destination_ports), PORT_MAX),
    )


def random_packet_in(flow: FlowClass, rng: random.Random) -> Packet:
    """A packet drawn uniformly from one random prefix/range of each field of ``flow``."""
    family = rng.choice(flow.families())
    make = _address_maker(family)

    def address(networks: Sequence[IPNetwork]) -> int:
        low, high = _network_interval(rng.choice([n for n in networks if n.version == family]))
        return rng.randint(low, high)

    def port(ranges: Sequence[PortRange]) -> int:
        low, high = rng.choice(ranges)
        return rng.randint(max(low, PORT_MIN), min(high, PORT_MAX))

    return Packet(
        rng.choice(sorted(flow.protocols)),
        make(address(flow.source_prefixes)),
        port(flow.source_ports),
        make(address(flow.destination_prefixes)),
        port(flow.destination_ports),
    )


def sample_flow(
    flow: FlowClass,
    levels: Sequence[ParsedNsg | None],
    rng: random.Random,
    *,
    exhaustive_limit: int = 4096,
    sampled_packets: int = 512,
) -> SampleResult:
    """Look for a denied and an allowed packet of ``flow`` through ``levels`` (in evaluation order).

    When the boundary grid has at most ``exhaustive_limit`` packets every one
    is checked and the result is exact; otherwise a sweep over every
    candidate, ``sampled_packets`` random grid packets and as many uniformly
    random packets are checked. Stops early once both kinds were found.
    """
    verifier = PacketVerifier(levels, flow.direction)
    if not flow.families() or not flow.protocols or not flow.source_ports or not flow.destination_ports:
        return SampleResult(True, 0, None, (), None, ())
    grid = _grid(flow, levels)
    exhaustive = grid.size() <= exhaustive_limit
    if exhaustive:
        packets: Iterator[Packet] = grid.every_packet()
    else:
        packets = itertools.chain(
            grid.sweeps(rng),
            (grid.random_packet(rng) for _ in range(sampled_packets)),
            (random_packet_in(flow, rng) for _ in range(sampled_packets)),
        )
    denied: tuple[Packet | None, tuple[LevelDecision, ...]] = (None, ())
    allowed: tuple[Packet | None, tuple[LevelDecision, ...]] = (None, ())
    checked = 0
    for packet in packets:
        checked += 1
        decisions = verifier.decide(packet)
        if all(decision.access == "Allow" for decision in decisions):
            if allowed[0] is None:
                allowed = (packet, decisions)
        elif denied[0] is None:
            denied = (packet, decisions)
        if denied[0] is not None and allowed[0] is not None:
            break
    return SampleResult(exhaustive, checked, denied[0], denied[1], allowed[0], allowed[1])
