"""Compile ARM network security groups into per-direction, priority-ordered rule boxes.

Input is the NSG object exactly as ARM returns it. Quirks handled here:

* a rule carries ``sourcePortRange`` (one string) or ``sourcePortRanges``
  (a list) and the unused one is absent, ``""`` or ``[]`` (same for the
  destination ports and both address sides); both are read and unioned;
* ports as ``"*"``, ``"80"``, ``"100-200"``, ``"0-65535"``;
* addresses as CIDRs, bare IPs, ``*``/``Any``, ``VirtualNetwork``,
  ``AzureLoadBalancer``, ``Internet`` or any service-tag entry name, in any case;
* protocol ``Tcp``/``Udp``/``Icmp``/``Esp``/``Ah``/``*`` (``All``/``Any`` too);
* an NSG without ``defaultSecurityRules`` gets Azure's six well-known defaults.

What cannot be turned into sets is kept, not dropped: a side naming
application security groups (which our data cannot expand) or an unknown
tag gets a *minimum* box (the unknown part matches nothing) and a *maximum*
box (it matches everything); the evaluator picks the one that is worst for
the question asked and reports the rule. Rules without a valid direction,
priority or access cannot be placed at all and are reported on the NSG.
"""

from __future__ import annotations

import weakref
from bisect import bisect_left, bisect_right, insort
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from . import intervals
from .addresses import AddressSet
from .errors import (
    INVALID_VALUE,
    MISSING_DATA,
    UNKNOWN_SERVICE_TAG,
    ParseError,
    ServiceTagDataError,
    Unresolved,
)
from .flows import Direction
from .intervals import IntervalSet
from .ports import ALL_PORTS, parse_port_item
from .protocols import ALL_PROTOCOLS_MASK, parse_protocol_mask
from .tags import ServiceTagIndex

AZURE_LOAD_BALANCER = AddressSet.parse("168.63.129.16/32")
"""The platform's health-probe address, what the ``AzureLoadBalancer`` tag means."""


def internet_addresses(virtual_network: AddressSet) -> AddressSet:
    """What the ``Internet`` tag means next to a VNet: every address (IPv4 and IPv6)
    outside both ``VirtualNetwork`` (the VNet's and peers' space) and ``AzureLoadBalancer``."""
    return (virtual_network | AZURE_LOAD_BALANCER).complement()


class InternetReading(Enum):
    """How ``Internet`` is read next to a ``VirtualNetwork`` tag that holds user-route prefixes.

    Azure documents that ``VirtualNetwork`` includes "address prefixes used on user-defined
    routes"; whether ``Internet`` then shrinks by them is not documented, so the catalog
    judges a check both ways and keeps the worse verdict.
    """

    WITH_ROUTES = "with"
    """``Internet`` = every address outside ``VirtualNetwork`` (route prefixes included) and 168.63.129.16."""
    WITHOUT_ROUTES = "without"
    """``Internet`` = every address outside ``VirtualNetwork`` without the route prefixes (the own
    networks) and 168.63.129.16: a route prefix is then in both tags."""

    @property
    def words(self) -> str:
        return f"Internet outside VirtualNetwork {self.value} the route prefixes"


class VirtualNetworkTags:
    """What ``VirtualNetwork`` and ``Internet`` mean in the NSG rules of one subnet (and of the
    NICs in it), under one :class:`InternetReading`.

    ``own_networks``: the VNet's address space, its peers' spaces and the on-premises spaces of
    its site-to-site connections. ``route_prefixes``: the ``addressPrefix`` of every route in
    the subnet's route table. ``VirtualNetwork`` is their union whatever the reading.
    """

    __slots__ = ("own_networks", "route_prefixes", "reading", "virtual_network", "internet", "reading_dependent",
                 "_other")

    def __init__(self, own_networks: AddressSet, route_prefixes: AddressSet | None = None,
                 reading: InternetReading = InternetReading.WITH_ROUTES) -> None:
        routes = route_prefixes if route_prefixes is not None else AddressSet()
        self._other: VirtualNetworkTags | None = None
        self.own_networks = own_networks
        self.route_prefixes = routes
        self.reading = reading
        self.virtual_network = own_networks | routes if routes else own_networks
        self.reading_dependent = routes - own_networks - AZURE_LOAD_BALANCER if routes else AddressSet()
        """The addresses ``Internet`` holds under one reading only (route prefixes outside the own
        networks and 168.63.129.16); empty when both readings coincide."""
        outside = self.virtual_network if reading is InternetReading.WITH_ROUTES else own_networks
        self.internet = internet_addresses(outside)

    @property
    def readings_differ(self) -> bool:
        return bool(self.reading_dependent)

    def under(self, reading: InternetReading) -> VirtualNetworkTags:
        """The same tags under another reading (made once)."""
        if reading is self.reading:
            return self
        if self._other is None:
            self._other = VirtualNetworkTags(self.own_networks, self.route_prefixes, reading)
            self._other._other = self
        return self._other

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, VirtualNetworkTags):
            return NotImplemented
        return (self.own_networks, self.route_prefixes, self.reading) == (
            other.own_networks, other.route_prefixes, other.reading)

    def __hash__(self) -> int:
        return hash((self.own_networks, self.route_prefixes, self.reading))

    def __repr__(self) -> str:
        return (f"VirtualNetworkTags(own={self.own_networks!r}, routes={self.route_prefixes!r}, "
                f"reading={self.reading.name})")


