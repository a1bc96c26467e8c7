"""Longest-prefix match of an address set over a route table plus Azure's system routes.

User routes come from the route table's ARM object (``properties.routes``,
each ``{"name", "properties": {"addressPrefix", "nextHopType",
"nextHopIpAddress"}}``). ``addressPrefix`` may be a service-tag name in newer
ARM; then each of the tag's prefixes is a route of its own length. Beneath
the user routes lie Azure's default system routes: the VNet's own space
(``VnetLocal``) and peered spaces (``VNetPeering``) when the caller passes
them, ``10.0.0.0/8``, ``172.16.0.0/12``, ``192.168.0.0/16`` and
``100.64.0.0/10`` to ``None``, and ``0.0.0.0/0`` / ``::/0`` to ``Internet``.

Selection is Azure's: the longest prefix wins; at equal length a user route
beats a system route, and a user route with an explicit prefix beats one with
a service tag. BGP-learned routes are not in ARM data and are not modelled.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import intervals
from .addresses import V4_END, V6_END, AddressSet, parse_block
from .errors import INVALID_VALUE, MISSING_DATA, UNKNOWN_SERVICE_TAG, ParseError, ServiceTagDataError, Unresolved
from .flows import Endpoint
from .tags import ResolvedTag, ServiceTagIndex

_RANK_USER_PREFIX = 0
_RANK_USER_TAG = 1
_RANK_SYSTEM = 2
_RANK_SYSTEM_RESERVED = 3
"""Azure replaces the ``None`` route of a private range with ``VnetLocal`` when
the VNet's space is that range, so at equal length the VNet route wins."""

_RESERVED_PRIVATE_RANGES = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")
_FAMILY_BITS = (32, 128)
_FAMILY_END = (V4_END, V6_END)


@dataclass(frozen=True)
class RouteRef:
    """The route that carries part of an address set."""

    name: str
    address_prefix: str
    """As written on the route: a CIDR or a service-tag name."""
    next_hop_type: str
    next_hop_ip: str | None
    is_system: bool
    route_table_name: str | None
    route_table_id: str | None
    route_id: str | None = None

    def __str__(self) -> str:
        hop = self.next_hop_type + (f" {self.next_hop_ip}" if self.next_hop_ip else "")
        if self.is_system:
            return f"system route {self.address_prefix} -> {hop}"
        return f"route {self.name} ({self.address_prefix} -> {hop}) in {self.route_table_name}"

    def to_json(self) -> dict[str, object]:
        return {
            "route": self.name,
            "route_id": self.route_id,
            "address_prefix": self.address_prefix,
            "next_hop_type": self.next_hop_type,
            "next_hop_ip": self.next_hop_ip,
            "system": self.is_system,
            "route_table": self.route_table_name,
            "route_table_id": self.route_table_id,
        }


@dataclass(frozen=True)
class RoutePart:
    """The addresses of the query that leave by one route."""

    addresses: AddressSet
    route: RouteRef


@dataclass(frozen=True)
class RouteVerdict:
    query: Endpoint
    parts: tuple[RoutePart, ...]
    unresolved: tuple[Unresolved, ...]
    """Routes the engine could not read (unknown tag, missing next hop): callers report ``error``."""

    @property
    def is_complete(self) -> bool:
        return not self.unresolved

    def addresses_via(self, next_hop_type: str) -> AddressSet:
        """The query's addresses whose chosen route has this next-hop type (any case)."""
        wanted = next_hop_type.lower()
        chosen = AddressSet()
        for part in self.parts:
            if part.route.next_hop_type.lower() == wanted:
                chosen = chosen | part.addresses
        return chosen

    def all_via(self, next_hop_type: str) -> bool:
        wanted = next_hop_type.lower()
        return all(part.route.next_hop_type.lower() == wanted for part in self.parts)

    def parts_not_via(self, next_hop_type: str) -> tuple[RoutePart, ...]:
        wanted = next_hop_type.lower()
        return tuple(part for part in self.parts if part.route.next_hop_type.lower() != wanted)


_Entry = tuple[int, int, int, int, int, RouteRef]
"""``(-prefix_length, rank, order, lo, hi, route)``; sorting gives the selection order."""


