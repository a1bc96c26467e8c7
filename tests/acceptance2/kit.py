"""Builders for NSG rules, routes and peerings, and service-tag arithmetic on the real downloads.

The arithmetic uses only the standard library (`ipaddress`) on the vendored service-tag files, so an
expected verdict never depends on amlaudit's own address code.
"""

from __future__ import annotations

import gzip
import ipaddress
import json
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

from tests.estates import SERVICE_TAGS_FULL_GZ, SERVICE_TAGS_SUBSET, EstateBuilder, security_rule

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Rule = dict[str, Any]
Route = tuple[str, str, str]

TAGS_2025 = SERVICE_TAGS_SUBSET
TAGS_FULL = SERVICE_TAGS_FULL_GZ

# A dual-stack VNet and subnet: Azure requires a /64 for an IPv6 subnet prefix.
VNET_V6_SPACE = "ace:cab:deca::/48"
SUBNET_V6_PREFIX = "ace:cab:deca:deed::/64"


# -- service-tag arithmetic --------------------------------------------------------------------


@lru_cache(maxsize=4)
def _entries(path: Path) -> dict[str, tuple[str, ...]]:
    raw = path.read_bytes()
    body = json.loads(gzip.decompress(raw) if path.suffix == ".gz" else raw)
    return {v["name"]: tuple(v["properties"]["addressPrefixes"]) for v in body["values"]}


def tag(name: str, path: Path = TAGS_2025) -> list[Network]:
    """Every prefix (IPv4 and IPv6) of exactly the entry called `name`."""
    return [ipaddress.ip_network(p) for p in _entries(path)[name]]


def ipv4(networks: Iterable[Network]) -> list[Network]:
    return [n for n in networks if n.version == 4]


def ipv6(networks: Iterable[Network]) -> list[Network]:
    return [n for n in networks if n.version == 6]


def covers(outer: Iterable[Network], inner: Iterable[Network]) -> bool:
    """Every address of `inner` lies in `outer` (each address family on its own)."""
    outer = list(outer)
    for version in (4, 6):
        merged = list(ipaddress.collapse_addresses(n for n in outer if n.version == version))
        for n in ipaddress.collapse_addresses(n for n in inner if n.version == version):
            if not any(n.subnet_of(m) for m in merged):  # type: ignore[arg-type]
                return False
    return True


def overlaps(a: Iterable[Network], b: Iterable[Network]) -> bool:
    b = list(b)
    return any(x.version == y.version and x.overlaps(y) for x in a for y in b)  # type: ignore[arg-type]


def cidrs(networks: Iterable[Network]) -> list[str]:
    return [str(n) for n in networks]


# -- NSG rules ---------------------------------------------------------------------------------


def nsg_rule(name: str, priority: int, direction: str, access: str, *, protocol: str = "Tcp",
             source: str | list[str] = "*", destination: str | list[str] = "*", ports: str | list[str] = "*",
             source_ports: str | list[str] = "*") -> Rule:
    """A rule as ARM returns it (a list goes in the plural field)."""
    return security_rule(name, priority, direction, access, protocol, source, destination, ports, source_ports)


def allow_in(name: str, priority: int, source: str | list[str], ports: str | list[str], protocol: str = "Tcp",
             destination: str | list[str] = "*", source_ports: str | list[str] = "*") -> Rule:
    return nsg_rule(name, priority, "Inbound", "Allow", protocol=protocol, source=source, destination=destination,
                    ports=ports, source_ports=source_ports)


def deny_in(name: str, priority: int, source: str | list[str], ports: str | list[str] = "*", protocol: str = "*",
            destination: str | list[str] = "*", source_ports: str | list[str] = "*") -> Rule:
    return nsg_rule(name, priority, "Inbound", "Deny", protocol=protocol, source=source, destination=destination,
                    ports=ports, source_ports=source_ports)


def allow_out(name: str, priority: int, destination: str | list[str], ports: str | list[str] = "*",
              protocol: str = "*", source: str | list[str] = "*", source_ports: str | list[str] = "*") -> Rule:
    return nsg_rule(name, priority, "Outbound", "Allow", protocol=protocol, source=source, destination=destination,
                    ports=ports, source_ports=source_ports)


def deny_out(name: str, priority: int, destination: str | list[str], ports: str | list[str] = "*",
             protocol: str = "*", source: str | list[str] = "*", source_ports: str | list[str] = "*") -> Rule:
    return nsg_rule(name, priority, "Outbound", "Deny", protocol=protocol, source=source, destination=destination,
                    ports=ports, source_ports=source_ports)


def replace_rules(nsg: dict[str, Any], rules: list[Rule]) -> None:
    """Set an NSG's own rules (its default rules stay), with ids under the NSG as ARM spells them."""
    own = []
    for rule in rules:
        rule = json.loads(json.dumps(rule))
        rule["id"] = f"{nsg['id']}/securityRules/{rule['name']}"
        own.append(rule)
    nsg["properties"]["securityRules"] = own


# -- VNets ---------------------------------------------------------------------------------------


def peer(vnet: dict[str, Any], remote_name: str, prefixes: list[str], use_remote_gateways: bool = False,
         remote_id: str | None = None) -> None:
    """A connected peering from `vnet` to a VNet holding `prefixes` (the shape a VNet GET returns)."""
    remote_id = remote_id or vnet["id"].rsplit("/", 1)[0] + f"/{remote_name}"
    vnet["properties"]["virtualNetworkPeerings"].append({
        "name": f"to-{remote_name}", "id": f"{vnet['id']}/virtualNetworkPeerings/to-{remote_name}",
        "etag": 'W/"1"', "type": "Microsoft.Network/virtualNetworks/virtualNetworkPeerings",
        "properties": {"provisioningState": "Succeeded", "peeringState": "Connected", "peeringSyncLevel": "FullyInSync",
                       "allowVirtualNetworkAccess": True, "allowForwardedTraffic": False, "allowGatewayTransit": False,
                       "useRemoteGateways": use_remote_gateways, "remoteVirtualNetwork": {"id": remote_id},
                       "remoteAddressSpace": {"addressPrefixes": list(prefixes)},
                       "remoteVirtualNetworkAddressSpace": {"addressPrefixes": list(prefixes)}},
    })


def make_dual_stack(vnet: dict[str, Any], subnet: dict[str, Any]) -> None:
    """Give the VNet an IPv6 space and the subnet an IPv6 /64 next to its IPv4 prefix."""
    vnet["properties"]["addressSpace"]["addressPrefixes"].append(VNET_V6_SPACE)
    props = subnet["properties"]
    v4_prefixes = props.pop("addressPrefixes", None) or [props.pop("addressPrefix")]
    props["addressPrefixes"] = [*v4_prefixes, SUBNET_V6_PREFIX]


def set_subnet_prefixes(subnet: dict[str, Any], prefixes: list[str]) -> None:
    props = subnet["properties"]
    props.pop("addressPrefix", None)
    props["addressPrefixes"] = list(prefixes)


# -- routes --------------------------------------------------------------------------------------


def attach_route_table(builder: EstateBuilder, subnet: dict[str, Any], routes: list[Route],
                       name: str = "rt-ml") -> dict[str, Any]:
    table = builder.route_table(name=name, routes=routes)
    subnet["properties"]["routeTable"] = {"id": table["id"]}
    return table


def routes_to(prefixes: Iterable[Network | str], hop: str = "Internet", stem: str = "batch") -> list[Route]:
    return [(f"{stem}-{i}", str(p), hop) for i, p in enumerate(prefixes)]