RuleBox = tuple[int, IntervalSet, IntervalSet, IntervalSet, IntervalSet]
"""``(protocol_mask, dst_ports, src_ports, dst_addresses, src_addresses)`` of one family."""

FamilyBoxes = tuple[RuleBox | None, RuleBox | None]
"""A rule's box for IPv4 and for IPv6 (None: the rule matches no packet of that family)."""

Problem = tuple[str, str, str]
"""``(kind, value, detail)`` before it is attached to an NSG and rule."""


def _well_known_rule(name: str, priority: int, direction: str, access: str, source: str, destination: str) -> dict[str, Any]:
    return {
        "name": name,
        "properties": {
            "protocol": "*",
            "sourcePortRange": "*",
            "destinationPortRange": "*",
            "sourceAddressPrefix": source,
            "destinationAddressPrefix": destination,
            "access": access,
            "priority": priority,
            "direction": direction,
        },
    }


WELL_KNOWN_DEFAULT_RULES: tuple[dict[str, Any], ...] = (
    _well_known_rule("AllowVnetInBound", 65000, "Inbound", "Allow", "VirtualNetwork", "VirtualNetwork"),
    _well_known_rule("AllowAzureLoadBalancerInBound", 65001, "Inbound", "Allow", "AzureLoadBalancer", "*"),
    _well_known_rule("DenyAllInBound", 65500, "Inbound", "Deny", "*", "*"),
    _well_known_rule("AllowVnetOutBound", 65000, "Outbound", "Allow", "VirtualNetwork", "VirtualNetwork"),
    _well_known_rule("AllowInternetOutBound", 65001, "Outbound", "Allow", "*", "Internet"),
    _well_known_rule("DenyAllOutBound", 65500, "Outbound", "Deny", "*", "*"),
)
"""Azure's default rules, used when an NSG object lacks ``defaultSecurityRules``."""

RULE = "rule"
NO_NSG = "no-nsg"
NO_MATCHING_RULE = "no-matching-rule"


@dataclass(frozen=True)
class RuleRef:
    """What decided a part of a flow: an NSG rule, or the absence of an NSG.

    ``kind`` is ``"rule"``; ``"no-nsg"`` (no NSG at this level: everything is
    allowed there); or ``"no-matching-rule"`` (the NSG's rules, defaults
    included, matched nothing: Azure denies).
    """

    nsg_name: str | None
    nsg_id: str | None
    rule_name: str
    rule_id: str | None
    priority: int | None
    direction: str | None
    access: str
    is_default: bool
    kind: str = RULE

    @classmethod
    def no_nsg(cls, level: str) -> RuleRef:
        name = "(no NSG)" if level == "NSG" else f"(no {level} NSG)"
        return cls(None, None, name, None, None, None, "Allow", False, NO_NSG)

    @property
    def allows(self) -> bool:
        return self.access == "Allow"

    def short(self) -> str:
        """``AllowBatch (priority 110)``."""
        if self.kind != RULE:
            return self.rule_name
        return f"{self.rule_name} (priority {self.priority})"

    def __str__(self) -> str:
        if self.kind == NO_NSG:
            return self.rule_name
        if self.kind == NO_MATCHING_RULE:
            return f"no rule of {self.nsg_name} matched ({self.access})"
        default = ", default rule" if self.is_default else ""
        return (
            f"rule {self.rule_name} (priority {self.priority}, {self.direction}, {self.access}{default})"
            f" in {self.nsg_name}"
        )

    def to_json(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "nsg": self.nsg_name,
            "nsg_id": self.nsg_id,
            "rule": self.rule_name,
            "rule_id": self.rule_id,
            "priority": self.priority,
            "direction": self.direction,
            "access": self.access,
            "default": self.is_default,
        }


