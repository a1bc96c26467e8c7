"""Hypothesis strategies for NSGs and flow classes, in ARM's own shapes.

The address and port universes are deliberately small (a few anchors and
short windows) so generated prefixes, tags and ranges overlap, nest and
abut each other often: that is where first-match evaluation goes wrong.
"""

from __future__ import annotations

import functools
import ipaddress
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from .arm_rules import AZURE_DEFAULT_RULES
from .flows import FlowClass

VIRTUAL_NETWORK: tuple[str, ...] = ("10.0.0.0/16", "10.5.0.0/16", "fd00:1::/48")
# A small fake service-tag table: global and regional names, both families,
# prefixes overlapping each other, the VNet and the Internet.
FAKE_SERVICE_TAGS: dict[str, tuple[str, ...]] = {
    "BatchNodeManagement": ("20.0.0.0/16", "20.1.0.0/24", "2603:1000::/40"),
    "BatchNodeManagement.EastUS": ("20.0.4.0/22", "20.0.8.0/30", "2603:1000:4::/48"),
    "Storage.EastUS": ("20.0.6.0/23", "10.0.3.0/24", "2603:1000:4:8000::/49"),
    "AzureMachineLearning": ("20.1.0.128/25", "168.63.129.0/24", "fd00:1::/64"),
}
SPECIAL_TAGS: tuple[str, ...] = ("*", "Any", "Internet", "VirtualNetwork", "AzureLoadBalancer")

# Windows the generated prefixes fall into (a generated prefix may be shorter than its window).
_IPV4_WINDOWS = (
    ipaddress.ip_network("10.0.0.0/14"),
    ipaddress.ip_network("20.0.0.0/15"),
    ipaddress.ip_network("168.63.128.0/23"),
)
_IPV6_WINDOWS = (
    ipaddress.ip_network("2603:1000::/38"),
    ipaddress.ip_network("fd00::/30"),
)
_PORT_ANCHORS = (0, 1, 21, 22, 23, 79, 80, 81, 443, 444, 1023, 1024, 29876, 29877, 29878, 65534, 65535)


@dataclass(frozen=True)
class GeneratedCase:
    """One differential case: NSGs as ARM dicts and a flow class, and what the tags mean around them.

    ``composed`` false: ask about ``subnet_nsg`` alone (``nic_nsg`` is None);
    true: ask about the two-level path (either NSG may be missing).
    ``own_networks``: the VNet's space plus peers' and on-premises spaces; ``route_table``: the
    subnet's route table as ARM returns it (its prefixes join VirtualNetwork), or None;
    ``internet_reading``: which reading of Internet the case asks under.
    """

    subnet_nsg: dict[str, Any] | None
    nic_nsg: dict[str, Any] | None
    flow: FlowClass
    composed: bool
    own_networks: tuple[str, ...] = VIRTUAL_NETWORK
    route_table: dict[str, Any] | None = None
    internet_reading: str = "with_routes"


# Strategies are built once, at import: hypothesis validates every strategy
# object the first time it is drawn from, and building fresh ones inside each
# draw made generation cost more than the oracle itself.

_IPV6_LENGTHS = (38, 39, 40, 48, 49, 64, 65, 96, 127, 128)


@st.composite
def _prefix_in_window(draw: st.DrawFn, windows: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]) -> str:
    """A CIDR inside one of ``windows`` or, for a host prefix, sometimes the bare address (as ARM allows)."""
    window = draw(st.sampled_from(windows))
    bits = window.max_prefixlen
    if bits == 32:
        length = draw(_IPV4_LENGTH)
    else:
        # Long IPv6 prefixes are as interesting as /64s; keep a spread.
        length = max(window.prefixlen, draw(_IPV6_LENGTH))
    offset = draw(_OFFSET) % window.num_addresses
    address = int(window.network_address) + offset
    masked = address & (((1 << bits) - 1) ^ ((1 << (bits - length)) - 1))
    network = ipaddress.ip_network((masked, length))
    if length == bits and draw(st.booleans()):
        return str(network.network_address)
    return str(network)


