"""A VNet's own networks and the `VirtualNetwork` tag of a subnet, as the catalog defines them.

Catalog ("Words used below"):

* *own networks* of a VNet: its address space; the address spaces of the VNets it is peered
  with; and the on-premises spaces connected through a virtual network gateway: for each
  site-to-site connection (`Microsoft.Network/connections`, `connectionType` `IPsec`) whose
  `virtualNetworkGateway1` sits in the VNet's `GatewaySubnet` (or in a peered VNet whose
  peering from this VNet has `useRemoteGateways` true), the
  `localNetworkAddressSpace.addressPrefixes` of its `localNetworkGateway2`, whatever the
  connection's status. Prefixes learned over BGP are not in Resource Manager: where a gateway
  or connection has BGP enabled, the evidence says they are not counted.
* `VirtualNetwork` in NSG rules: the own networks plus the `addressPrefix` of every route in
  the subnet's route table (a route naming a service tag adds the tag's prefixes, as Azure
  routes it). `Internet` is read with and without those route prefixes (see
  :class:`~amlaudit.auditor.netpolicy.InternetReading`).

Each address the tag holds is traced to the resource that put it there (:class:`Source`), so
evidence can say "route default (0.0.0.0/0) in rt-hub puts every address in VirtualNetwork" or
"84.17.32.0/24 is on-premises space of lng-branch, connected to vpngw-hub by cn-branch
(IPsec)". Whatever cannot be read (a gateway, a connection list, a local network gateway, a
peer, a route table) raises :class:`TagsUnknown`: the checks that need the tag say `error`.

Where the catalog is silent, decided here: `Vnet2Vnet` and `ExpressRoute` connections are not
site-to-site, so they add nothing (a note says so; ExpressRoute's on-premises prefixes are
learned over BGP anyway); only the gateways of the VNet itself and of peers it uses through
`useRemoteGateways` count (not the gateways of a peer's peers); a local network gateway that
ARM returns without `localNetworkAddressSpace` adds nothing when it has BGP settings (a
BGP-only site) and is unreadable otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from amlaudit.auditor.graph.model import (
    Gap,
    GatewayConnection,
    LocalNetworkGateway,
    RouteTable,
    VirtualNetwork,
    VirtualNetworkGateway,
)
from amlaudit.auditor.netpolicy import (
    AddressSet,
    InternetReading,
    ParseError,
    ServiceTagIndex,
    VirtualNetworkTags,
    user_route_addresses,
)

VNET_SPACE = "address space"
PEERED_SPACE = "peered space"
ON_PREMISES = "on-premises space"
ROUTE = "route"


class TagsUnknown(Exception):
    """The own networks or the `VirtualNetwork` tag cannot be built from the snapshot."""

    def __init__(self, reason: str, evidence: dict[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.evidence = evidence or {}


@dataclass(frozen=True, eq=False)
class Source:
    """Addresses one resource puts in the tag, and how to say so."""

    kind: str  # VNET_SPACE, PEERED_SPACE, ON_PREMISES or ROUTE
    addresses: AddressSet
    prefixes: tuple[str, ...]  # as written
    words: str  # "on-premises space of lng-branch, connected to vpngw-hub by cn-branch (IPsec)"

    def puts(self, shown: AddressSet | None = None) -> str:
        """"route default (0.0.0.0/0) in rt-hub puts every address in VirtualNetwork";
        "84.17.32.0/24 is on-premises space of lng-branch, ... so it is VirtualNetwork"."""
        if self.kind == ROUTE:
            everything = any(prefix.strip() in ("0.0.0.0/0", "::/0") for prefix in self.prefixes)
            what = "every address" if everything else ", ".join((shown or self.addresses).to_cidrs()[:3])
            return f"{self.words} puts {what} in VirtualNetwork"
        cidrs = (shown or self.addresses).to_cidrs()
        listed = ", ".join(cidrs[:3]) + (" and more" if len(cidrs) > 3 else "")
        return f"{listed} is {self.words}, so it is VirtualNetwork"

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "prefixes": list(self.prefixes), "from": self.words}


@dataclass(frozen=True, eq=False)
class OwnNetworks:
    """A VNet's own networks, each address traced to its source."""

    vnet: VirtualNetwork
    addresses: AddressSet
    sources: tuple[Source, ...]
    notes: tuple[str, ...] = ()  # BGP and connections that add nothing, in words

    def beyond_vnet(self) -> tuple[Source, ...]:
        """The peers' and on-premises sources (not the VNet's own address space)."""
        return tuple(source for source in self.sources if source.kind != VNET_SPACE)

    def evidence(self) -> dict[str, Any]:
        found: dict[str, Any] = {"own_networks": [source.to_json() for source in self.sources]}
        if self.notes:
            found["own_networks_notes"] = list(self.notes)
        return found