class CompiledRule:
    """One rule of one direction, compiled in two steps.

    Protocol and ports are parsed when the direction is compiled (cheap, and
    enough to skip the rule for most questions: a rule for TCP 3389 cannot
    touch a question about TCP 29876). The address sides, the expensive part
    (tags, VirtualNetwork/Internet arithmetic), are resolved on the first
    question that gets past that filter (:meth:`resolve`). Afterwards
    ``min_boxes``/``max_boxes`` hold the boxes, ``exact`` says they are the
    same object, ``asg_names`` the application security groups named and
    ``problems`` what could not be resolved.
    """

    __slots__ = (
        "nsg", "placed", "direction", "allow",
        "protocol_mask", "protocol_mask_widest", "dst_ports", "dst_ports_widest",
        "src_ports", "src_ports_widest", "dst_ports_hull_lo", "dst_ports_hull_hi", "early_problems",
        "resolved", "min_boxes", "max_boxes", "exact", "asg_names", "problems", "_ref", "position",
        "context_free", "internet_sides",
    )

    def __init__(self, nsg: CompiledNsg, placed: _PlacedRule, direction: Direction, position: int) -> None:
        self.nsg = nsg
        self.placed = placed
        self.direction = direction
        self.position = position  # in the direction's evaluation order
        # Known once resolved: whether the address sides mean the same in every context, and which
        # of them name Internet (SOURCE_NAMES_INTERNET, DESTINATION_NAMES_INTERNET).
        self.context_free = False
        self.internet_sides = 0
        self.allow = placed.access == "Allow"
        self._ref: RuleRef | None = None
        self.resolved = False
        self.min_boxes: FamilyBoxes = (None, None)
        self.max_boxes: FamilyBoxes = (None, None)
        self.exact = True
        self.asg_names: tuple[str, ...] = ()
        self.problems: tuple[Unresolved, ...] = ()
        context = nsg.context
        properties = placed.properties
        problems: list[Problem] = []
        protocol = properties.get("protocol")
        mask = _PROTOCOL_MASKS.get(protocol) if type(protocol) is str else None
        if mask is None:
            try:
                if not isinstance(protocol, str):
                    raise ParseError(f"protocol is {protocol!r}")
                mask = parse_protocol_mask(protocol)
                _PROTOCOL_MASKS[protocol] = mask
            except ParseError as problem:
                problems.append((INVALID_VALUE, repr(protocol), str(problem)))
        if mask is None:
            self.protocol_mask, self.protocol_mask_widest = 0, ALL_PROTOCOLS_MASK
        else:
            self.protocol_mask = self.protocol_mask_widest = mask

        self.dst_ports, self.dst_ports_widest = _port_side(
            context, properties, "destinationPortRange", "destinationPortRanges", problems
        )
        self.src_ports, self.src_ports_widest = _port_side(
            context, properties, "sourcePortRange", "sourcePortRanges", problems
        )
        widest = self.dst_ports_widest
        self.dst_ports_hull_lo, self.dst_ports_hull_hi = (widest[0], widest[-1]) if widest else (0, 0)
        self.early_problems = problems

    def rebound(self, nsg: CompiledNsg) -> CompiledRule:
        """This rule for the same NSG object compiled in another context (other ``VirtualNetwork`` /
        ``Internet``): a rule already resolved and found to mean the same in every context is
        shared as it is; otherwise protocol and ports are copied (not parsed again) and the address
        sides are left to resolve in the new context."""
        if self.context_free:
            return self
        twin = CompiledRule.__new__(CompiledRule)
        twin.nsg = nsg
        twin.position = self.position
        twin.context_free = False
        twin.internet_sides = 0
        twin.placed = self.placed
        twin.direction = self.direction
        twin.allow = self.allow
        twin.protocol_mask = self.protocol_mask
        twin.protocol_mask_widest = self.protocol_mask_widest
        twin.dst_ports = self.dst_ports
        twin.dst_ports_widest = self.dst_ports_widest
        twin.src_ports = self.src_ports
        twin.src_ports_widest = self.src_ports_widest
        twin.dst_ports_hull_lo = self.dst_ports_hull_lo
        twin.dst_ports_hull_hi = self.dst_ports_hull_hi
        twin.early_problems = self.early_problems
        twin._ref = self._ref
        twin.resolved = False
        twin.min_boxes = twin.max_boxes = (None, None)
        twin.exact = True
        twin.asg_names = ()
        twin.problems = ()
        return twin

    @property
    def ref(self) -> RuleRef:
        if self._ref is None:
            placed = self.placed
            self._ref = RuleRef(
                nsg_name=self.nsg.name,
                nsg_id=self.nsg.id,
                rule_name=placed.name,
                rule_id=placed.rule_id,
                priority=placed.priority,
                direction=self.direction.value,
                access=placed.access,
                is_default=placed.is_default,
            )
        return self._ref

    def resolve(self) -> CompiledRule:
        """Resolve the address sides (idempotent); returns self."""
        if self.resolved:
            return self
        context = self.nsg.context
        properties = self.placed.properties
        problems = list(self.early_problems)
        asg_names: list[str] = []
        dst_min, dst_max, dst_words = _address_side(
            context, properties, "destinationAddressPrefix", "destinationAddressPrefixes",
            "destinationApplicationSecurityGroups", problems, asg_names,
        )
        src_min, src_max, src_words = _address_side(
            context, properties, "sourceAddressPrefix", "sourceAddressPrefixes",
            "sourceApplicationSecurityGroups", problems, asg_names,
        )
        self.context_free = not dst_words and not src_words
        self.internet_sides = (SOURCE_NAMES_INTERNET if src_words & _INTERNET else 0) | (
            DESTINATION_NAMES_INTERNET if dst_words & _INTERNET else 0)
        if self.internet_sides:
            self.nsg.note_internet_rule(self)
        self.max_boxes = _family_boxes(
            self.protocol_mask_widest, self.dst_ports_widest, self.src_ports_widest, dst_max, src_max
        )
        self.exact = not problems and not asg_names
        self.min_boxes = (
            self.max_boxes
            if self.exact
            else _family_boxes(self.protocol_mask, self.dst_ports, self.src_ports, dst_min, src_min)
        )
        self.asg_names = tuple(asg_names)
        self.problems = tuple(
            self.nsg.make_problem(kind, self.placed.name, value, detail) for kind, value, detail in problems
        )
        self.resolved = True
        return self

    def __repr__(self) -> str:
        return f"CompiledRule({self.ref.short()}, {self.placed.access})"