_IPV4_LENGTH = st.one_of(st.integers(14, 24), st.integers(14, 32))
_IPV6_LENGTH = st.sampled_from(_IPV6_LENGTHS)
_OFFSET = st.one_of(st.integers(0, 255), st.integers(0, (1 << 128) - 1))
PREFIX_TEXT: dict[int, st.SearchStrategy[str]] = {
    4: _prefix_in_window(_IPV4_WINDOWS),
    6: _prefix_in_window(_IPV6_WINDOWS),
}
TAG_NAME: st.SearchStrategy[str] = st.sampled_from(
    [spelling for name in SPECIAL_TAGS + tuple(FAKE_SERVICE_TAGS) for spelling in (name, name.lower(), name.upper())]
)
_PREFIX_KIND = st.sampled_from(("v4", "v4", "v4", "v6", "v6", "everything"))
_EVERYTHING_PREFIX = st.sampled_from(("0.0.0.0/0", "::/0"))


@st.composite
def _any_prefix(draw: st.DrawFn) -> str:
    """Mostly IPv4 (as most rules are), some IPv6, now and then a whole family."""
    kind = draw(_PREFIX_KIND)
    if kind == "everything":
        return draw(_EVERYTHING_PREFIX)
    return draw(PREFIX_TEXT[4 if kind == "v4" else 6])


ANY_PREFIX: st.SearchStrategy[str] = _any_prefix()
_ADDRESS_ITEM = st.one_of(TAG_NAME, ANY_PREFIX)
_ADDRESS_LIST = st.lists(ANY_PREFIX, min_size=1, max_size=4)
_ASG = st.sampled_from(("web", "batch-nodes"))
_ONE_IN_25 = st.integers(0, 24)
_ONE_IN_5 = st.integers(0, 4)
_ONE_IN_4 = st.integers(0, 3)
_EMPTY_SINGULAR_SHAPE = st.sampled_from(("absent", "empty", "none"))


def _draw_address_fields(draw: st.DrawFn, side: str) -> dict[str, Any]:
    """``<side>AddressPrefix`` / ``<side>AddressPrefixes`` in the shapes ARM returns."""
    singular, plural = f"{side}AddressPrefix", f"{side}AddressPrefixes"
    if draw(_ONE_IN_25) == 0:
        # Application security groups: no prefixes on this side, as ARM returns it.
        group = draw(_ASG)
        return {
            f"{side}ApplicationSecurityGroups": [
                {"id": f"/subscriptions/sub/resourceGroups/rg/providers/Microsoft.Network/applicationSecurityGroups/{group}"}
            ]
        }
    if draw(st.booleans()):
        fields: dict[str, Any] = {singular: draw(_ADDRESS_ITEM)}
        if draw(st.booleans()):
            fields[plural] = []
        return fields
    fields = {plural: draw(_ADDRESS_LIST)}
    shape = draw(_EMPTY_SINGULAR_SHAPE)
    if shape == "empty":
        fields[singular] = ""
    elif shape == "none":
        fields[singular] = None
    return fields


_PORT_KIND = st.sampled_from(("star", "star", "single", "range", "range", "full"))
_PORT = st.one_of(st.sampled_from(_PORT_ANCHORS), st.integers(0, 65535))
_PORT_SPAN = st.one_of(st.integers(0, 3), st.integers(0, 100), st.integers(0, 65535))


_PORT_KIND_NOT_STAR = st.sampled_from(("single", "range", "range", "full"))


@st.composite
def _port_text(draw: st.DrawFn, star_allowed: bool = True) -> str:
    kind = draw(_PORT_KIND if star_allowed else _PORT_KIND_NOT_STAR)
    if kind == "star":
        return "*"
    if kind == "full":
        return "0-65535"
    low = draw(_PORT)
    if kind == "single":
        return str(low)
    return f"{low}-{min(65535, low + draw(_PORT_SPAN))}"


PORT_TEXT: st.SearchStrategy[str] = _port_text()
# A filter on "*" would reject a third of the draws; a separate strategy rejects none.
_PORT_LIST = st.lists(_port_text(star_allowed=False), min_size=1, max_size=4)


