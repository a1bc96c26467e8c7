"""Exact answers to flow-class questions with an SMT encoding (z3).

The encoding follows Microsoft's SecGuru: a packet is a tuple of
bit-vectors (128-bit addresses with a family flag, 16-bit ports) and a
protocol from an enumeration; an NSG level is first-match, written as nested
if-then-else over its rules in priority order. A question "is every packet
of F allowed?" is unsatisfiability of F(p) ∧ ¬allowed(p); a model is a
counterexample packet. "Is any packet of F allowed?" is satisfiability of
F(p) ∧ allowed(p).

IPv4 addresses live in the low 32 bits with the upper 96 bits zero, so no
IPv4 prefix can ever match an IPv6 packet (the family flag is tested too).
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

import z3

from .arm_rules import PROTOCOLS, AddressMatcher, IPNetwork, OracleRule, ParsedNsg, PortRange
from .flows import FlowBox, FlowClass, LevelDecision, Packet, levels_for

ADDRESS_BITS = 128
IPV4_BITS = 32
PORT_BITS = 16

_PROTOCOL_SORT, _PROTOCOL_VALUES = z3.EnumSort("OracleProtocol", list(PROTOCOLS))
_PROTOCOL_VALUE = dict(zip(PROTOCOLS, _PROTOCOL_VALUES))
_PROTOCOL_NAME = {str(value): name for name, value in _PROTOCOL_VALUE.items()}

NO_RULE = -1


class OracleUndecided(RuntimeError):
    """z3 answered `unknown`; the oracle never turns that into a verdict."""


@dataclass(frozen=True)
class _SymbolicPacket:
    is_ipv6: z3.BoolRef
    source: z3.BitVecRef
    source_port: z3.BitVecRef
    destination: z3.BitVecRef
    destination_port: z3.BitVecRef
    protocol: z3.ExprRef

    @staticmethod
    def named() -> _SymbolicPacket:
        return _SymbolicPacket(
            is_ipv6=z3.Bool("is_ipv6"),
            source=z3.BitVec("src", ADDRESS_BITS),
            source_port=z3.BitVec("sport", PORT_BITS),
            destination=z3.BitVec("dst", ADDRESS_BITS),
            destination_port=z3.BitVec("dport", PORT_BITS),
            protocol=z3.Const("proto", _PROTOCOL_SORT),
        )

    def well_formed(self) -> z3.BoolRef:
        """An IPv4 packet's addresses have their upper 96 bits zero."""
        high_bits_zero = z3.And(
            z3.Extract(ADDRESS_BITS - 1, IPV4_BITS, self.source) == 0,
            z3.Extract(ADDRESS_BITS - 1, IPV4_BITS, self.destination) == 0,
        )
        return z3.Or(self.is_ipv6, high_bits_zero)


@dataclass(frozen=True)
class Z3Answer:
    """``holds``: the answer to the question. ``packet``: the counterexample
    (``all_allowed`` false) or the witness (``any_allowed`` true), else None.
    ``decisions``: each level's decision for ``packet``, in evaluation order.
    """

    holds: bool
    packet: Packet | None
    decisions: tuple[LevelDecision, ...]

    @property
    def deciding(self) -> LevelDecision | None:
        """The decision that settled the packet: the first deny, else the last level's allow."""
        for decision in self.decisions:
            if decision.access == "Deny":
                return decision
        return self.decisions[-1] if self.decisions else None


# Every query is about one packet; with fixed variable names the terms built
# for a rule are the same whichever query asks, so they are built once and
# cached (building z3 terms through the Python API costs more than solving).
# The caches are bounded: a long differential run would otherwise keep every
# term it ever built.
_PACKET = _SymbolicPacket.named()
_WELL_FORMED = _PACKET.well_formed()
_ADDRESS = {"source": _PACKET.source, "destination": _PACKET.destination}
_PORT = {"source": _PACKET.source_port, "destination": _PACKET.destination_port}


@functools.lru_cache(maxsize=8192)
def _in_network(side: str, network: IPNetwork) -> z3.BoolRef:
    width = IPV4_BITS if network.version == 4 else ADDRESS_BITS
    family = z3.Not(_PACKET.is_ipv6) if network.version == 4 else _PACKET.is_ipv6
    if network.prefixlen == 0:
        return family
    high = width - 1
    low = width - network.prefixlen
    expected = int(network.network_address) >> low
    return z3.And(family, z3.Extract(high, low, _ADDRESS[side]) == expected)


def _in_networks(side: str, networks: Sequence[IPNetwork]) -> z3.BoolRef:
    return z3.Or([_in_network(side, network) for network in networks])


@functools.lru_cache(maxsize=4096)
def _in_matcher(side: str, matcher: AddressMatcher) -> z3.BoolRef:
    terms = [_in_networks(side, matcher.networks)]
    terms += [z3.Not(_in_networks(side, complement)) for complement in matcher.complements]
    return z3.Or(terms)