_PROTOCOL_MASKS: dict[str, int] = {}
"""Protocol text -> mask, filled as rules are compiled (a handful of spellings in practice)."""


def _port_side(
    context: NsgContext, properties: Mapping[str, Any], singular: str, plural: str, problems: list[Problem]
) -> tuple[IntervalSet, IntervalSet]:
    """(ports, widest ports): widest is all ports when the field could not be read."""
    single = properties.get(singular)
    single_only = type(single) is str and not properties.get(plural)
    if single_only:
        known = context.shared.single_ports.get(single)
        if known is not None:
            return known, known
    side_problems: list[Problem] = []
    values = _field_values(properties, singular, plural, side_problems)
    if not values and not side_problems:
        side_problems.append((MISSING_DATA, plural, f"the rule has neither {singular} nor {plural}"))
    ports, parse_problems = context.shared.resolve_ports(values)
    side_problems.extend(parse_problems)
    problems.extend(side_problems)
    if single_only and not side_problems:
        context.shared.single_ports[single] = ports
    return ports, (ALL_PORTS if side_problems else ports)


def _address_side(
    context: NsgContext,
    properties: Mapping[str, Any],
    singular: str,
    plural: str,
    asg_key: str,
    problems: list[Problem],
    asg_names: list[str],
) -> tuple[AddressSet, AddressSet, int]:
    """(known addresses, widest addresses, the context words named) of one side; widest is
    everything when the side names ASGs or holds something unresolvable. The words are flags
    (``_VIRTUAL_NETWORK``, ``_INTERNET``): 0 means the side is the same in every context."""
    single = properties.get(singular)
    single_only = type(single) is str and not properties.get(plural) and not properties.get(asg_key)
    if single_only:
        known = context.shared.single_addresses.get(single)
        if known is not None:
            return known, known, 0
        known = context.single_addresses.get(single)
        if known is not None:
            return known, known, _context_word_flags((single,))
    side_problems: list[Problem] = []
    values = _field_values(properties, singular, plural, side_problems)
    side_asgs = _asg_names(properties, asg_key, side_problems)
    if not values and not side_asgs and not side_problems:
        side_problems.append((MISSING_DATA, plural, f"the rule has neither {singular} nor {plural}"))
    known, resolve_problems, context_free = context.resolve_addresses(values)
    side_problems.extend(resolve_problems)
    problems.extend(side_problems)
    asg_names.extend(side_asgs)
    words = 0 if context_free else _context_word_flags(values)
    if side_problems or side_asgs:
        return known, context.everything, words
    if single_only:
        (context.shared.single_addresses if context_free else context.single_addresses)[single] = known
    return known, known, words


_CONTEXT_WORDS = frozenset({"virtualnetwork", "internet"})
"""Items whose meaning depends on the VNet; everything else resolves the same in every context."""
_VIRTUAL_NETWORK, _INTERNET = 1, 2
SOURCE_NAMES_INTERNET, DESTINATION_NAMES_INTERNET = 1, 2


def _context_word_flags(values: tuple[str, ...]) -> int:
    flags = 0
    for value in values:
        word = value.strip().lower()
        if word == "virtualnetwork":
            flags |= _VIRTUAL_NETWORK
        elif word == "internet":
            flags |= _INTERNET
    return flags


class ResolutionCache:
    """What rule text resolves to, shared by every NSG a compiler compiles.

    Ports, literal prefixes and service tags mean the same in every VNet, and
    the same strings recur across thousands of NSGs (``*``, ``443``,
    ``AzureMachineLearning``), so they are resolved once per run; only sides
    naming ``VirtualNetwork`` or ``Internet`` are resolved per VNet context.
    """

    def __init__(self, tags: ServiceTagIndex | None) -> None:
        self.tags = tags
        self.items: dict[str, tuple[AddressSet, tuple[Problem, ...]]] = {}
        self.sides: dict[tuple[str, ...], tuple[AddressSet, tuple[Problem, ...]]] = {}
        self.single_addresses: dict[str, AddressSet] = {}
        self.ports: dict[tuple[str, ...], tuple[IntervalSet, tuple[Problem, ...]]] = {}
        self.single_ports: dict[str, IntervalSet] = {}

    def resolve_item(self, value: str) -> tuple[AddressSet, tuple[Problem, ...]]:
        """A literal prefix or a service-tag name (not a context word)."""
        cached = self.items.get(value)
        if cached is None:
            cached = self._resolve_prefix_or_tag(value)
            self.items[value] = cached
        return cached

    def _resolve_prefix_or_tag(self, value: str) -> tuple[AddressSet, tuple[Problem, ...]]:
        try:
            return AddressSet.parse(value), ()
        except ParseError:
            pass
        if self.tags is None:
            return AddressSet(), ((UNKNOWN_SERVICE_TAG, value, f"service tag {value}: no service-tag data was collected"),)
        try:
            resolved = self.tags.get(value)
        except ServiceTagDataError as problem:
            return AddressSet(), ((INVALID_VALUE, value, str(problem)),)
        if resolved is None:
            return AddressSet(), ((UNKNOWN_SERVICE_TAG, value, f"{value} is neither a prefix nor a known service tag"),)
        return resolved.addresses, ()

    def resolve_ports(self, values: tuple[str, ...]) -> tuple[IntervalSet, tuple[Problem, ...]]:
        cached = self.ports.get(values)
        if cached is not None:
            return cached
        parsed: list[IntervalSet] = []
        problems: list[Problem] = []
        for value in values:
            try:
                parsed.append(parse_port_item(value))
            except ParseError as problem:
                problems.append((INVALID_VALUE, value, str(problem)))
        result = (intervals.union_all(parsed) if len(parsed) != 1 else parsed[0], tuple(problems))
        self.ports[values] = result
        return result


