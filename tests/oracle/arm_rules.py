"""The oracle's own reading of ARM network security rules.

Written from the catalog (/work/shared/requirements.md, "allowed" and
"Service tags in rules") and ARM's response shape, without looking at
``amlaudit.auditor.netpolicy``: a differential test needs two independent readings.

An address field becomes an ``AddressMatcher``: a union of explicit networks
and "everything outside these networks" terms. ``Internet`` is kept as such a
complement rather than expanded into CIDRs, so the oracle never does the
interval subtraction the engine does; z3 and the point sampler test
membership of the complement directly.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

IPNetwork: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network
Direction: TypeAlias = Literal["Inbound", "Outbound"]
Access: TypeAlias = Literal["Allow", "Deny"]
PortRange: TypeAlias = tuple[int, int]
# The question a caller asks decides how rules naming application security
# groups (unresolvable to addresses) are read: the worst case for the question.
AsgReading: TypeAlias = Literal["all_allowed", "any_allowed"]
# Catalog, "Service tags in rules": where the subnet has user routes, Internet is judged both ways:
# outside VirtualNetwork with the route prefixes, and outside it without them.
InternetReading: TypeAlias = Literal["with_routes", "without_routes"]

# ARM's protocol enum, in its own spelling. `*` (and the effective-rules API's
# `All`, and `Any`) mean every one of these.
PROTOCOLS: tuple[str, ...] = ("Tcp", "Udp", "Icmp", "Esp", "Ah")
_PROTOCOL_BY_LOWER = {name.lower(): name for name in PROTOCOLS}
_ALL_PROTOCOL_SPELLINGS = frozenset({"*", "all", "any"})

PORT_MIN = 0
PORT_MAX = 65535

# The platform's health-probe address (catalog: AzureLoadBalancer).
AZURE_LOAD_BALANCER = ipaddress.ip_network("168.63.129.16/32")


class OracleInputError(ValueError):
    """The ARM data can't be read unambiguously; the oracle refuses to guess."""