class CompiledRouteTable:
    """A route table (or none) with the system routes beneath it."""

    def __init__(
        self,
        route_table: Mapping[str, Any] | None,
        tags: ServiceTagIndex | None,
        vnet_address_space: AddressSet | None = None,
        peered_address_space: AddressSet | None = None,
    ) -> None:
        self.name: str | None = None
        self.id: str | None = None
        self.problems: list[Unresolved] = []
        self._entries: tuple[list[_Entry], list[_Entry]] = ([], [])
        self._order = 0
        if route_table is not None:
            self._add_user_routes(route_table, tags)
        self._add_system_routes(vnet_address_space, peered_address_space)
        for family_entries in self._entries:
            family_entries.sort(key=lambda entry: entry[:3])

    def _problem(self, kind: str, item: str | None, value: str, detail: str) -> None:
        self.problems.append(
            Unresolved(kind=kind, container=f"route table {self.name}", item=item, value=value, detail=detail)
        )

    def _add(self, block_text: str, rank: int, route: RouteRef) -> None:
        family, lo, hi = parse_block(block_text)
        family_index = 0 if family == 4 else 1
        length = _FAMILY_BITS[family_index] - ((hi - lo).bit_length() - 1)
        self._entries[family_index].append((-length, rank, self._order, lo, hi, route))
        self._order += 1

    def _add_user_routes(self, route_table: Mapping[str, Any], tags: ServiceTagIndex | None) -> None:
        if not isinstance(route_table, Mapping):
            raise TypeError(f"a route table must be the ARM object (a mapping), not {type(route_table).__name__}")
        self.name = route_table.get("name") if isinstance(route_table.get("name"), str) else "(unnamed route table)"
        self.id = route_table.get("id") if isinstance(route_table.get("id"), str) else None
        properties = route_table.get("properties")
        routes = properties.get("routes") if isinstance(properties, Mapping) else None
        if not isinstance(routes, list):
            self._problem(MISSING_DATA, None, "routes", "the route table's routes were not collected")
            return
        for raw in routes:
            self._add_user_route(raw, tags)
        self._flag_duplicate_prefixes()

    def _flag_duplicate_prefixes(self) -> None:
        """ARM refuses two routes for one prefix; a snapshot holding them cannot say which applies."""
        seen: dict[tuple[int, int, int], RouteRef] = {}
        for family_index, family_entries in enumerate(self._entries):
            for _, rank, _, lo, hi, route in family_entries:
                if rank != _RANK_USER_PREFIX:
                    continue
                earlier = seen.setdefault((family_index, lo, hi), route)
                if earlier is not route:
                    self._problem(
                        INVALID_VALUE, route.name, route.address_prefix,
                        f"routes {earlier.name} and {route.name} both name {route.address_prefix}; "
                        "Azure allows one route per prefix, so which one applies is unknown",
                    )

    def _add_user_route(self, raw: Any, tags: ServiceTagIndex | None) -> None:
        route, tag, problem = _read_user_route(raw, tags, self.name, self.id)
        if problem is not None:
            self._problem(*problem)
        elif tag is not None:
            for prefix in tag.prefixes:
                self._add(prefix, _RANK_USER_TAG, route)  # type: ignore[arg-type]
        else:
            assert route is not None
            self._add(route.address_prefix, _RANK_USER_PREFIX, route)

    def _add_system_routes(self, vnet: AddressSet | None, peered: AddressSet | None) -> None:
        def system(prefix: str, next_hop: str) -> RouteRef:
            return RouteRef(prefix, prefix, next_hop, None, True, None, None)

        for space, next_hop in ((vnet, "VnetLocal"), (peered, "VNetPeering")):
            if space is not None:
                for cidr in space.to_cidrs():
                    self._add(cidr, _RANK_SYSTEM, system(cidr, next_hop))
        for cidr in _RESERVED_PRIVATE_RANGES:
            self._add(cidr, _RANK_SYSTEM_RESERVED, system(cidr, "None"))
        self._add("0.0.0.0/0", _RANK_SYSTEM, system("0.0.0.0/0", "Internet"))
        self._add("::/0", _RANK_SYSTEM, system("::/0", "Internet"))

    def route(self, query: Endpoint | AddressSet) -> RouteVerdict:
        """Which part of ``query`` leaves by which route."""
        endpoint = Endpoint.of(query)
        per_route: dict[RouteRef, list[list[int]]] = {}
        for family_index, family_entries in enumerate(self._entries):
            remaining = endpoint.addresses.family_set(4 if family_index == 0 else 6)
            end = _FAMILY_END[family_index]
            for _, _, _, lo, hi, route in family_entries:
                if not remaining:
                    break
                if hi <= remaining[0] or remaining[-1] <= lo:  # most routes miss the query entirely
                    continue
                taken = intervals.intersect(remaining, (lo, hi))
                if not taken:
                    continue
                per_route.setdefault(route, [[], []])[family_index].extend(taken)
                remaining = intervals.difference(remaining, (lo, hi), end)
        parts = tuple(
            RoutePart(
                AddressSet(
                    intervals.from_pairs(intervals.pairs(tuple(v4))),
                    intervals.from_pairs(intervals.pairs(tuple(v6))),
                ),
                route,
            )
            for route, (v4, v6) in per_route.items()
        )
        return RouteVerdict(query=endpoint, parts=parts, unresolved=tuple(self.problems))