class NsgContext:
    """What tags mean around one NSG: ``VirtualNetwork``, ``Internet`` and the tag data.

    ``internet`` defaults to :func:`internet_addresses` of ``virtual_network``. A caller
    passes it when the two are not complements: the catalog judges ``Internet`` under a
    subnet's user routes both with and without the route prefixes that ``VirtualNetwork``
    holds (see :class:`VirtualNetworkTags`).
    """

    def __init__(
        self,
        virtual_network: AddressSet,
        tags: ServiceTagIndex | None,
        shared: ResolutionCache | None = None,
        internet: AddressSet | None = None,
    ) -> None:
        self.virtual_network = virtual_network
        self.tags = tags
        self.internet = internet if internet is not None else internet_addresses(virtual_network)
        self.shared = shared if shared is not None else ResolutionCache(tags)
        self.everything = AddressSet.everything()
        # Sides that name VirtualNetwork or Internet, by their text.
        self.sides: dict[tuple[str, ...], tuple[AddressSet, tuple[Problem, ...]]] = {}
        self.single_addresses: dict[str, AddressSet] = {}

    def resolve_addresses(self, values: tuple[str, ...]) -> tuple[AddressSet, tuple[Problem, ...], bool]:
        """The union of the address items of one rule side, what could not be
        resolved, and whether the answer is the same in every VNet context."""
        cached = self.shared.sides.get(values)
        if cached is not None:
            return cached[0], cached[1], True
        cached = self.sides.get(values)
        if cached is not None:
            return cached[0], cached[1], False
        known: list[AddressSet] = []
        problems: list[Problem] = []
        context_free = True
        for value in values:
            word = value.strip().lower()
            if word in ("*", "any"):
                known.append(self.everything)
            elif word == "azureloadbalancer":
                known.append(AZURE_LOAD_BALANCER)
            elif word in _CONTEXT_WORDS:
                context_free = False
                known.append(self.virtual_network if word == "virtualnetwork" else self.internet)
            else:
                addresses, item_problems = self.shared.resolve_item(value)
                known.append(addresses)
                problems.extend(item_problems)
        if len(known) == 1:
            union = known[0]
        else:
            union = AddressSet(
                intervals.union_all(part.v4 for part in known),
                intervals.union_all(part.v6 for part in known),
            )
        result = (union, tuple(problems))
        (self.shared.sides if context_free else self.sides)[values] = result
        return union, result[1], context_free


def _field_values(properties: Mapping[str, Any], singular: str, plural: str, problems: list[Problem]) -> tuple[str, ...]:
    """The values of a singular/plural field pair (ARM fills one, leaves the other empty or absent)."""
    plural_value = properties.get(plural)
    singular_value = properties.get(singular)
    if not plural_value and isinstance(singular_value, str) and singular_value.strip():
        return (singular_value,)
    values: list[str] = []
    if isinstance(plural_value, list):
        for item in plural_value:
            if isinstance(item, str) and item.strip():
                values.append(item)
            else:
                problems.append((INVALID_VALUE, repr(item), f"{plural} holds {item!r}"))
    elif plural_value is not None and plural_value != "":
        problems.append((INVALID_VALUE, repr(plural_value), f"{plural} is not a list"))
    if isinstance(singular_value, str):
        if singular_value.strip():
            values.append(singular_value)
    elif singular_value is not None:
        problems.append((INVALID_VALUE, repr(singular_value), f"{singular} is not a string"))
    return tuple(values)


def _asg_names(properties: Mapping[str, Any], key: str, problems: list[Problem]) -> tuple[str, ...]:
    groups = properties.get(key)
    if not groups:
        return ()
    if not isinstance(groups, list):
        problems.append((INVALID_VALUE, repr(groups), f"{key} is not a list"))
        return ()
    names: list[str] = []
    for group in groups:
        group_id = group.get("id") if isinstance(group, Mapping) else None
        if isinstance(group_id, str) and group_id:
            names.append(group_id.rstrip("/").rsplit("/", 1)[-1])
        elif isinstance(group, Mapping) and isinstance(group.get("name"), str):
            names.append(group["name"])
        else:
            names.append("(unnamed application security group)")
    return tuple(names)