@dataclass(frozen=True, eq=False)
class SubnetTags:
    """What `VirtualNetwork` and `Internet` mean in the NSG rules of one subnet."""

    own: OwnNetworks
    routes: tuple[Source, ...]
    route_table_name: str | None
    tags: VirtualNetworkTags = field(repr=False)
    """The engine's view under the first reading (`Internet` outside the route prefixes too)."""

    def under(self, reading: InternetReading) -> VirtualNetworkTags:
        return self.tags.under(reading)

    @property
    def readings_differ(self) -> bool:
        return self.tags.readings_differ

    def source_of(self, addresses: AddressSet) -> Source | None:
        """The first source holding part of `addresses`: a route only when the own networks do not
        already hold that part (a route to one's own space changes nothing)."""
        for source in self.own.sources:
            if source.addresses.overlaps(addresses):
                return source
        for source in self.routes:
            if (source.addresses & addresses) - self.own.addresses:
                return source
        return None

    def evidence(self) -> dict[str, Any]:
        found = self.own.evidence()
        if self.routes:
            found["route_prefixes_in_virtual_network"] = [source.to_json() for source in self.routes]
        return found


def own_networks(vnet: VirtualNetwork, tags: ServiceTagIndex | None = None) -> OwnNetworks:
    """The VNet's own networks; raises :class:`TagsUnknown` when part of them cannot be read."""
    unknown = "so its own networks (the VirtualNetwork tag of its NSG rules, and who is a public client) are unknown"
    if vnet.peering_problem is not None:
        raise TagsUnknown(f"virtual network {vnet.name}: {vnet.peering_problem}, {unknown}", {"vnet_id": vnet.id})
    if not vnet.address_prefixes:
        raise TagsUnknown(f"virtual network {vnet.name} has no address space (addressSpace.addressPrefixes), {unknown}",
                          {"vnet_id": vnet.id})
    sources = [_source(VNET_SPACE, vnet.address_prefixes, f"address space of {vnet.name}", vnet)]
    if vnet.peered_address_prefixes:
        sources.append(_source(PEERED_SPACE, vnet.peered_address_prefixes,
                               f"address space of a VNet peered with {vnet.name}", vnet))
    notes: list[str] = []
    for gateway_ref in vnet.gateways:
        sources += _gateway_sources(vnet, gateway_ref, None, notes, unknown)
    for peering in vnet.remote_gateway_peerings:
        remote = peering.remote
        if not isinstance(remote, VirtualNetwork):
            reason = remote.reason if isinstance(remote, Gap) else "is unknown"
            raise TagsUnknown(f"virtual network {vnet.name} uses the gateways of {peering.remote_id or '?'} (peering "
                              f"{peering.name}, useRemoteGateways), which {reason}, {unknown}",
                              {"vnet_id": vnet.id, "peering": peering.name})
        for gateway_ref in remote.gateways:
            sources += _gateway_sources(vnet, gateway_ref, peering.name, notes, unknown)
    addresses = AddressSet()
    for source in sources:
        addresses = addresses | source.addresses
    return OwnNetworks(vnet, addresses, tuple(sources), tuple(dict.fromkeys(notes)))