@functools.lru_cache(maxsize=4096)
def _in_ports(side: str, ranges: tuple[PortRange, ...]) -> z3.BoolRef:
    port = _PORT[side]
    return z3.Or([z3.And(z3.ULE(low, port), z3.ULE(port, high)) for low, high in ranges])


@functools.lru_cache(maxsize=64)
def _in_protocols(protocols: frozenset[str]) -> z3.BoolRef:
    return z3.Or([_PACKET.protocol == _PROTOCOL_VALUE[name] for name in sorted(protocols)])


@functools.lru_cache(maxsize=4096)
def _rule_matches(rule: OracleRule) -> z3.BoolRef:
    return z3.And(
        _in_protocols(rule.protocols),
        _in_matcher("source", rule.source),
        _in_ports("source", rule.source_ports),
        _in_matcher("destination", rule.destination),
        _in_ports("destination", rule.destination_ports),
    )


def _in_box(box: FlowBox) -> z3.BoolRef:
    return z3.And(
        _in_protocols(box.protocols),
        _in_networks("source", box.source_prefixes),
        _in_ports("source", box.source_ports),
        _in_networks("destination", box.destination_prefixes),
        _in_ports("destination", box.destination_ports),
    )


@dataclass(frozen=True)
class _EncodedLevel:
    nsg: ParsedNsg | None
    rules: tuple[OracleRule, ...]
    allows: z3.BoolRef
    deciding_index: z3.ArithRef


@functools.lru_cache(maxsize=64)
def _encode_level(nsg: ParsedNsg | None, direction: str) -> _EncodedLevel:
    if nsg is None:
        # A subnet (or NIC) without an NSG allows everything at its level.
        return _EncodedLevel(None, (), z3.BoolVal(True), z3.IntVal(NO_RULE))
    rules = nsg.rules_for("Inbound" if direction == "Inbound" else "Outbound")
    # No rule matching at all cannot happen with Azure's defaults (DenyAll*);
    # should a hand-made rule set lack them, nothing matched reads as deny.
    allows: z3.BoolRef = z3.BoolVal(False)
    deciding_index: z3.ArithRef = z3.IntVal(NO_RULE)
    for index in range(len(rules) - 1, -1, -1):
        matches = _rule_matches(rules[index])
        allows = z3.If(matches, z3.BoolVal(rules[index].access == "Allow"), allows)
        deciding_index = z3.If(matches, z3.IntVal(index), deciding_index)
    return _EncodedLevel(nsg, rules, allows, deciding_index)


def _concrete_packet(model: z3.ModelRef) -> Packet:
    packet = _PACKET
    is_ipv6 = z3.is_true(model.eval(packet.is_ipv6, model_completion=True))
    make_address = ipaddress.IPv6Address if is_ipv6 else ipaddress.IPv4Address

    def number(term: z3.BitVecRef) -> int:
        return model.eval(term, model_completion=True).as_long()

    return Packet(
        protocol=_PROTOCOL_NAME[str(model.eval(packet.protocol, model_completion=True))],
        source_ip=make_address(number(packet.source)),
        source_port=number(packet.source_port),
        destination_ip=make_address(number(packet.destination)),
        destination_port=number(packet.destination_port),
    )


def _concrete_decision(model: z3.ModelRef, level: _EncodedLevel) -> LevelDecision:
    if level.nsg is None:
        return LevelDecision(None, "Allow", None, None)
    index = model.eval(level.deciding_index, model_completion=True).as_long()
    if index == NO_RULE:
        return LevelDecision(level.nsg.name, "Deny", None, None)
    rule = level.rules[index]
    return LevelDecision(level.nsg.name, rule.access, rule.name, rule.priority)


_Found = tuple[Packet, tuple[LevelDecision, ...]]


def _solve(constraint: z3.BoolRef, encoded: Sequence[_EncodedLevel]) -> _Found | None:
    """A well-formed packet satisfying ``constraint`` and each level's decision for it, or None."""
    solver = z3.Solver()
    solver.add(_WELL_FORMED, constraint)
    outcome = solver.check()
    if outcome == z3.unknown:
        raise OracleUndecided(solver.reason_unknown())
    if outcome == z3.unsat:
        return None
    model = solver.model()
    return _concrete_packet(model), tuple(_concrete_decision(model, level) for level in encoded)


def _allowed_through(flow: FlowClass, levels: Sequence[ParsedNsg | None]) -> tuple[list[_EncodedLevel], z3.BoolRef]:
    encoded = [_encode_level(nsg, flow.direction) for nsg in levels]
    return encoded, z3.And([level.allows for level in encoded])


_NO_PACKET = Z3Answer(holds=True, packet=None, decisions=())


def _every_packet_allowed(flow: FlowClass, levels: Sequence[ParsedNsg | None]) -> Z3Answer:
    encoded, allowed = _allowed_through(flow, levels)
    counterexample = _solve(z3.And(_in_box(flow.box), z3.Not(allowed)), encoded)
    return _NO_PACKET if counterexample is None else Z3Answer(False, *counterexample)