def _draw_port_fields(draw: st.DrawFn, side: str) -> dict[str, Any]:
    singular, plural = f"{side}PortRange", f"{side}PortRanges"
    if draw(_ONE_IN_4) > 0:
        fields: dict[str, Any] = {singular: draw(PORT_TEXT)}
        if draw(st.booleans()):
            fields[plural] = []
        return fields
    fields = {plural: draw(_PORT_LIST)}
    if draw(st.booleans()):
        fields[singular] = ""
    return fields


_PROTOCOL_TEXT = st.sampled_from(("*", "Tcp", "Udp", "Icmp", "Esp", "Ah", "*", "Tcp", "*"))
_ACCESS = st.sampled_from(("Allow", "Deny"))
_DIRECTION = st.sampled_from(("Inbound", "Outbound"))


def _draw_security_rule(draw: st.DrawFn, name: str, priority: int, direction: str) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "provisioningState": "Succeeded",
        "protocol": draw(_PROTOCOL_TEXT),
        "access": draw(_ACCESS),
        "priority": priority,
        "direction": direction,
    }
    properties.update(_draw_port_fields(draw, "source") if draw(_ONE_IN_5) == 0 else {"sourcePortRange": "*"})
    properties.update(_draw_port_fields(draw, "destination"))
    properties.update(_draw_address_fields(draw, "source"))
    properties.update(_draw_address_fields(draw, "destination"))
    return {
        "name": name,
        "id": f"/subscriptions/sub/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/nsg/securityRules/{name}",
        "etag": 'W/"00000000-0000-0000-0000-000000000000"',
        "type": "Microsoft.Network/networkSecurityGroups/securityRules",
        "properties": properties,
    }


def _explicit_defaults(nsg_name: str) -> list[dict[str, Any]]:
    rules = []
    for template in AZURE_DEFAULT_RULES:
        rule = {
            "name": template["name"],
            "id": f"/subscriptions/sub/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/{nsg_name}/defaultSecurityRules/{template['name']}",
            "properties": {**template["properties"], "provisioningState": "Succeeded"},
        }
        rules.append(rule)
    return rules


_DEFAULTS_SHAPE = st.sampled_from(("absent", "absent", "explicit", "explicit", "partial"))
_KEEP_DEFAULTS = st.lists(st.booleans(), min_size=len(AZURE_DEFAULT_RULES), max_size=len(AZURE_DEFAULT_RULES))

# Low priorities collide often (so rules sit next to each other), high ones spread out.
_PRIORITY = st.one_of(st.integers(100, 130), st.integers(100, 4096))


@functools.lru_cache(maxsize=None)
def _priority_lists(count: int) -> st.SearchStrategy[list[int]]:
    return st.lists(_PRIORITY, min_size=count, max_size=count, unique=True)


# hypothesis keeps lists short; a rule count drawn first spreads sizes evenly.
_RULE_COUNT = st.integers(0, 64)


def _draw_nsg(draw: st.DrawFn, name: str, max_rules: int) -> dict[str, Any]:
    """An ARM NSG with unique priorities (ARM enforces that per direction; here across both) and
    ``defaultSecurityRules`` explicit (as GET returns them), absent (built-in defaults) or a
    non-empty part of them (an empty list is left out: see benchmarks/README-differential.md)."""
    priorities = draw(_priority_lists(draw(_RULE_COUNT) % (max_rules + 1)))
    rules = [
        _draw_security_rule(draw, f"rule{index}", priority, draw(_DIRECTION)) for index, priority in enumerate(priorities)
    ]
    properties: dict[str, Any] = {"provisioningState": "Succeeded", "securityRules": rules}
    defaults_shape = draw(_DEFAULTS_SHAPE)
    if defaults_shape == "explicit":
        properties["defaultSecurityRules"] = _explicit_defaults(name)
    elif defaults_shape == "partial":
        # Not what Azure returns, but what a hand-edited or truncated snapshot
        # may hold: without DenyAll* some packets match no rule at all.
        kept = [rule for rule, keep in zip(_explicit_defaults(name), draw(_KEEP_DEFAULTS)) if keep]
        properties["defaultSecurityRules"] = kept or _explicit_defaults(name)[:1]
    return {
        "name": name,
        "id": f"/subscriptions/sub/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/{name}",
        "type": "Microsoft.Network/networkSecurityGroups",
        "location": "eastus",
        "properties": properties,
    }