def _is_mapping(value: Any) -> bool:
    # type() first: the ABC check behind isinstance(..., Mapping) is slow, and ARM JSON is dicts.
    return type(value) is dict or isinstance(value, Mapping)


def _parse_priority(value: Any) -> int | None:
    if type(value) is int:
        return value
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value)
    return None


_ACCESS = {"allow": "Allow", "deny": "Deny"}


def _parse_access(value: Any) -> str | None:
    if value == "Allow" or value == "Deny":
        return str(value)
    return _ACCESS.get(value.strip().lower()) if type(value) is str else None


_DIRECTIONS = {member.value.lower(): member for member in Direction}


def _parse_direction(value: Any) -> Direction | None:
    if value == "Inbound":
        return Direction.INBOUND
    if value == "Outbound":
        return Direction.OUTBOUND
    return _DIRECTIONS.get(value.strip().lower()) if type(value) is str else None


class _PlacedRule:
    """A raw rule whose direction, priority and access are known (cheap first pass)."""

    __slots__ = ("raw", "properties", "name", "rule_id", "priority", "access", "is_default", "order")

    def __init__(
        self,
        raw: Mapping[str, Any],
        properties: Mapping[str, Any],
        name: str,
        rule_id: str | None,
        priority: int,
        access: str,
        is_default: bool,
        order: int,
    ) -> None:
        self.raw = raw
        self.properties = properties
        self.name = name
        self.rule_id = rule_id
        self.priority = priority
        self.access = access
        self.is_default = is_default
        self.order = order