def _some_packet_allowed(flow: FlowClass, levels: Sequence[ParsedNsg | None]) -> Z3Answer:
    encoded, allowed = _allowed_through(flow, levels)
    witness = _solve(z3.And(_in_box(flow.box), allowed), encoded)
    return Z3Answer(False, None, ()) if witness is None else Z3Answer(True, *witness)


def all_allowed(flow: FlowClass, nsg: ParsedNsg | None) -> Z3Answer:
    """Is every packet of ``flow`` allowed by ``nsg``? A counterexample packet when not."""
    return _every_packet_allowed(flow, (nsg,))


def any_allowed(flow: FlowClass, nsg: ParsedNsg | None) -> Z3Answer:
    """Is some packet of ``flow`` allowed by ``nsg``? A witness packet when so."""
    return _some_packet_allowed(flow, (nsg,))


def all_allowed_composed(flow: FlowClass, subnet_nsg: ParsedNsg | None, nic_nsg: ParsedNsg | None) -> Z3Answer:
    """Every packet allowed at both levels (inbound subnet then NIC; outbound NIC then subnet)?"""
    return _every_packet_allowed(flow, levels_for(flow.direction, subnet_nsg, nic_nsg))


def any_allowed_composed(flow: FlowClass, subnet_nsg: ParsedNsg | None, nic_nsg: ParsedNsg | None) -> Z3Answer:
    """Some packet allowed at both levels?"""
    return _some_packet_allowed(flow, levels_for(flow.direction, subnet_nsg, nic_nsg))


def region_disagreement(
    flow: FlowClass, levels: Sequence[ParsedNsg | None], claimed_allowed: Sequence[FlowBox]
) -> Z3Answer:
    """Check a claimed split of ``flow`` into allowed and denied parts.

    ``claimed_allowed`` is the union of boxes someone says is exactly the
    allowed part of ``flow`` through ``levels`` (in evaluation order).
    ``holds`` is false when a packet of ``flow`` is classified wrongly; that
    packet and the oracle's decisions for it are returned.
    """
    encoded, allowed = _allowed_through(flow, levels)
    in_claimed = z3.Or([_in_box(box) for box in claimed_allowed])
    wrong = _solve(z3.And(_in_box(flow.box), in_claimed != allowed), encoded)
    return _NO_PACKET if wrong is None else Z3Answer(False, *wrong)


@dataclass(frozen=True)
class ClaimedPart:
    """A part of a flow someone claims is decided, packet for packet, by ``deciding_priorities``.

    ``deciding_priorities[i]`` is the priority of the rule that decides the
    part at level ``i`` (priorities are unique per direction, so they name
    rules unambiguously); None means "no NSG at this level" for a missing
    NSG, or "no rule matched" for a present one. A part denied at level ``i``
    lists only levels ``0..i``.
    """

    region: tuple[FlowBox, ...]
    deciding_priorities: tuple[int | None, ...]


def _decided_as_claimed(level: _EncodedLevel, priority: int | None) -> z3.BoolRef:
    if level.nsg is None:
        return z3.BoolVal(priority is None)
    if priority is None:
        return level.deciding_index == NO_RULE
    indexes = [index for index, rule in enumerate(level.rules) if rule.priority == priority]
    if not indexes:
        return z3.BoolVal(False)  # the claim names a rule this level does not have
    return level.deciding_index == indexes[0]


def partition_disagreement(
    flow: FlowClass, levels: Sequence[ParsedNsg | None], parts: Sequence[ClaimedPart]
) -> Z3Answer:
    """Check a claimed split of ``flow`` into parts, each with its deciding rules.

    ``holds`` is false when some packet is in the flow but in no part, in a
    part but not in the flow, or in a part whose deciding rules differ from
    the oracle's for that packet (which also catches a wrong allow/deny, since
    the deciding rules fix the access). The offending packet and the oracle's
    decisions for it are returned.
    """
    encoded = [_encode_level(nsg, flow.direction) for nsg in levels]
    in_flow = _in_box(flow.box)
    in_part = [z3.Or([_in_box(box) for box in part.region]) for part in parts]
    decided_right = [
        z3.And([_decided_as_claimed(level, priority) for level, priority in zip(encoded, part.deciding_priorities)])
        for part in parts
    ]
    uncovered = z3.And(in_flow, *[z3.Not(inside) for inside in in_part])
    misplaced = z3.Or(
        [z3.And(inside, z3.Or(z3.Not(in_flow), z3.Not(right))) for inside, right in zip(in_part, decided_right)]
    )
    wrong = _solve(z3.Or(uncovered, misplaced), encoded)
    return _NO_PACKET if wrong is None else Z3Answer(False, *wrong)


def clear_term_cache() -> None:
    """Forget every cached z3 term (benchmarks time a cold encoding per question)."""
    for cached in (_in_network, _in_matcher, _in_ports, _in_protocols, _rule_matches, _encode_level):
        cached.cache_clear()