@st.composite
def nsgs(draw: st.DrawFn, name: str, max_rules: int = 8) -> dict[str, Any]:
    return _draw_nsg(draw, name, max_rules)


def _of_family(prefix_list: tuple[str, ...], family: int) -> list[str]:
    return [prefix for prefix in prefix_list if (":" in prefix) == (family == 6)]


_FLOW_PREFIXES: dict[int, st.SearchStrategy[list[str]]] = {
    family: st.one_of(
        st.lists(PREFIX_TEXT[family].map(lambda text: str(ipaddress.ip_network(text))), min_size=1, max_size=3),
        st.sampled_from(
            [listed for listed in (_of_family(tag, family) for tag in (*FAKE_SERVICE_TAGS.values(), VIRTUAL_NETWORK)) if listed]
        ),
        st.just(["0.0.0.0/0"] if family == 4 else ["::/0"]),
    )
    for family in (4, 6)
}


def _as_range(text: str) -> tuple[int, int]:
    low, _, high = ("0-65535" if text == "*" else text).partition("-")
    return (int(low), int(high or low))


_PORT_RANGES = st.lists(PORT_TEXT.map(_as_range), min_size=1, max_size=3)
_SOURCE_PORT_RANGES = st.one_of(st.just([(0, 65535)]), _PORT_RANGES)
_FAMILY = st.sampled_from((4, 4, 6))
_FLOW_PROTOCOLS = st.sets(st.sampled_from(("Tcp", "Udp", "Icmp", "Esp", "Ah")), min_size=1, max_size=5)


_TAG_PREFIXES: dict[str, tuple[str, ...]] = {
    **{name.lower(): prefixes for name, prefixes in FAKE_SERVICE_TAGS.items()},
    "virtualnetwork": VIRTUAL_NETWORK,
    "azureloadbalancer": ("168.63.129.16/32",),
}
_PICK = st.integers(0, 1 << 16)
_HALF = st.booleans()


def _rule_values(nsgs_drawn: list[dict[str, Any]], key: str) -> list[str]:
    """Every value of the singular and plural forms of ``key`` in the drawn rules."""
    values: list[str] = []
    for nsg in nsgs_drawn:
        for rule in nsg["properties"]["securityRules"]:
            properties = rule["properties"]
            single = properties.get(key)
            if single:
                values.append(single)
            values.extend(properties.get(key + "es" if key.endswith("Prefix") else key + "s") or [])
    return values


def _draw_from_rules(draw: st.DrawFn, candidates: list[str]) -> list[str]:
    picks = {candidates[draw(_PICK) % len(candidates)] for _ in range(1 + draw(_PICK) % 2)}
    return sorted(picks)


def _draw_flow(draw: st.DrawFn, nsgs_drawn: list[dict[str, Any]], extra: list[str] | None = None) -> FlowClass:
    """A flow class of one family (a packet's source and destination share one).

    Half the time a side reuses prefixes or ports the drawn rules name (or the case's own
    networks and route prefixes, `extra`), so rules decide real parts of the flow rather than
    missing it.
    """
    direction = draw(_DIRECTION)
    family = draw(_FAMILY)

    def prefixes_for(side: str) -> list[str]:
        named: list[str] = []
        for value in _rule_values(nsgs_drawn, f"{side}AddressPrefix"):
            if value[:1].isdigit() or ":" in value:
                named.append(str(ipaddress.ip_network(value)))
            else:
                named.extend(_TAG_PREFIXES.get(value.lower(), ()))
        for value in extra or ():
            named.extend([value] if value[:1].isdigit() or ":" in value else _TAG_PREFIXES.get(value.lower(), ()))
        named = [prefix for prefix in named if (":" in prefix) == (family == 6)]
        if named and draw(_HALF):
            return _draw_from_rules(draw, named)
        return draw(_FLOW_PREFIXES[family])

    destination_ports = draw(_PORT_RANGES)
    named_ports = _rule_values(nsgs_drawn, "destinationPortRange")
    if named_ports and draw(_HALF):
        destination_ports = [_as_range(text) for text in _draw_from_rules(draw, named_ports)]
    return FlowClass.of(
        direction,  # type: ignore[arg-type]
        draw(_FLOW_PROTOCOLS),
        prefixes_for("source"),
        draw(_SOURCE_PORT_RANGES),
        prefixes_for("destination"),
        destination_ports,
    )