class CompiledNsg:
    """An NSG ready for evaluation in one VNet context.

    The cheap pass (direction, priority, access of every rule) runs at
    construction; a direction's rules are compiled into boxes on first use,
    since most questions only ever ask one direction of an NSG.
    """

    def __init__(self, nsg: Mapping[str, Any], context: NsgContext, template: CompiledNsg | None = None) -> None:
        if not isinstance(nsg, Mapping):
            raise TypeError(f"an NSG must be the ARM object (a mapping), not {type(nsg).__name__}")
        self.raw = nsg
        self.context = context
        self._compiled: dict[Direction, tuple[CompiledRule, ...]] = {}
        # Resolved rules naming Internet, as (position, on the source, on the destination), in order.
        self._internet_rules: dict[Direction, list[tuple[int, bool, bool]]] = {Direction.INBOUND: [],
                                                                               Direction.OUTBOUND: []}
        # The same NSG object compiled in another context: its placement, and per direction the
        # rules that mean the same in every context, do not depend on the context and are shared.
        self._template = template if template is not None and template.raw is nsg else None
        self._twins: dict[tuple[Direction, int], CompiledRule] = {}
        if self._template is not None:
            self.name, self.id = self._template.name, self._template.id
            self._placed, self._problems = self._template._placed, self._template._problems
            self._layout = self._template._layout
            return
        self._layout: dict[tuple[str, Direction], Any] = {}  # context-free facts, shared with later contexts
        self.name: str = nsg.get("name") if isinstance(nsg.get("name"), str) else "(unnamed NSG)"
        self.id: str | None = nsg.get("id") if isinstance(nsg.get("id"), str) else None
        self._placed: dict[Direction, list[_PlacedRule]] = {Direction.INBOUND: [], Direction.OUTBOUND: []}
        self._problems: dict[Direction, list[Unresolved]] = {Direction.INBOUND: [], Direction.OUTBOUND: []}
        self._place_rules()

    # first pass ------------------------------------------------------------

    def make_problem(self, kind: str, item: str | None, value: str, detail: str) -> Unresolved:
        return Unresolved(kind=kind, container=f"NSG {self.name}", item=item, value=value, detail=detail)

    def _both_directions(self, problem: Unresolved) -> None:
        self._problems[Direction.INBOUND].append(problem)
        self._problems[Direction.OUTBOUND].append(problem)

    def _place_rules(self) -> None:
        properties = self.raw.get("properties")
        if not isinstance(properties, Mapping):
            self._both_directions(self.make_problem(MISSING_DATA, None, "properties", "the NSG object has no properties"))
            properties = {}
        security_rules = properties.get("securityRules")
        if security_rules is None and properties:
            # ARM always returns the list (possibly empty); without it we do not know the rules.
            self._both_directions(
                self.make_problem(MISSING_DATA, None, "securityRules", "securityRules were not collected")
            )
            security_rules = []
        elif not isinstance(security_rules, list):
            if properties:
                self._both_directions(
                    self.make_problem(INVALID_VALUE, None, "securityRules", "securityRules is not a list")
                )
            security_rules = []
        default_rules = properties.get("defaultSecurityRules")
        if not isinstance(default_rules, list) or not default_rules:
            default_rules = list(WELL_KNOWN_DEFAULT_RULES)
        order = 0
        for raw_rules, is_default in ((security_rules, False), (default_rules, True)):
            for raw in raw_rules:
                self._place_rule(raw, is_default, order)
                order += 1
        for direction, placed in self._placed.items():
            placed.sort(key=lambda rule: (rule.priority, rule.is_default, rule.order))
            for earlier, later in zip(placed, placed[1:]):
                if earlier.priority == later.priority:
                    self._problems[direction].append(
                        self.make_problem(
                            INVALID_VALUE,
                            later.name,
                            str(later.priority),
                            f"rules {earlier.name} and {later.name} share priority {later.priority}"
                            f" ({direction.value}); their order is undefined",
                        )
                    )

    def _place_rule(self, raw: Any, is_default: bool, order: int) -> None:
        is_mapping = _is_mapping(raw)
        name = raw.get("name") if is_mapping else None
        if type(name) is not str:
            name = "(unnamed rule)"
        properties = raw.get("properties") if is_mapping else None
        if not _is_mapping(properties):
            self._both_directions(self.make_problem(MISSING_DATA, name, "properties", "the rule has no properties"))
            return
        direction = _parse_direction(properties.get("direction"))
        priority = properties.get("priority")
        if type(priority) is not int:
            priority = _parse_priority(priority)
        access = _parse_access(properties.get("access"))
        if direction is None or priority is None or access is None:
            missing = [
                field
                for field, parsed in (("direction", direction), ("priority", priority), ("access", access))
                if parsed is None
            ]
            problem = self.make_problem(
                INVALID_VALUE,
                name,
                ", ".join(missing),
                f"the rule has no valid {' or '.join(missing)}, so it cannot be placed in priority order",
            )
            if direction is None:
                self._both_directions(problem)
            else:
                self._problems[direction].append(problem)
            return
        rule_id = raw.get("id")
        if type(rule_id) is not str:
            rule_id = None
        if rule_id is None and is_default and self.id:
            rule_id = f"{self.id}/defaultSecurityRules/{name}"
        self._placed[direction].append(
            _PlacedRule(raw, properties, name, rule_id, priority, access, is_default, order)
        )

    # second pass -------------------------------------------------------------

    def problems(self, direction: Direction | str) -> tuple[Unresolved, ...]:
        """NSG-level problems that make every answer in this direction incomplete."""
        return tuple(self._problems[direction if isinstance(direction, Direction) else Direction.parse(direction)])

    def rules(self, direction: Direction | str) -> tuple[CompiledRule, ...]:
        """The direction's rules in evaluation order (ascending priority).

        The NSG object compiled for another context (an earlier :class:`NsgCompiler` entry) shares
        its tuple: protocol, ports and priority do not depend on the context, and most rules are
        filtered out on those alone. Before resolving a rule's addresses, take it through
        :meth:`own` (the evaluator does), which keeps a rule shared only once it is known to mean
        the same in every context."""
        if not isinstance(direction, Direction):
            direction = Direction.parse(direction)
        compiled = self._compiled.get(direction)
        if compiled is None:
            if self._template is not None:
                compiled = self._template.rules(direction)
            else:
                compiled = tuple(CompiledRule(self, placed, direction, position)
                                 for position, placed in enumerate(self._placed[direction]))
            self._compiled[direction] = compiled
        return compiled

    def own(self, rule: CompiledRule) -> CompiledRule:
        """`rule` (from :meth:`rules`) as this compilation resolves it: itself when it is this
        NSG's or resolved and context-free, else this context's copy (made once)."""
        if rule.nsg is self or rule.context_free:
            return rule
        key = (rule.direction, rule.position)
        twin = self._twins.get(key)
        if twin is None:
            twin = self._twins[key] = rule.rebound(self)
        return twin

    def note_internet_rule(self, rule: CompiledRule) -> None:
        """Called when a rule naming Internet is resolved: :meth:`internet_rules` lists it."""
        marked = self._internet_rules[rule.direction]
        insort(marked, (rule.position, bool(rule.internet_sides & SOURCE_NAMES_INTERNET),
                        bool(rule.internet_sides & DESTINATION_NAMES_INTERNET)))

    def internet_rules(self, direction: Direction) -> list[tuple[int, bool, bool]]:
        """``(position, source names Internet, destination names Internet)`` of each rule of the
        direction that names the ``Internet`` tag and has been resolved, in evaluation order. A
        rule is resolved before it can match a packet of any question asked, so for a verdict
        already reached these are all the rules naming Internet that could have decided part of it."""
        return self._internet_rules[direction]

    def position_of(self, direction: Direction, ref: RuleRef) -> int:
        """Where the rule ``ref`` stands in the direction's evaluation order; past the last rule for
        the "no matching rule" outcome. Rules are ordered by (priority, default or not), so this is
        a bisection and a name comparison."""
        placed = self._placed[direction]
        if ref.kind != RULE or ref.priority is None:
            return len(placed)
        key = ("order", direction)
        keys = self._layout.get(key)
        if keys is None:
            keys = self._layout[key] = [(rule.priority, rule.is_default) for rule in placed]
        wanted = (ref.priority, ref.is_default)
        low, high = bisect_left(keys, wanted), bisect_right(keys, wanted)
        for position in range(low, high):
            if placed[position].name == ref.rule_name:
                return position
        # Not placed by this NSG (it cannot be): past every rule it could stand for, the cautious side.
        return high if high > low else len(placed)

    def rule_properties(self, direction: Direction, ref: RuleRef) -> Mapping[str, Any] | None:
        """The ARM ``properties`` of the rule ``ref`` names (None for a "no matching rule" outcome)."""
        position = self.position_of(direction, ref)
        placed = self._placed[direction]
        return placed[position].properties if position < len(placed) else None

    def __repr__(self) -> str:
        return f"CompiledNsg({self.name!r})"