@dataclass(frozen=True)
class AddressMatcher:
    """A set of addresses: ``networks`` ∪ ⋃ (every address outside ``c``) for c in ``complements``.

    ``AddressMatcher((), ((),))`` is every address of both families (the
    complement of nothing); ``AddressMatcher((), ())`` is no address.
    """

    networks: tuple[IPNetwork, ...]
    complements: tuple[tuple[IPNetwork, ...], ...]

    @staticmethod
    def everything() -> AddressMatcher:
        return AddressMatcher((), ((),))

    @staticmethod
    def nothing() -> AddressMatcher:
        return AddressMatcher((), ())

    @staticmethod
    def union(parts: Iterable[AddressMatcher]) -> AddressMatcher:
        networks: list[IPNetwork] = []
        complements: list[tuple[IPNetwork, ...]] = []
        for part in parts:
            networks.extend(part.networks)
            complements.extend(part.complements)
        return AddressMatcher(tuple(networks), tuple(complements))

    def contains(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        """Membership by the definition above (slow but obviously right; the sampler compiles its own)."""
        if any(address in network for network in self.networks if network.version == address.version):
            return True
        return any(
            not any(address in network for network in complement if network.version == address.version)
            for complement in self.complements
        )

    def all_networks(self) -> tuple[IPNetwork, ...]:
        """Every network named anywhere in the matcher (for boundary sampling)."""
        named = list(self.networks)
        for complement in self.complements:
            named.extend(complement)
        return tuple(named)


@dataclass(frozen=True)
class AddressContext:
    """What address tags mean for one NSG evaluation.

    ``virtual_network``: the VNet's own networks (its address space, peered VNets' spaces, the
    on-premises spaces of its site-to-site connections).
    ``service_tags``: tag name (any case, global ``Storage`` or regional
    ``Storage.EastUS``) -> that entry's ``addressPrefixes``.
    ``route_prefixes``: the ``addressPrefix`` of every route of the subnet's route table, as
    written (a CIDR or a service-tag name); see :func:`route_prefixes_of`. The catalog puts
    them in ``VirtualNetwork``.
    ``internet_reading``: ``Internet`` is every address outside ``VirtualNetwork`` and
    168.63.129.16, ``VirtualNetwork`` taken with the route prefixes or without them.
    """

    virtual_network: tuple[str, ...]
    service_tags: Mapping[str, Sequence[str]]
    route_prefixes: tuple[str, ...] = ()
    internet_reading: InternetReading = "with_routes"

    def __post_init__(self) -> None:
        lowered: dict[str, tuple[str, ...]] = {}
        for name, prefixes in self.service_tags.items():
            key = name.lower()
            if key in lowered:
                raise OracleInputError(f"service tag {name!r} given twice (names compare case-insensitively)")
            lowered[key] = tuple(prefixes)
        object.__setattr__(self, "service_tags", lowered)

    def own_networks(self) -> tuple[IPNetwork, ...]:
        return tuple(parse_network(prefix) for prefix in self.virtual_network)

    def route_networks(self) -> tuple[IPNetwork, ...]:
        networks: list[IPNetwork] = []
        for prefix in self.route_prefixes:
            if _looks_like_ip(prefix):
                networks.append(parse_network(prefix))
            else:
                tagged = self.tag_networks(prefix)
                if tagged is None:
                    raise OracleInputError(f"route names unknown service tag {prefix!r}")
                networks.extend(tagged)
        return tuple(networks)

    def virtual_network_networks(self) -> tuple[IPNetwork, ...]:
        """The ``VirtualNetwork`` tag: the own networks and every route prefix."""
        return self.own_networks() + self.route_networks()

    def internet_excludes(self) -> tuple[IPNetwork, ...]:
        """What ``Internet`` leaves out besides 168.63.129.16, under this reading."""
        return self.virtual_network_networks() if self.internet_reading == "with_routes" else self.own_networks()

    def tag_networks(self, tag: str) -> tuple[IPNetwork, ...] | None:
        prefixes = self.service_tags.get(tag.lower())
        if prefixes is None:
            return None
        return tuple(parse_network(prefix) for prefix in prefixes)


@dataclass(frozen=True)
class OracleRule:
    """One security rule, resolved to address/port/protocol sets.

    ``asg_assumed`` is true when the rule names application security groups
    and the matcher on that side was replaced by the worst case for the
    question (see ``AsgReading``).
    """

    name: str
    priority: int
    direction: Direction
    access: Access
    protocols: frozenset[str]
    source: AddressMatcher
    source_ports: tuple[PortRange, ...]
    destination: AddressMatcher
    destination_ports: tuple[PortRange, ...]
    is_default: bool
    asg_assumed: bool = False


@dataclass(frozen=True)
class ParsedNsg:
    """An NSG's rules per direction, in evaluation order (ascending priority)."""

    name: str
    inbound: tuple[OracleRule, ...]
    outbound: tuple[OracleRule, ...]

    def rules_for(self, direction: Direction) -> tuple[OracleRule, ...]:
        return self.inbound if direction == "Inbound" else self.outbound


def _rule(name: str, priority: int, direction: Direction, access: Access, source: str, destination: str) -> dict[str, Any]:
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


# Azure's six default rules, used when an NSG object carries no
# `defaultSecurityRules` (an NSG built by hand, or collected without them).
AZURE_DEFAULT_RULES: tuple[dict[str, Any], ...] = (
    _rule("AllowVnetInBound", 65000, "Inbound", "Allow", "VirtualNetwork", "VirtualNetwork"),
    _rule("AllowAzureLoadBalancerInBound", 65001, "Inbound", "Allow", "AzureLoadBalancer", "*"),
    _rule("DenyAllInBound", 65500, "Inbound", "Deny", "*", "*"),
    _rule("AllowVnetOutBound", 65000, "Outbound", "Allow", "VirtualNetwork", "VirtualNetwork"),
    _rule("AllowInternetOutBound", 65001, "Outbound", "Allow", "*", "Internet"),
    _rule("DenyAllOutBound", 65500, "Outbound", "Deny", "*", "*"),
)


def parse_network(text: str) -> IPNetwork:
    """A CIDR or bare IP ("10.0.0.4" -> 10.0.0.4/32); host bits set are an error, not silently masked."""
    try:
        return ipaddress.ip_network(text.strip(), strict=True)
    except ValueError as exc:
        raise OracleInputError(f"not an IP prefix: {text!r} ({exc})") from exc


def _looks_like_ip(text: str) -> bool:
    # Tags are identifiers (letters, digits, dots); an address has ':' (IPv6)
    # or starts with a digit (IPv4). Tag names never start with a digit.
    stripped = text.strip()
    return ":" in stripped or (stripped[:1].isdigit())


def resolve_address_item(item: str, context: AddressContext) -> AddressMatcher:
    """One entry of an address field: `*`/`Any`, a special tag, a service tag, a CIDR or a bare IP."""
    text = item.strip()
    lowered = text.lower()
    if lowered in ("*", "any"):
        return AddressMatcher.everything()
    if lowered == "virtualnetwork":
        return AddressMatcher(context.virtual_network_networks(), ())
    if lowered == "azureloadbalancer":
        return AddressMatcher((AZURE_LOAD_BALANCER,), ())
    if lowered == "internet":
        outside = context.internet_excludes() + (AZURE_LOAD_BALANCER,)
        return AddressMatcher((), (outside,))
    if _looks_like_ip(text):
        return AddressMatcher((parse_network(text),), ())
    networks = context.tag_networks(text)
    if networks is None:
        raise OracleInputError(f"unknown service tag {text!r}")
    return AddressMatcher(networks, ())


def route_prefixes_of(route_table: Mapping[str, Any] | None) -> tuple[str, ...]:
    """The ``addressPrefix`` of every route of an ARM route table (``properties.routes``), as written.
    The oracle refuses a route it cannot read rather than leave it out."""
    if route_table is None:
        return ()
    routes = route_table.get("properties", {}).get("routes") if isinstance(route_table.get("properties"), Mapping) else None
    if not isinstance(routes, list):
        raise OracleInputError("route table without a routes list")
    prefixes: list[str] = []
    for route in routes:
        properties = route.get("properties") if isinstance(route, Mapping) else None
        prefix = properties.get("addressPrefix") if isinstance(properties, Mapping) else None
        if not isinstance(prefix, str) or not prefix.strip() or not isinstance(properties.get("nextHopType"), str):
            raise OracleInputError(f"unreadable route {route!r}")
        prefixes.append(prefix.strip())
    return tuple(prefixes)


def parse_port_item(item: str) -> PortRange:
    """`*`, `80`, `100-200` (also the effective-rules API's `0-65535`)."""
    text = item.strip()
    if text == "*":
        return (PORT_MIN, PORT_MAX)
    low_text, dash, high_text = text.partition("-")
    try:
        low = int(low_text)
        high = int(high_text) if dash else low
    except ValueError as exc:
        raise OracleInputError(f"not a port or port range: {item!r}") from exc
    if not (PORT_MIN <= low <= high <= PORT_MAX):
        raise OracleInputError(f"port range out of order or out of 0-65535: {item!r}")
    return (low, high)


def parse_protocol(value: Any) -> frozenset[str]:
    if not isinstance(value, str):
        raise OracleInputError(f"protocol is not a string: {value!r}")
    lowered = value.strip().lower()
    if lowered in _ALL_PROTOCOL_SPELLINGS:
        return frozenset(PROTOCOLS)
    if lowered in _PROTOCOL_BY_LOWER:
        return frozenset({_PROTOCOL_BY_LOWER[lowered]})
    raise OracleInputError(f"unknown protocol {value!r}")


def _field_items(properties: Mapping[str, Any], singular: str, plural: str) -> list[str]:
    """The singular and plural forms of one field, together.

    ARM returns the singular "" or absent when the plural is used and the
    plural [] or absent when the singular is used; both empty means the rule
    says nothing about this dimension, which the oracle refuses to read as
    "everything".
    """
    items: list[str] = []
    single = properties.get(singular)
    if single not in (None, ""):
        if not isinstance(single, str):
            raise OracleInputError(f"{singular} is not a string: {single!r}")
        items.append(single)
    many = properties.get(plural)
    if many is not None:
        if not isinstance(many, list) or not all(isinstance(entry, str) for entry in many):
            raise OracleInputError(f"{plural} is not a list of strings: {many!r}")
        items.extend(entry for entry in many if entry != "")
    return items


def _address_side(
    properties: Mapping[str, Any],
    side: Literal["source", "destination"],
    access: Access,
    context: AddressContext,
    asg_reading: AsgReading | None,
    rule_name: str,
) -> tuple[AddressMatcher, bool]:
    asgs = properties.get(f"{side}ApplicationSecurityGroups") or []
    items = _field_items(properties, f"{side}AddressPrefix", f"{side}AddressPrefixes")
    if asgs:
        if asg_reading is None:
            raise OracleInputError(f"rule {rule_name!r} names application security groups and no ASG reading was chosen")
        # Worst case for the question: asking "is all of it allowed?", an ASG
        # allow matches nothing and an ASG deny matches everything; asking "is
        # any of it allowed?", the other way round.
        matches_everything = (access == "Deny") == (asg_reading == "all_allowed")
        asg_matcher = AddressMatcher.everything() if matches_everything else AddressMatcher.nothing()
        return AddressMatcher.union([asg_matcher, *(resolve_address_item(item, context) for item in items)]), True
    if not items:
        raise OracleInputError(f"rule {rule_name!r} has no {side} address")
    return AddressMatcher.union(resolve_address_item(item, context) for item in items), False


def _port_side(properties: Mapping[str, Any], side: Literal["source", "destination"], rule_name: str) -> tuple[PortRange, ...]:
    items = _field_items(properties, f"{side}PortRange", f"{side}PortRanges")
    if not items:
        raise OracleInputError(f"rule {rule_name!r} has no {side} port")
    return tuple(parse_port_item(item) for item in items)


def _direction(value: Any) -> Direction:
    lowered = str(value).lower()
    if lowered == "inbound":
        return "Inbound"
    if lowered == "outbound":
        return "Outbound"
    raise OracleInputError(f"unknown direction {value!r}")


def _access(value: Any) -> Access:
    lowered = str(value).lower()
    if lowered == "allow":
        return "Allow"
    if lowered == "deny":
        return "Deny"
    raise OracleInputError(f"unknown access {value!r}")


def parse_rule(
    rule: Mapping[str, Any],
    context: AddressContext,
    *,
    is_default: bool = False,
    asg_reading: AsgReading | None = None,
) -> OracleRule:
    """One ARM ``securityRules``/``defaultSecurityRules`` entry."""
    name = rule.get("name")
    properties = rule.get("properties")
    if not isinstance(name, str) or not isinstance(properties, Mapping):
        raise OracleInputError(f"not an ARM security rule: {rule!r}")
    priority = properties.get("priority")
    if not isinstance(priority, int) or isinstance(priority, bool):
        raise OracleInputError(f"rule {name!r} has no integer priority: {priority!r}")
    access = _access(properties.get("access"))
    source, source_asg = _address_side(properties, "source", access, context, asg_reading, name)
    destination, destination_asg = _address_side(properties, "destination", access, context, asg_reading, name)
    return OracleRule(
        name=name,
        priority=priority,
        direction=_direction(properties.get("direction")),
        access=access,
        protocols=parse_protocol(properties.get("protocol")),
        source=source,
        source_ports=_port_side(properties, "source", name),
        destination=destination,
        destination_ports=_port_side(properties, "destination", name),
        is_default=is_default,
        asg_assumed=source_asg or destination_asg,
    )


def _ordered(rules: list[OracleRule], direction: Direction, nsg_name: str) -> tuple[OracleRule, ...]:
    chosen = sorted((rule for rule in rules if rule.direction == direction), key=lambda rule: rule.priority)
    for earlier, later in zip(chosen, chosen[1:]):
        if earlier.priority == later.priority:
            # ARM forbids this; with it, "first match" would depend on list order.
            raise OracleInputError(
                f"NSG {nsg_name!r}: rules {earlier.name!r} and {later.name!r} share {direction} priority {earlier.priority}"
            )
    return tuple(chosen)


def parse_nsg(
    nsg: Mapping[str, Any],
    context: AddressContext,
    *,
    asg_reading: AsgReading | None = None,
) -> ParsedNsg:
    """An ARM NSG object as GET returns it (``properties.securityRules`` and ``defaultSecurityRules``).

    ``defaultSecurityRules`` present (even empty) is taken as given; absent,
    Azure's six well-known defaults are used.
    """
    name = nsg.get("name")
    properties = nsg.get("properties")
    if not isinstance(name, str) or not isinstance(properties, Mapping):
        raise OracleInputError("not an ARM network security group object")
    user_rules = properties.get("securityRules")
    # ARM always returns the list, possibly empty; without it the rules are unknown.
    if not isinstance(user_rules, list):
        raise OracleInputError(f"NSG {name!r}: securityRules is not a list")
    default_rules = properties.get("defaultSecurityRules")
    if default_rules is None:
        default_rules = list(AZURE_DEFAULT_RULES)
    if not isinstance(default_rules, list):
        raise OracleInputError(f"NSG {name!r}: defaultSecurityRules is not a list")
    parsed = [parse_rule(rule, context, asg_reading=asg_reading) for rule in user_rules]
    parsed += [parse_rule(rule, context, is_default=True, asg_reading=asg_reading) for rule in default_rules]
    return ParsedNsg(name=name, inbound=_ordered(parsed, "Inbound", name), outbound=_ordered(parsed, "Outbound", name))