@st.composite
def flow_classes(draw: st.DrawFn) -> FlowClass:
    """A flow class on its own (no rules to borrow prefixes from)."""
    return _draw_flow(draw, [])


_SHAPE = st.sampled_from(("single", "single", "single", "both", "both", "nic-only", "subnet-only"))


# On-premises and peered spaces beyond the VNet: private, and public blocks overlapping the fake tags' windows.
_EXTRA_OWN = st.lists(st.one_of(PREFIX_TEXT[4], PREFIX_TEXT[6]).map(lambda text: str(ipaddress.ip_network(text))),
                      min_size=0, max_size=2)
_ROUTE_PREFIX = st.one_of(
    st.sampled_from(("0.0.0.0/0", "::/0", "0.0.0.0/0")),
    PREFIX_TEXT[4].map(lambda text: str(ipaddress.ip_network(text))),
    PREFIX_TEXT[6].map(lambda text: str(ipaddress.ip_network(text))),
    st.sampled_from(tuple(FAKE_SERVICE_TAGS)),
)
_ROUTE_PREFIXES = st.lists(_ROUTE_PREFIX, min_size=1, max_size=3, unique=True)
_HOPS = st.sampled_from(("VirtualAppliance", "Internet", "VirtualNetworkGateway", "None", "VnetLocal"))
_READING = st.sampled_from(("with_routes", "without_routes"))


def _draw_route_table(draw: st.DrawFn) -> dict[str, Any] | None:
    """A route table as ARM returns it (a quarter of cases have none)."""
    if draw(_ONE_IN_4) == 0:
        return None
    table_id = "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.Network/routeTables/rt"
    routes = []
    for index, prefix in enumerate(draw(_ROUTE_PREFIXES)):
        hop = draw(_HOPS)
        properties: dict[str, Any] = {"provisioningState": "Succeeded", "addressPrefix": prefix, "nextHopType": hop}
        if hop == "VirtualAppliance":
            properties["nextHopIpAddress"] = "10.0.255.4"
        routes.append({"name": f"route{index}", "id": f"{table_id}/routes/route{index}", "properties": properties})
    return {"name": "rt", "id": table_id, "type": "Microsoft.Network/routeTables", "location": "eastus",
            "properties": {"provisioningState": "Succeeded", "disableBgpRoutePropagation": False, "routes": routes}}


@st.composite
def cases(draw: st.DrawFn, max_rules: int = 8) -> GeneratedCase:
    """Usually one NSG alone; sometimes a subnet and a NIC NSG, or a path missing one of them. The
    own networks add on-premises or peered spaces two times in three; three cases in four have user
    routes, whose prefixes join VirtualNetwork; Internet is read one way or the other."""
    shape = draw(_SHAPE)
    subnet = _draw_nsg(draw, "subnet-nsg", max_rules) if shape in ("single", "both", "subnet-only") else None
    nic = _draw_nsg(draw, "nic-nsg", max_rules) if shape in ("both", "nic-only") else None
    own = tuple(dict.fromkeys(VIRTUAL_NETWORK + tuple(draw(_EXTRA_OWN))))
    route_table = _draw_route_table(draw)
    extra = list(own) + [route["properties"]["addressPrefix"] for route in (route_table or {}).get("properties", {}).get("routes", [])]
    flow = _draw_flow(draw, [nsg for nsg in (subnet, nic) if nsg is not None], extra)
    return GeneratedCase(subnet, nic, flow, composed=shape != "single", own_networks=own, route_table=route_table,
                         internet_reading=draw(_READING))
