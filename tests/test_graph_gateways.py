"""The graph links a VNet to the gateways in its GatewaySubnet, their connections and the sites they reach."""

from __future__ import annotations

from amlaudit.auditor.graph.model import (
    Gap,
    GatewayConnection,
    LocalNetworkGateway,
    VirtualNetwork,
    VirtualNetworkGateway,
)
from amlaudit.auditor.ids import id_key
from tests.acceptance2.kit import peer
from tests.estates import EstateBuilder


def _hub(builder: EstateBuilder, **gateway: object) -> tuple[dict, dict, dict, dict]:
    hub = builder.vnet("vnet-hub", ["10.1.0.0/16"])
    builder.subnet(hub, "workloads", "10.1.1.0/24")
    gw = builder.vnet_gateway(hub, "vpngw-hub", "10.1.255.0/27", **gateway)  # type: ignore[arg-type]
    site = builder.local_gateway("lng-branch", ["192.168.50.0/24", "84.17.32.0/24"])
    cn = builder.connection("cn-branch", gw, site)
    return hub, gw, site, cn


def test_gateway_subnet_names_the_gateway_and_its_connections_and_site() -> None:
    b = EstateBuilder()
    hub, gw, site, cn = _hub(b, enable_bgp=True)
    estate = b.estate()
    vnet = estate.vnets[id_key(hub["id"])]
    [gateway] = vnet.gateways
    assert isinstance(gateway, VirtualNetworkGateway) and gateway.name == "vpngw-hub"
    assert gateway.enable_bgp and gateway.gateway_type == "Vpn" and gateway.connections_gap is None
    [connection] = gateway.connections
    assert isinstance(connection, GatewayConnection) and connection.is_site_to_site and connection.status == "Connected"
    local = connection.local_gateway
    assert isinstance(local, LocalNetworkGateway)
    assert local.address_prefixes == ["192.168.50.0/24", "84.17.32.0/24"] and local.address_problem is None
    assert estate.get(cn["id"]) is connection and estate.get(site["id"]) is local and estate.get(gw["id"]) is gateway


def test_only_the_gateway_subnet_names_gateways() -> None:
    b = EstateBuilder()
    vnet = b.vnet("vnet-ml")
    other = b.subnet(vnet, "workloads", "10.0.1.0/24")
    other["properties"]["ipConfigurations"] = [{"id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/"
                                                      "virtualNetworkGateways/not-here/ipConfigurations/default"}]
    assert b.estate().vnets[id_key(vnet["id"])].gateways == []


def test_missing_gateway_and_unlisted_connections_are_gaps() -> None:
    b = EstateBuilder()
    hub, gw, site, cn = _hub(b)
    b.collection_error(gw["id"] + "/connections")
    gateway = b.estate().vnets[id_key(hub["id"])].gateways[0]
    assert isinstance(gateway, VirtualNetworkGateway)
    assert isinstance(gateway.connections_gap, Gap) and gateway.connections_gap.status == 403

    b = EstateBuilder()
    hub, gw, site, cn = _hub(b)
    b.drop(gw)
    [gap] = b.estate().vnets[id_key(hub["id"])].gateways
    assert isinstance(gap, Gap) and gap.reason == "not in the snapshot"


def test_site_to_site_connection_without_a_site_is_a_gap() -> None:
    b = EstateBuilder()
    hub, gw, site, cn = _hub(b)
    del cn["properties"]["localNetworkGateway2"]
    estate = b.estate()
    connection = estate.connections[id_key(cn["id"])]
    assert isinstance(connection.local_gateway, Gap)
    assert "names no localNetworkGateway2" in connection.local_gateway.reason


def test_vnet_to_vnet_connection_is_kept_but_not_site_to_site() -> None:
    b = EstateBuilder()
    hub, gw, site, cn = _hub(b)
    cn["properties"]["connectionType"] = "Vnet2Vnet"
    del cn["properties"]["localNetworkGateway2"]
    connection = b.estate().connections[id_key(cn["id"])]
    assert not connection.is_site_to_site and connection.local_gateway is None


def test_site_address_space_shapes() -> None:
    b = EstateBuilder()
    bgp_only = b.local_gateway("lng-bgp", None, bgp_peer="192.168.50.254")
    unknown = b.local_gateway("lng-odd", None)
    broken = b.local_gateway("lng-broken", ["10.9.0.0/16"])
    broken["properties"]["localNetworkAddressSpace"] = {"addressPrefixes": "10.9.0.0/16"}
    estate = b.estate()
    assert estate.local_gateways[id_key(bgp_only["id"])].address_problem is None
    assert estate.local_gateways[id_key(bgp_only["id"])].address_prefixes == []
    assert "no localNetworkAddressSpace and no bgpSettings" in estate.local_gateways[id_key(unknown["id"])].address_problem
    assert "not readable" in estate.local_gateways[id_key(broken["id"])].address_problem


def test_peering_with_use_remote_gateways_points_at_the_hub() -> None:
    b = EstateBuilder()
    hub, gw, site, cn = _hub(b)
    spoke = b.vnet("vnet-ml")
    peer(spoke, "vnet-hub", ["10.1.0.0/16"], use_remote_gateways=True, remote_id=hub["id"])
    peer(spoke, "vnet-other", ["10.7.0.0/16"])  # no useRemoteGateways
    estate = b.estate()
    [peering] = estate.vnets[id_key(spoke["id"])].remote_gateway_peerings
    assert peering.name == "to-vnet-hub" and isinstance(peering.remote, VirtualNetwork) and peering.remote.name == "vnet-hub"
    # A disconnected peering carries no traffic and uses no gateway.
    spoke["properties"]["virtualNetworkPeerings"][0]["properties"]["peeringState"] = "Disconnected"
    assert b.estate().vnets[id_key(spoke["id"])].remote_gateway_peerings == []


def test_remote_vnet_not_in_the_snapshot_is_a_gap() -> None:
    b = EstateBuilder()
    spoke = b.vnet("vnet-ml")
    peer(spoke, "vnet-hub", ["10.1.0.0/16"], use_remote_gateways=True)
    [peering] = b.estate().vnets[id_key(spoke["id"])].remote_gateway_peerings
    assert isinstance(peering.remote, Gap)