def names_tag(properties: Mapping[str, Any], side: str, tag: str) -> bool:
    """Whether a rule's ``side`` (``"source"`` or ``"destination"``) names the tag (any case)."""
    return _names_word(properties, f"{side}AddressPrefix", f"{side}AddressPrefixes", tag.lower())


def _names_word(properties: Mapping[str, Any], singular: str, plural: str, word: str) -> bool:
    values = [properties.get(singular)]
    many = properties.get(plural)
    if isinstance(many, list):
        values.extend(many)
    return any(isinstance(value, str) and value.strip().lower() == word for value in values)


def _family_boxes(
    protocol_mask: int,
    dst_ports: IntervalSet,
    src_ports: IntervalSet,
    dst: AddressSet,
    src: AddressSet,
) -> FamilyBoxes:
    if not protocol_mask or not dst_ports or not src_ports:
        return (None, None)
    v4: RuleBox | None = (protocol_mask, dst_ports, src_ports, dst.v4, src.v4) if dst.v4 and src.v4 else None
    v6: RuleBox | None = (protocol_mask, dst_ports, src_ports, dst.v6, src.v6) if dst.v6 and src.v6 else None
    return (v4, v6)


class NsgCompiler:
    """Compiles NSGs once per (NSG object, VNet context) and keeps the result.

    Build one per run with the run's :class:`ServiceTagIndex`; literal
    prefixes and tag lookups are shared by every NSG it compiles.
    """

    def __init__(self, tags: ServiceTagIndex | None) -> None:
        self.tags = tags
        self.shared = _shared_cache(tags)
        self._contexts: dict[tuple[AddressSet, AddressSet | None], NsgContext] = {}
        # Keyed by id() of the NSG object; the object itself is kept in the value so
        # the id cannot be reused by another object while the entry lives.
        self._compiled: dict[tuple[int, AddressSet, AddressSet | None], tuple[Mapping[str, Any], CompiledNsg]] = {}
        # The first compilation of each NSG object: later contexts share its placement and parsing.
        self._first: dict[int, tuple[Mapping[str, Any], CompiledNsg]] = {}

    def context(self, virtual_network: AddressSet, internet: AddressSet | None = None) -> NsgContext:
        key = (virtual_network, internet)
        context = self._contexts.get(key)
        if context is None:
            context = NsgContext(virtual_network, self.tags, self.shared, internet)
            self._contexts[key] = context
        return context

    def compile(self, nsg: Mapping[str, Any], virtual_network: AddressSet | VirtualNetworkTags,
                internet: AddressSet | None = None) -> CompiledNsg:
        """The NSG compiled where the ``VirtualNetwork`` tag is ``virtual_network`` and ``Internet``
        is ``internet`` (default: every address outside ``virtual_network`` and AzureLoadBalancer).
        Pass a :class:`VirtualNetworkTags` to give both at once. Compiled once per (NSG, tags)."""
        if isinstance(virtual_network, VirtualNetworkTags):
            virtual_network, internet = virtual_network.virtual_network, virtual_network.internet
        key = (id(nsg), virtual_network, internet)
        cached = self._compiled.get(key)
        if cached is not None and cached[0] is nsg:
            return cached[1]
        first = self._first.get(id(nsg))
        template = first[1] if first is not None and first[0] is nsg else None
        compiled = CompiledNsg(nsg, self.context(virtual_network, internet), template)
        self._compiled[key] = (nsg, compiled)
        if template is None:
            self._first[id(nsg)] = (nsg, compiled)
        return compiled


_SHARED_BY_INDEX: weakref.WeakKeyDictionary[ServiceTagIndex, ResolutionCache] = weakref.WeakKeyDictionary()
_SHARED_WITHOUT_TAGS = ResolutionCache(None)


def _shared_cache(tags: ServiceTagIndex | None) -> ResolutionCache:
    if tags is None:
        return _SHARED_WITHOUT_TAGS
    shared = _SHARED_BY_INDEX.get(tags)
    if shared is None:
        shared = ResolutionCache(tags)
        _SHARED_BY_INDEX[tags] = shared
    return shared


def compile_nsg(
    nsg: Mapping[str, Any],
    virtual_network: AddressSet | VirtualNetworkTags,
    tags: ServiceTagIndex | None,
    internet: AddressSet | None = None,
) -> CompiledNsg:
    """Compile one NSG (not cached; prefer :class:`NsgCompiler` in a scan).

    What rule text resolves to (prefixes, ports, tags) is still shared with
    every other NSG compiled against the same tag index.
    """
    if isinstance(virtual_network, VirtualNetworkTags):
        virtual_network, internet = virtual_network.virtual_network, virtual_network.internet
    return CompiledNsg(nsg, NsgContext(virtual_network, tags, _shared_cache(tags), internet))