def _gateway_sources(vnet: VirtualNetwork, gateway_ref: VirtualNetworkGateway | Gap | None, via_peering: str | None,
                     notes: list[str], unknown: str) -> list[Source]:
    if not isinstance(gateway_ref, VirtualNetworkGateway):
        reason = gateway_ref.describe() if isinstance(gateway_ref, Gap) else "a gateway of the GatewaySubnet is unknown"
        raise TagsUnknown(f"virtual network {vnet.name}: {reason}; the on-premises spaces of its connections are "
                          f"part of the VNet's own networks, {unknown}", {"vnet_id": vnet.id})
    gateway = gateway_ref
    if gateway.connections_gap is not None:
        raise TagsUnknown(f"virtual network {vnet.name}: {gateway.connections_gap.describe()}; the on-premises spaces "
                          f"of gateway {gateway.name}'s connections are part of the VNet's own networks, {unknown}",
                          {"vnet_id": vnet.id, "gateway_id": gateway.id})
    through = f", through peering {via_peering} (useRemoteGateways)" if via_peering else ""
    learned = "prefixes it learns over BGP are not in Resource Manager and are not counted"
    if gateway.enable_bgp:
        notes.append(f"virtual network gateway {gateway.name} has BGP enabled: {learned}")
    if gateway.gateway_type.strip().lower() == "expressroute":
        notes.append(f"{gateway.name} is an ExpressRoute gateway: the on-premises prefixes it learns over BGP are not "
                     "in Resource Manager and are not counted")
    sources: list[Source] = []
    for connection in gateway.connections:
        if not connection.is_site_to_site:
            notes.append(f"connection {connection.name} of {gateway.name} is {connection.connection_type or 'of no type'}, "
                         "not site-to-site (IPsec): it adds nothing to the own networks")
            continue
        if connection.enable_bgp:
            notes.append(f"connection {connection.name} has BGP enabled: {learned}")
        local = _local_gateway(vnet, connection, unknown)
        if local.bgp_settings is not None and not local.address_prefixes:
            notes.append(f"local network gateway {local.name} lists no address space (a BGP-only site): what it "
                         "advertises over BGP is not counted")
        if not local.address_prefixes:
            continue
        status = f", status {connection.status}" if connection.status else ""
        sources.append(_source(ON_PREMISES, local.address_prefixes,
                               f"on-premises space of {local.name}, connected to {gateway.name} by {connection.name} "
                               f"(IPsec{status}){through}", vnet))
    return sources


def _local_gateway(vnet: VirtualNetwork, connection: GatewayConnection, unknown: str) -> LocalNetworkGateway:
    local = connection.local_gateway
    if not isinstance(local, LocalNetworkGateway):
        reason = local.describe() if isinstance(local, Gap) else "its local network gateway is unknown"
        raise TagsUnknown(f"site-to-site connection {connection.name}: {reason}; its on-premises space is part of "
                          f"{vnet.name}'s own networks, {unknown}", {"vnet_id": vnet.id, "connection_id": connection.id})
    if local.address_problem is not None:
        raise TagsUnknown(f"local network gateway {local.name} (connection {connection.name}): {local.address_problem}; "
                          f"its on-premises space is part of {vnet.name}'s own networks, {unknown}",
                          {"vnet_id": vnet.id, "local_network_gateway_id": local.id})
    return local


def _source(kind: str, prefixes: Sequence[str], words: str, vnet: VirtualNetwork) -> Source:
    try:
        addresses = AddressSet.parse(list(prefixes))
    except ParseError as problem:
        raise TagsUnknown(f"virtual network {vnet.name}: a prefix of the {words} is not a CIDR ({problem}), so its own "
                          "networks are unknown", {"vnet_id": vnet.id, "prefixes": list(prefixes)}) from None
    return Source(kind, addresses, tuple(prefixes), words)


def route_sources(table: RouteTable | Gap | None, table_id: str | None,
                  tags: ServiceTagIndex | None) -> tuple[tuple[Source, ...], str | None]:
    """(each user route of the subnet's route table as a source of the tag, the table's name).
    Raises :class:`TagsUnknown` when the table or one of its routes cannot be read: Azure puts
    every route's prefix in `VirtualNetwork`, so an unknown route may be one that opens a rule."""
    if table is None:
        return (), None
    why = "the VirtualNetwork tag of the subnet's NSG rules holds every route's prefix, so it is unknown"
    if isinstance(table, Gap):
        raise TagsUnknown(f"{table.describe()}; {why}", {"route_table_id": table_id})
    routes, problems = user_route_addresses(table.raw, tags)
    if problems:
        listed = "; ".join(str(problem) for problem in problems)
        raise TagsUnknown(f"route table {table.name} cannot be fully read ({listed}); {why}",
                          {"route_table_id": table.id})
    sources = tuple(Source(ROUTE, addresses, (route.address_prefix,),
                           f"route {route.name} ({route.address_prefix}) in {table.name}")
                    for route, addresses in routes)
    return sources, table.name


def subnet_tags(own: OwnNetworks, routes: tuple[Source, ...], table_name: str | None) -> SubnetTags:
    prefixes = AddressSet()
    for source in routes:
        prefixes = prefixes | source.addresses
    return SubnetTags(own, routes, table_name, VirtualNetworkTags(own.addresses, prefixes))
