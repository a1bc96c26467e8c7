"""Estates with VPN gateways, peerings and forced-tunnelling routes, for the VirtualNetwork-tag tests.

Built on the acceptance scenarios (an AmlCompute cluster in vnet-ml 10.0.0.0/16, subnet 10.0.1.0/24;
an AKS cluster in 10.0.4.0/22), with the shapes of the REST examples VirtualNetworkGatewayGet,
VirtualNetworkGatewayConnectionGet and LocalNetworkGatewayGet (tests/estates.py). Used offline
(tests/test_vnet_tag.py) and served by the HTTPS stand-in (tests/test_collect_gateways.py).

    hub-and-spoke:  vnet-hub 10.1.0.0/16, GatewaySubnet 10.1.255.0/27 with vpngw-hub;
                    lng-branch (192.168.50.0/24 and the public block 84.17.32.0/24) connected by cn-branch (IPsec);
                    vnet-ml peers with vnet-hub (useRemoteGateways), vnet-hub peers back
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.acceptance.scenarios import AksScenario, AmlScenario
from tests.acceptance2.kit import peer
from tests.estates import EstateBuilder

BRANCH_PRIVATE = "192.168.50.0/24"
BRANCH_PUBLIC = "84.17.32.0/24"  # globally routable, in no service tag: a VPN site's public block
HUB_SPACE = "10.1.0.0/16"


@dataclass
class Vpn:
    gateway: dict[str, Any]
    local: dict[str, Any]
    connection: dict[str, Any]
    hub: dict[str, Any] | None = None

    @property
    def connections_path(self) -> str:
        return str(self.gateway["id"]) + "/connections"


def vpn_in_vnet(builder: EstateBuilder, vnet: dict[str, Any], site: list[str] | None = None, enable_bgp: bool = False,
                connection_type: str = "IPsec", status: str = "Connected", gateway_name: str = "vpngw-ml",
                gateway_prefix: str = "10.0.255.0/27") -> Vpn:
    """A VPN gateway in `vnet`'s GatewaySubnet, connected site-to-site to lng-branch."""
    gateway = builder.vnet_gateway(vnet, gateway_name, gateway_prefix, enable_bgp=enable_bgp)
    local = builder.local_gateway("lng-branch", [BRANCH_PRIVATE, BRANCH_PUBLIC] if site is None else site)
    connection = builder.connection("cn-branch", gateway, local, connection_type=connection_type, enable_bgp=enable_bgp,
                                    status=status)
    return Vpn(gateway, local, connection)


def hub_and_spoke(s: AmlScenario | AksScenario, use_remote_gateways: bool = True, enable_bgp: bool = False) -> Vpn:
    """vnet-hub with the VPN gateway; the scenario's VNet peers with it (and uses its gateways)."""
    hub = s.builder.vnet("vnet-hub", [HUB_SPACE])
    vpn = vpn_in_vnet(s.builder, hub, enable_bgp=enable_bgp, gateway_name="vpngw-hub", gateway_prefix="10.1.255.0/27")
    peer(s.vnet, "vnet-hub", [HUB_SPACE], use_remote_gateways=use_remote_gateways, remote_id=hub["id"])
    peer(hub, "vnet-ml", list(s.vnet["properties"]["addressSpace"]["addressPrefixes"]), remote_id=s.vnet["id"])
    hub["properties"]["virtualNetworkPeerings"][0]["properties"]["allowGatewayTransit"] = True
    vpn.hub = hub
    return vpn
