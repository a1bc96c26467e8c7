"""Decide a flow class against NSGs: first match wins, exactly.

The flow is a union of boxes. Walking the rules of the flow's direction in
ascending priority, each rule takes the part of the remaining region that
it matches (box ∩ rule box) and leaves the rest (box \\ rule box, at most
five disjoint boxes per box). When nothing remains, every packet of the
flow has exactly one deciding rule. Composition runs the allowed parts of
one level through the next level's NSG.

Rules that name application security groups (or that the engine could not
resolve) are evaluated worst case for the question asked; see
:class:`Question`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from functools import cached_property

from . import intervals
from .addresses import V4_END, V6_END, AddressSet
from .errors import EmptyFlowError, Unresolved
from .flows import Box, Direction, FlowClass, FlowRegion, Packet
from .nsg import NO_MATCHING_RULE, CompiledNsg, CompiledRule, FamilyBoxes, RuleBox, RuleRef
from .ports import PORT_END

_ADDRESS_END = (V4_END, V6_END)
_intersect = intervals.intersect
_difference = intervals.difference


class Question(Enum):
    """What the caller wants to know; decides the worst case for rules we cannot expand.

    ``ALL_ALLOWED``: "is every packet of this flow allowed?" — an allow rule
    naming an ASG (or an unresolved item) is assumed to match none of it, a
    deny rule to match all of it (in its other fields). A "yes" is then
    certain; the allowed parts are a lower bound.

    ``ANY_ALLOWED``: "is any packet of this flow allowed?" — the opposite:
    such allows match everything, such denies nothing; a "no" is certain and
    the allowed parts are an upper bound.
    """

    ALL_ALLOWED = "all"
    ANY_ALLOWED = "any"


@dataclass(frozen=True)
class AssumedRule:
    """A rule naming application security groups that the answer had to assume about."""

    rule: RuleRef
    groups: tuple[str, ...]
    assumption: str
    """``"matches nothing"`` or ``"matches everything it could"``."""

    def __str__(self) -> str:
        return f"{self.rule} names application security group(s) {', '.join(self.groups)}; assumed it {self.assumption}"

    def to_json(self) -> dict[str, object]:
        return {"rule": self.rule.to_json(), "groups": list(self.groups), "assumption": self.assumption}


@dataclass(frozen=True, eq=False)
class FlowPart:
    """A part of the flow with one outcome and one deciding rule per level reached.

    ``deciders[i]`` is the rule that decided this part at ``levels[i]`` of the
    verdict; a part denied at the first level has only one decider.
    ``shadowed_allow`` (denied parts only) is the first later allow rule of
    the denying NSG that would have matched part of it ("... before AllowBatch
    is reached").
    """

    access: str
    region: FlowRegion
    deciders: tuple[RuleRef, ...]
    _later_rules: tuple[CompiledNsg, Direction, int, bool] | None = field(default=None, repr=False, compare=False)
    """(the denying NSG, direction, position after the denying rule, question is ALL_ALLOWED), for
    ``shadowed_allow``."""

    @cached_property
    def witness(self) -> Packet:
        """A concrete packet of this part (computed on first use: most verdicts never show one)."""
        return self.region.sample()

    @cached_property
    def shadowed_allow(self) -> RuleRef | None:
        """For a denied part: the first later allow rule of the denying NSG that would
        have matched some of it. Computed on first use (only evidence needs it)."""
        if self._later_rules is None:
            return None
        nsg, direction, start, all_question = self._later_rules
        return _first_allow_touching(nsg, direction, start, list(self.region.boxes), all_question)

    @property
    def allowed(self) -> bool:
        return self.access == "Allow"

    @property
    def decider(self) -> RuleRef:
        """The rule that settled the outcome (the last level reached)."""
        return self.deciders[-1]


@dataclass(frozen=True)
class FlowVerdict:
    """The flow split into disjoint allowed and denied parts, with their deciders."""

    flow: FlowClass
    question: Question
    levels: tuple[str, ...]
    parts: tuple[FlowPart, ...]
    assumed: tuple[AssumedRule, ...]
    """Rules naming ASGs whose worst-case assumption touched this flow."""
    unresolved: tuple[Unresolved, ...]
    """Data the engine could not read that may affect this answer: callers report ``error``."""

    @property
    def all_allowed(self) -> bool:
        """Every packet allowed (under the assumptions of ``question``)."""
        return all(part.allowed for part in self.parts)

    @property
    def any_allowed(self) -> bool:
        return any(part.allowed for part in self.parts)

    @property
    def is_complete(self) -> bool:
        """No unresolved data touched the answer."""
        return not self.unresolved

    @property
    def allowed_parts(self) -> tuple[FlowPart, ...]:
        return tuple(part for part in self.parts if part.allowed)

    @property
    def denied_parts(self) -> tuple[FlowPart, ...]:
        return tuple(part for part in self.parts if not part.allowed)

    @property
    def allowed(self) -> FlowRegion:
        return FlowRegion(tuple(box for part in self.allowed_parts for box in part.region.boxes))

    @property
    def denied(self) -> FlowRegion:
        return FlowRegion(tuple(box for part in self.denied_parts for box in part.region.boxes))

    def part_containing(self, packet: Packet) -> FlowPart | None:
        """The part holding this packet (None when the packet is outside the flow)."""
        for part in self.parts:
            if part.region.contains(packet):
                return part
        return None


# --- box algebra (hot path) ----------------------------------------------------


def _box_intersection(box: Box, rule_box: RuleBox) -> Box | None:
    protocol_mask = box[1] & rule_box[0]
    if not protocol_mask:
        return None
    dst_ports = _intersect(box[2], rule_box[1])
    if not dst_ports:
        return None
    src_ports = _intersect(box[3], rule_box[2])
    if not src_ports:
        return None
    dst = _intersect(box[4], rule_box[3])
    if not dst:
        return None
    src = _intersect(box[5], rule_box[4])
    if not src:
        return None
    return (box[0], protocol_mask, dst_ports, src_ports, dst, src)


def _box_minus(box: Box, rule_box: RuleBox, common: Box, out: list[Box]) -> None:
    """Append ``box \\ rule_box`` as disjoint boxes (``common`` is ``box ∩ rule_box``)."""
    family_index = box[0]
    address_end = _ADDRESS_END[family_index]
    rest_mask = box[1] & ~rule_box[0]
    if rest_mask:
        out.append((family_index, rest_mask, box[2], box[3], box[4], box[5]))
    rest = _difference(box[2], rule_box[1], PORT_END)
    if rest:
        out.append((family_index, common[1], rest, box[3], box[4], box[5]))
    rest = _difference(box[3], rule_box[2], PORT_END)
    if rest:
        out.append((family_index, common[1], common[2], rest, box[4], box[5]))
    rest = _difference(box[4], rule_box[3], address_end)
    if rest:
        out.append((family_index, common[1], common[2], common[3], rest, box[5]))
    rest = _difference(box[5], rule_box[4], address_end)
    if rest:
        out.append((family_index, common[1], common[2], common[3], common[4], rest))


def _hull(boxes: list[Box]) -> tuple[int, int, int]:
    """(protocol mask, lowest, highest+1 destination port) over all boxes."""
    mask = 0
    lo = PORT_END
    hi = 0
    for box in boxes:
        mask |= box[1]
        ports = box[2]
        if ports[0] < lo:
            lo = ports[0]
        if ports[-1] > hi:
            hi = ports[-1]
    return mask, lo, hi


def _may_touch(boxes: list[Box], rule: CompiledRule) -> bool:
    """Cheap filter on protocol and destination ports before any address work."""
    mask = rule.protocol_mask_widest
    rule_ports = rule.dst_ports_widest
    single_range = len(rule_ports) == 2
    for box in boxes:
        if box[1] & mask:
            box_ports = box[2]
            if single_range and len(box_ports) == 2:
                if box_ports[0] < rule_ports[1] and rule_ports[0] < box_ports[1]:
                    return True
            elif intervals.overlaps(box_ports, rule_ports):
                return True
    return False


def _touches(boxes: list[Box], rule_boxes: FamilyBoxes) -> bool:
    for box in boxes:
        rule_box = rule_boxes[box[0]]
        if rule_box is not None and _box_intersection(box, rule_box) is not None:
            return True
    return False


# --- one NSG -------------------------------------------------------------------------


@dataclass
class _LevelOutcome:
    ref: RuleRef
    allow: bool
    boxes: list[Box]
    later_rules: tuple[CompiledNsg, Direction, int, bool] | None


def _decide_level(
    nsg: CompiledNsg,
    direction: Direction,
    boxes: list[Box],
    all_question: bool,
    assumed: dict[RuleRef, AssumedRule],
    unresolved: dict[Unresolved, None],
) -> list[_LevelOutcome]:
    """Split ``boxes`` by the rule of ``nsg`` that decides them."""
    for problem in nsg.problems(direction):
        unresolved[problem] = None
    rules = nsg.rules(direction)
    outcomes: list[_LevelOutcome] = []
    remaining = boxes
    region_mask, region_ports_lo, region_ports_hi = _hull(remaining)
    for position, rule in enumerate(rules):
        if not remaining:
            break
        # Most rules are about other protocols or ports: reject them on the hull
        # of the remaining region, without a call or any address work.
        if (
            not rule.protocol_mask_widest & region_mask
            or rule.dst_ports_hull_hi <= region_ports_lo
            or region_ports_hi <= rule.dst_ports_hull_lo
            or not _may_touch(remaining, rule)
        ):
            continue
        if rule.nsg is not nsg and not rule.context_free:
            rule = nsg.own(rule)  # shared with the same NSG compiled for another context
        if not rule.resolved:
            rule.resolve()
        # Worst case for the question: for "all allowed?" an uncertain allow
        # matches as little as it can and an uncertain deny as much; the reverse
        # for "any allowed?". Exact rules have min_boxes is max_boxes.
        use_widest = rule.allow != all_question
        rule_boxes = rule.max_boxes if use_widest else rule.min_boxes
        if not rule.exact and _touches(remaining, rule.max_boxes):
            _note_uncertain_rule(rule, use_widest, assumed, unresolved)
        matched: list[Box] | None = None
        survivors: list[Box] | None = None
        for index, box in enumerate(remaining):
            rule_box = rule_boxes[box[0]]
            common = _box_intersection(box, rule_box) if rule_box is not None else None
            if common is None:
                if survivors is not None:
                    survivors.append(box)
                continue
            if survivors is None:
                survivors = remaining[:index]
                matched = []
            assert matched is not None and rule_box is not None
            matched.append(common)
            _box_minus(box, rule_box, common, survivors)
        if matched is None:
            continue
        assert survivors is not None
        remaining = survivors
        if remaining:
            region_mask, region_ports_lo, region_ports_hi = _hull(remaining)
        later = None if rule.allow else (nsg, direction, position + 1, all_question)
        outcomes.append(_LevelOutcome(rule.ref, rule.allow, matched, later))
    if remaining:
        # Only possible when defaultSecurityRules were given without a final deny.
        leftover = RuleRef(nsg.name, nsg.id, "(no matching rule)", None, None, direction.value, "Deny", False, NO_MATCHING_RULE)
        outcomes.append(_LevelOutcome(leftover, False, remaining, None))
    return outcomes


def _note_uncertain_rule(
    rule: CompiledRule,
    used_widest: bool,
    assumed: dict[RuleRef, AssumedRule],
    unresolved: dict[Unresolved, None],
) -> None:
    if rule.asg_names and rule.ref not in assumed:
        assumption = "matches everything it could" if used_widest else "matches nothing"
        assumed[rule.ref] = AssumedRule(rule.ref, rule.asg_names, assumption)
    for problem in rule.problems:
        unresolved[problem] = None


def _first_allow_touching(
    nsg: CompiledNsg, direction: Direction, start: int, boxes: list[Box], all_question: bool
) -> RuleRef | None:
    for rule in nsg.rules(direction)[start:]:
        if rule.allow and _may_touch(boxes, rule):
            rule = nsg.own(rule)
            rule.resolve()
            rule_boxes = rule.min_boxes if all_question else rule.max_boxes
            if _touches(boxes, rule_boxes):
                return rule.ref
    return None


# --- public entry points ---------------------------------------------------------------


def evaluate_chain(
    flow: FlowClass,
    levels: Sequence[tuple[str, CompiledNsg | None]],
    question: Question = Question.ALL_ALLOWED,
) -> FlowVerdict:
    """Run ``flow`` through NSGs in order; a part must be allowed at every level.

    ``levels`` are ``(label, nsg)`` pairs in the order packets meet them; a
    ``None`` NSG allows everything at its level. Raises EmptyFlowError when
    the flow holds no packet.
    """
    region = flow.region()
    if not region:
        raise EmptyFlowError(
            "the flow class holds no packet (check that sources and destinations share an"
            " address family and that protocols and ports are not empty)"
        )
    all_question = question is Question.ALL_ALLOWED
    assumed: dict[RuleRef, AssumedRule] = {}
    unresolved: dict[Unresolved, None] = {}
    parts: list[FlowPart] = []
    pending: list[tuple[tuple[RuleRef, ...], list[Box]]] = [((), list(region.boxes))]
    for label, nsg in levels:
        next_pending: list[tuple[tuple[RuleRef, ...], list[Box]]] = []
        for deciders, boxes in pending:
            if nsg is None:
                next_pending.append((deciders + (RuleRef.no_nsg(label),), boxes))
                continue
            for outcome in _decide_level(nsg, flow.direction, boxes, all_question, assumed, unresolved):
                path = deciders + (outcome.ref,)
                if outcome.allow:
                    next_pending.append((path, outcome.boxes))
                else:
                    parts.append(_part("Deny", outcome.boxes, path, outcome.later_rules))
        pending = next_pending
    for deciders, boxes in pending:
        parts.append(_part("Allow", boxes, deciders, None))
    return FlowVerdict(
        flow=flow,
        question=question,
        levels=tuple(label for label, _ in levels),
        parts=tuple(parts),
        assumed=tuple(assumed.values()),
        unresolved=tuple(unresolved),
    )


def _part(
    access: str,
    boxes: list[Box],
    deciders: tuple[RuleRef, ...],
    later_rules: tuple[CompiledNsg, Direction, int, bool] | None,
) -> FlowPart:
    return FlowPart(access=access, region=FlowRegion(tuple(boxes)), deciders=deciders, _later_rules=later_rules)


def evaluate(
    flow: FlowClass,
    nsg: CompiledNsg | None,
    question: Question = Question.ALL_ALLOWED,
    label: str = "NSG",
) -> FlowVerdict:
    """Decide ``flow`` against one NSG (None: no NSG, everything allowed)."""
    return evaluate_chain(flow, [(label, nsg)], question)


SUBNET_LEVEL = "subnet"
NIC_LEVEL = "NIC"


def evaluate_path(
    flow: FlowClass,
    subnet_nsg: CompiledNsg | None,
    nic_nsg: CompiledNsg | None,
    question: Question = Question.ALL_ALLOWED,
) -> FlowVerdict:
    """Azure's composition: inbound meets the subnet NSG then the NIC NSG,
    outbound the NIC NSG then the subnet NSG; both must allow."""
    if flow.direction is Direction.INBOUND:
        levels = [(SUBNET_LEVEL, subnet_nsg), (NIC_LEVEL, nic_nsg)]
    else:
        levels = [(NIC_LEVEL, nic_nsg), (SUBNET_LEVEL, subnet_nsg)]
    return evaluate_chain(flow, levels, question)


def depends_on_internet(
    verdict: FlowVerdict,
    levels: Sequence[tuple[str, CompiledNsg | None]],
    addresses: AddressSet,
) -> bool:
    """Whether ``verdict`` could change if ``Internet`` gained or lost ``addresses`` in every NSG
    of ``levels`` (the levels it was evaluated on). False is certain; True only says "maybe".

    A rule's match on a packet depends on the meaning of ``Internet`` only when the rule names
    ``Internet`` on a side and that side's address of the packet is in ``addresses``. Every
    packet of a part passed every rule of a level before the part's deciding rule there, so if
    no part has such an address on the named side of any ``Internet`` rule it reached (at or
    before its decider), every rule matches the same packets either way, level by level, and the
    verdict is the same. Used to skip the second reading of ``Internet`` under user routes.
    """
    if not addresses:
        return False
    flow = verdict.flow
    if not (flow.src.addresses.overlaps(addresses) or flow.dst.addresses.overlaps(addresses)):
        return False
    families = (addresses.v4, addresses.v6)
    direction = flow.direction
    for index, (_, nsg) in enumerate(levels):
        if nsg is None:
            continue
        marked = nsg.internet_rules(direction)
        if not marked:
            continue
        for part in verdict.parts:
            if len(part.deciders) <= index:
                continue
            reached = nsg.position_of(direction, part.deciders[index])
            for position, on_source, on_destination in marked:
                if position > reached:
                    break
                for box in part.region.boxes:
                    changing = families[box[0]]
                    if (on_source and intervals.overlaps(box[5], changing)) or (
                        on_destination and intervals.overlaps(box[4], changing)
                    ):
                        return True
    return False


def decide_packet(nsg: CompiledNsg | None, direction: Direction | str, packet: Packet) -> RuleRef:
    """The rule that decides one packet (IP-flow-verify style)."""
    verdict = evaluate(FlowClass.from_packet(direction, packet), nsg)
    return verdict.parts[0].decider
