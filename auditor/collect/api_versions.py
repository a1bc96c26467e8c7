"""The Resource Manager `api-version` pinned for each kind of read.

Pinned here rather than taken from whichever azure-mgmt-* release is installed: the
api-version fixes the JSON shape a snapshot holds, and the graph and checks are
written against these shapes (the examples in shared/azure-samples/arm-examples are
of these versions). Changing one is a deliberate, reviewed change of snapshot shape.
Keys are lower-case `namespace/type[/child type]`.
"""

from __future__ import annotations

API_VERSIONS: dict[str, str] = {
    "microsoft.resources/subscriptions": "2022-12-01",
    "microsoft.machinelearningservices/workspaces": "2024-04-01",
    "microsoft.machinelearningservices/workspaces/computes": "2024-04-01",
    "microsoft.network/virtualnetworks": "2024-03-01",
    "microsoft.network/networksecuritygroups": "2024-03-01",
    "microsoft.network/routetables": "2024-03-01",
    "microsoft.network/networkinterfaces": "2024-03-01",
    # The VNet's own networks: gateways in its GatewaySubnet, their connections (listed per gateway) and the
    # local network gateways of the site-to-site ones (REST examples VirtualNetworkGatewayGet,
    # VirtualNetworkGatewaysListConnections, LocalNetworkGatewayGet of this version).
    "microsoft.network/virtualnetworkgateways": "2024-03-01",
    "microsoft.network/connections": "2024-03-01",
    "microsoft.network/localnetworkgateways": "2024-03-01",
    "microsoft.network/locations/usages": "2024-03-01",
    "microsoft.network/locations/servicetags": "2024-03-01",
    "microsoft.storage/storageaccounts": "2023-05-01",
    "microsoft.keyvault/vaults": "2023-07-01",
    "microsoft.compute/virtualmachines": "2024-07-01",
    "microsoft.containerservice/managedclusters": "2024-07-01",
    # No example of this type in shared/azure-samples; the shape is that of the REST specs' example
    # GetLinuxHadoopCluster (2021-06-01). The graph reads computeProfile.roles[].virtualNetworkProfile.subnet.
    "microsoft.hdinsight/clusters": "2021-06-01",
    "microsoft.authorization/locks": "2020-05-01",
}