_Problem = tuple[str, str | None, str, str]


def _read_user_route(raw: Any, tags: ServiceTagIndex | None, table_name: str | None,
                     table_id: str | None) -> tuple[RouteRef | None, ResolvedTag | None, _Problem | None]:
    """(the route, the service tag its addressPrefix names or None for a CIDR, what could not be read)."""
    name = raw.get("name") if isinstance(raw, Mapping) and isinstance(raw.get("name"), str) else "(unnamed route)"
    properties = raw.get("properties") if isinstance(raw, Mapping) else None
    if not isinstance(properties, Mapping):
        return None, None, (MISSING_DATA, name, "properties", "the route has no properties")
    prefix = properties.get("addressPrefix")
    next_hop_type = properties.get("nextHopType")
    if not isinstance(prefix, str) or not prefix.strip():
        return None, None, (MISSING_DATA, name, "addressPrefix", "the route has no addressPrefix")
    if not isinstance(next_hop_type, str) or not next_hop_type.strip():
        return None, None, (MISSING_DATA, name, "nextHopType", "the route has no nextHopType")
    next_hop_ip = properties.get("nextHopIpAddress")
    route = RouteRef(
        name=name,
        address_prefix=prefix,
        next_hop_type=next_hop_type,
        next_hop_ip=next_hop_ip if isinstance(next_hop_ip, str) and next_hop_ip else None,
        is_system=False,
        route_table_name=table_name,
        route_table_id=table_id,
        route_id=raw.get("id") if isinstance(raw.get("id"), str) else None,
    )
    try:
        parse_block(prefix)
        return route, None, None
    except ParseError:
        pass
    try:
        resolved = tags.get(prefix) if tags is not None else None
    except ServiceTagDataError as problem:
        return route, None, (INVALID_VALUE, name, prefix, str(problem))
    if resolved is None:
        return route, None, (UNKNOWN_SERVICE_TAG, name, prefix, f"{prefix} is neither a prefix nor a known service tag")
    return route, resolved, None


def user_route_addresses(
    route_table: Mapping[str, Any], tags: ServiceTagIndex | None
) -> tuple[list[tuple[RouteRef, AddressSet]], list[Unresolved]]:
    """Each readable user route of a route table with the addresses its ``addressPrefix`` names
    (every prefix of the tag, for a service-tag route), and what could not be read. What the
    ``VirtualNetwork`` tag adds for a route table: Azure puts "address prefixes used on
    user-defined routes" in it. (No longest-prefix work: cheaper than compiling the table.)"""
    name = route_table.get("name") if isinstance(route_table.get("name"), str) else "(unnamed route table)"
    table_id = route_table.get("id") if isinstance(route_table.get("id"), str) else None
    properties = route_table.get("properties")
    routes = properties.get("routes") if isinstance(properties, Mapping) else None
    container = f"route table {name}"
    if not isinstance(routes, list):
        return [], [Unresolved(kind=MISSING_DATA, container=container, item=None, value="routes",
                               detail="the route table's routes were not collected")]
    found: list[tuple[RouteRef, AddressSet]] = []
    problems: list[Unresolved] = []
    for raw in routes:
        route, tag, problem = _read_user_route(raw, tags, name, table_id)
        if problem is not None:
            kind, item, value, detail = problem
            problems.append(Unresolved(kind=kind, container=container, item=item, value=value, detail=detail))
        elif route is not None:
            found.append((route, tag.addresses if tag is not None else AddressSet.parse(route.address_prefix)))
    return found, problems


def compile_route_table(
    route_table: Mapping[str, Any] | None,
    tags: ServiceTagIndex | None,
    vnet_address_space: AddressSet | None = None,
    peered_address_space: AddressSet | None = None,
) -> CompiledRouteTable:
    """Compile a route table (None: system routes only) for longest-prefix matching."""
    return CompiledRouteTable(route_table, tags, vnet_address_space, peered_address_space)
