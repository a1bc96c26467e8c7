"""Small estates in realistic ARM shape, for tests.

Every object is shaped like what Resource Manager returns on GET (camelCase
keys, `properties`, embedded subnets, ids with `resourceGroups`), so the graph
is exercised on the same shapes a live collection produces. Builders return
the ARM dict they added; tweak it in place to make the odd case a test needs.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from amlaudit.auditor.graph import Estate, build_estate
from amlaudit.auditor.snapshot import Snapshot, parse_snapshot

# Copies of ../shared/azure-samples, vendored so a clean clone tests on the same real data.
SAMPLES = Path(__file__).resolve().parent / "data" / "azure-samples"
ARM_EXAMPLES = SAMPLES / "arm-examples"
SERVICE_TAGS_SUBSET = SAMPLES / "service-tags" / "ServiceTags_Public_20250728.subset.json"
SERVICE_TAGS_FULL_GZ = SAMPLES / "service-tags" / "ServiceTags_Public_20251109.json.gz"

SUB = "6f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
OTHER_SUB = "0a1b2c3d-0000-4a6b-8c7d-9e0f1a2b3c4d"
RG = "rg-ml-prod"
NET_RG = "rg-network"


def rid(kind: str, name: str, rg: str = RG, sub: str = SUB) -> str:
    return f"/subscriptions/{sub}/resourceGroups/{rg}/providers/{kind}/{name}"


def security_rule(
    name: str,
    priority: int,
    direction: str,
    access: str,
    protocol: str = "*",
    source: str | list[str] = "*",
    destination: str | list[str] = "*",
    destination_ports: str | list[str] = "*",
    source_ports: str | list[str] = "*",
    nsg_id: str = "",
) -> dict[str, Any]:
    """An NSG rule as ARM returns it: a list goes in the plural field, the singular left empty."""
    props: dict[str, Any] = {
        "provisioningState": "Succeeded",
        "protocol": protocol,
        "access": access,
        "priority": priority,
        "direction": direction,
        "sourceAddressPrefixes": [],
        "destinationAddressPrefixes": [],
        "sourcePortRanges": [],
        "destinationPortRanges": [],
    }
    for singular, plural, value in (
        ("sourceAddressPrefix", "sourceAddressPrefixes", source),
        ("destinationAddressPrefix", "destinationAddressPrefixes", destination),
        ("sourcePortRange", "sourcePortRanges", source_ports),
        ("destinationPortRange", "destinationPortRanges", destination_ports),
    ):
        if isinstance(value, list):
            props[plural] = list(value)
        else:
            props[singular] = value
    return {
        "name": name,
        "id": f"{nsg_id}/securityRules/{name}",
        "etag": 'W/"00000000-0000-0000-0000-000000000000"',
        "type": "Microsoft.Network/networkSecurityGroups/securityRules",
        "properties": props,
    }


def default_security_rules(nsg_id: str) -> list[dict[str, Any]]:
    rows = [
        ("AllowVnetInBound", 65000, "Inbound", "Allow", "VirtualNetwork", "VirtualNetwork"),
        ("AllowAzureLoadBalancerInBound", 65001, "Inbound", "Allow", "AzureLoadBalancer", "*"),
        ("DenyAllInBound", 65500, "Inbound", "Deny", "*", "*"),
        ("AllowVnetOutBound", 65000, "Outbound", "Allow", "VirtualNetwork", "VirtualNetwork"),
        ("AllowInternetOutBound", 65001, "Outbound", "Allow", "*", "Internet"),
        ("DenyAllOutBound", 65500, "Outbound", "Deny", "*", "*"),
    ]
    rules = []
    for name, priority, direction, access, src, dst in rows:
        rule = security_rule(name, priority, direction, access, "*", src, dst, "*", "*", nsg_id)
        rule["id"] = f"{nsg_id}/defaultSecurityRules/{name}"
        rule["type"] = "Microsoft.Network/networkSecurityGroups/defaultSecurityRules"
        rules.append(rule)
    return rules


class EstateBuilder:
    """Accumulates ARM objects and the snapshot's other sections."""

    def __init__(self, location: str = "eastus", subscription: str = SUB) -> None:
        self.location = location
        self.subscription = subscription
        self.resources: list[dict[str, Any]] = []
        self.usages: list[dict[str, Any]] | None = []
        self.service_tags: list[dict[str, Any]] | None = []
        self.locks: list[dict[str, Any]] | None = []
        self.errors: list[dict[str, Any]] = []
        self.subscriptions = [{"subscriptionId": subscription, "displayName": "ml-prod", "tenantId": "72f988bf-0000-0000-0000-2d7cd011db47"}]

    def _add(self, obj: dict[str, Any]) -> dict[str, Any]:
        self.resources.append(obj)
        return obj

    # -- network -------------------------------------------------------------------------

    def vnet(self, name: str = "vnet-ml", prefixes: list[str] | None = None, rg: str = NET_RG,
             location: str | None = None, sub: str | None = None) -> dict[str, Any]:
        return self._add({
            "name": name,
            "id": rid("Microsoft.Network/virtualNetworks", name, rg, sub or self.subscription),
            "etag": 'W/"1"',
            "type": "Microsoft.Network/virtualNetworks",
            "location": location or self.location,
            "properties": {
                "provisioningState": "Succeeded",
                "resourceGuid": "3f6b0c4e-0000-0000-0000-0a1b2c3d4e5f",
                "addressSpace": {"addressPrefixes": prefixes or ["10.0.0.0/16"]},
                "subnets": [],
                "virtualNetworkPeerings": [],
                "enableDdosProtection": False,
            },
        })

    def subnet(self, vnet: dict[str, Any], name: str, prefix: str | list[str], nsg: dict[str, Any] | None = None,
               route_table: dict[str, Any] | None = None, service_endpoints: tuple[str, ...] = (),
               ip_configurations: int = 0) -> dict[str, Any]:
        sub_id = f"{vnet['id']}/subnets/{name}"
        props: dict[str, Any] = {"provisioningState": "Succeeded", "privateEndpointNetworkPolicies": "Disabled",
                                 "privateLinkServiceNetworkPolicies": "Enabled", "delegations": []}
        if isinstance(prefix, list):
            props["addressPrefixes"] = prefix
        else:
            props["addressPrefix"] = prefix
        if nsg is not None:
            props["networkSecurityGroup"] = {"id": nsg["id"]}
        if route_table is not None:
            props["routeTable"] = {"id": route_table["id"]}
        if service_endpoints:
            props["serviceEndpoints"] = [
                {"provisioningState": "Succeeded", "service": s, "locations": [vnet["location"]]} for s in service_endpoints
            ]
        if ip_configurations:
            props["ipConfigurations"] = [
                {"id": f"{rid('Microsoft.Network/networkInterfaces', f'nic-{name}-{i}')}/ipConfigurations/ipconfig1"}
                for i in range(ip_configurations)
            ]
        subnet = {"name": name, "id": sub_id, "etag": 'W/"1"', "type": "Microsoft.Network/virtualNetworks/subnets", "properties": props}
        vnet["properties"]["subnets"].append(subnet)
        return subnet

    def nsg(self, name: str = "nsg-ml", rules: list[dict[str, Any]] | None = None, rg: str = NET_RG,
            defaults: bool = True) -> dict[str, Any]:
        nsg_id = rid("Microsoft.Network/networkSecurityGroups", name, rg, self.subscription)
        props: dict[str, Any] = {"provisioningState": "Succeeded", "securityRules": []}
        for rule in rules or []:
            rule = copy.deepcopy(rule)
            rule["id"] = f"{nsg_id}/securityRules/{rule['name']}"
            props["securityRules"].append(rule)
        if defaults:
            props["defaultSecurityRules"] = default_security_rules(nsg_id)
        return self._add({"name": name, "id": nsg_id, "etag": 'W/"1"', "type": "Microsoft.Network/networkSecurityGroups",
                          "location": self.location, "properties": props})

    def route_table(self, name: str = "rt-ml", routes: list[tuple[str, str, str]] | None = None,
                    rg: str = NET_RG) -> dict[str, Any]:
        """routes: (name, addressPrefix, nextHopType)."""
        rt_id = rid("Microsoft.Network/routeTables", name, rg, self.subscription)
        return self._add({
            "name": name, "id": rt_id, "type": "Microsoft.Network/routeTables", "location": self.location,
            "properties": {
                "provisioningState": "Succeeded", "disableBgpRoutePropagation": False,
                "routes": [
                    {"name": n, "id": f"{rt_id}/routes/{n}",
                     "properties": {"provisioningState": "Succeeded", "addressPrefix": p, "nextHopType": hop,
                                    **({"nextHopIpAddress": "10.0.100.4"} if hop == "VirtualAppliance" else {})}}
                    for n, p, hop in routes or []
                ],
            },
        })

    # -- gateways (shapes of the REST examples VirtualNetworkGatewayGet, LocalNetworkGatewayGet and
    # VirtualNetworkGatewayConnectionGet, api-version 2024-03-01) ---------------------------------

    def vnet_gateway(self, vnet: dict[str, Any], name: str = "vpngw-hub", gateway_prefix: str = "10.0.255.0/27",
                     enable_bgp: bool = False, gateway_type: str = "Vpn", rg: str = NET_RG) -> dict[str, Any]:
        """A virtual network gateway in the VNet's GatewaySubnet (created with the given prefix when the
        VNet has none); the subnet's ipConfigurations name the gateway's, as a VNet GET returns them."""
        gateway_id = rid("Microsoft.Network/virtualNetworkGateways", name, rg, self.subscription)
        subnet = next((s for s in vnet["properties"]["subnets"] if s["name"] == "GatewaySubnet"), None)
        if subnet is None:
            subnet = self.subnet(vnet, "GatewaySubnet", gateway_prefix)
        subnet["properties"].setdefault("ipConfigurations", []).append({"id": f"{gateway_id}/ipConfigurations/default"})
        return self._add({
            "name": name, "id": gateway_id, "etag": 'W/"1"', "type": "Microsoft.Network/virtualNetworkGateways",
            "location": vnet["location"],
            "properties": {
                "provisioningState": "Succeeded", "resourceGuid": "00000000-0000-0000-0000-0000000000a1",
                "ipConfigurations": [{
                    "name": "default", "id": f"{gateway_id}/ipConfigurations/default", "etag": 'W/"1"',
                    "properties": {"provisioningState": "Succeeded", "privateIPAllocationMethod": "Dynamic",
                                   "publicIPAddress": {"id": rid("Microsoft.Network/publicIPAddresses", f"{name}-pip", rg,
                                                                 self.subscription)},
                                   "subnet": {"id": subnet["id"]}}}],
                "sku": {"name": "VpnGw1", "tier": "VpnGw1", "capacity": 2},
                "gatewayType": gateway_type, "vpnType": "RouteBased", "vpnGatewayGeneration": "Generation1",
                "enableBgp": enable_bgp, "enablePrivateIpAddress": False, "activeActive": False,
                "disableIPSecReplayProtection": False,
                "bgpSettings": {"asn": 65515, "bgpPeeringAddress": "10.0.255.30", "peerWeight": 0},
                "allowVirtualWanTraffic": False, "allowRemoteVnetTraffic": False,
            },
        })

    def local_gateway(self, name: str, prefixes: list[str] | None, gateway_ip: str = "81.2.69.142",
                      bgp_peer: str | None = None, rg: str = NET_RG) -> dict[str, Any]:
        """An on-premises site; `prefixes` None leaves `localNetworkAddressSpace` out (a BGP-only site)."""
        props: dict[str, Any] = {"provisioningState": "Succeeded", "resourceGuid": "00000000-0000-0000-0000-0000000000b2",
                                 "gatewayIpAddress": gateway_ip}
        if prefixes is not None:
            props["localNetworkAddressSpace"] = {"addressPrefixes": list(prefixes)}
        if bgp_peer is not None:
            props["bgpSettings"] = {"asn": 65050, "bgpPeeringAddress": bgp_peer, "peerWeight": 0}
        return self._add({"name": name, "id": rid("Microsoft.Network/localNetworkGateways", name, rg, self.subscription),
                          "etag": 'W/"1"', "type": "Microsoft.Network/localNetworkGateways", "location": self.location,
                          "properties": props})

    def connection(self, name: str, gateway: dict[str, Any], local: dict[str, Any] | None = None,
                   connection_type: str = "IPsec", enable_bgp: bool = False, status: str = "Connected",
                   shared_key: str | None = "Abc123-preshared", rg: str = NET_RG,
                   remote_gateway: dict[str, Any] | None = None) -> dict[str, Any]:
        props: dict[str, Any] = {
            "provisioningState": "Succeeded", "resourceGuid": "00000000-0000-0000-0000-0000000000c3",
            "virtualNetworkGateway1": {"id": gateway["id"], "properties": {}},
            "connectionType": connection_type, "connectionProtocol": "IKEv2", "routingWeight": 0,
            "dpdTimeoutSeconds": 45, "enableBgp": enable_bgp, "useLocalAzureIpAddress": False,
            "usePolicyBasedTrafficSelectors": False, "ipsecPolicies": [], "trafficSelectorPolicies": [],
            "connectionStatus": status, "ingressBytesTransferred": 0, "egressBytesTransferred": 0,
            "connectionMode": "Default",
        }
        if local is not None:
            props["localNetworkGateway2"] = {"id": local["id"], "properties": {}}
        if remote_gateway is not None:
            props["virtualNetworkGateway2"] = {"id": remote_gateway["id"], "properties": {}}
        if shared_key is not None:
            props["sharedKey"] = shared_key
        return self._add({"name": name, "id": rid("Microsoft.Network/connections", name, rg, self.subscription),
                          "etag": 'W/"1"', "type": "Microsoft.Network/connections", "location": gateway["location"],
                          "properties": props})

    def nic(self, name: str, subnet: dict[str, Any], private_ip: str, nsg: dict[str, Any] | None = None) -> dict[str, Any]:
        nic_id = rid("Microsoft.Network/networkInterfaces", name, RG, self.subscription)
        props: dict[str, Any] = {
            "provisioningState": "Succeeded",
            "ipConfigurations": [{
                "name": "ipconfig1", "id": f"{nic_id}/ipConfigurations/ipconfig1",
                "properties": {"privateIPAddress": private_ip, "privateIPAllocationMethod": "Dynamic",
                               "subnet": {"id": subnet["id"]}, "primary": True, "privateIPAddressVersion": "IPv4"},
            }],
            "primary": True, "enableAcceleratedNetworking": False,
        }
        if nsg is not None:
            props["networkSecurityGroup"] = {"id": nsg["id"]}
        return self._add({"name": name, "id": nic_id, "type": "Microsoft.Network/networkInterfaces",
                          "location": self.location, "properties": props})

    # -- compute targets -----------------------------------------------------------------

    def vm(self, name: str, nic: dict[str, Any], publisher: str = "Canonical",
           offer: str = "0001-com-ubuntu-server-jammy", sku: str = "22_04-lts-gen2", os_type: str = "Linux") -> dict[str, Any]:
        image: dict[str, Any] = {"publisher": publisher, "offer": offer, "sku": sku, "version": "latest"}
        return self._add({
            "name": name, "id": rid("Microsoft.Compute/virtualMachines", name, RG, self.subscription),
            "type": "Microsoft.Compute/virtualMachines", "location": self.location,
            "properties": {
                "vmId": "0f47b100-583c-48e3-a4c0-aefc2c9bbcc1",
                "hardwareProfile": {"vmSize": "Standard_DS3_v2"},
                "storageProfile": {"imageReference": image,
                                   "osDisk": {"osType": os_type, "name": f"{name}_OsDisk", "createOption": "FromImage"}},
                "osProfile": {"computerName": name, "adminUsername": "azureuser"},
                "networkProfile": {"networkInterfaces": [{"id": nic["id"], "properties": {"primary": True}}]},
                "provisioningState": "Succeeded",
            },
        })

    def managed_cluster(self, name: str, subnet: dict[str, Any] | None, service_cidr: str = "10.2.0.0/16",
                        dns_service_ip: str = "10.2.0.10", docker_bridge_cidr: str | None = "172.17.0.1/16",
                        location: str | None = None) -> dict[str, Any]:
        pool: dict[str, Any] = {"name": "nodepool1", "count": 3, "vmSize": "Standard_D4s_v3", "osType": "Linux", "mode": "System"}
        if subnet is not None:
            pool["vnetSubnetID"] = subnet["id"]
        network: dict[str, Any] = {"networkPlugin": "azure", "serviceCidr": service_cidr, "dnsServiceIP": dns_service_ip,
                                   "loadBalancerSku": "standard", "outboundType": "loadBalancer"}
        if docker_bridge_cidr is not None:
            network["dockerBridgeCidr"] = docker_bridge_cidr
        return self._add({
            "id": rid("Microsoft.ContainerService/managedClusters", name, RG, self.subscription).replace("resourceGroups", "resourcegroups"),
            "location": location or self.location, "name": name, "type": "Microsoft.ContainerService/ManagedClusters",
            "properties": {"provisioningState": "Succeeded", "kubernetesVersion": "1.29.4", "dnsPrefix": name,
                           "agentPoolProfiles": [pool], "networkProfile": network, "nodeResourceGroup": f"MC_{RG}_{name}"},
        })

    # -- data plane dependencies -----------------------------------------------------------

    def storage_account(self, name: str = "stmlprod001", default_action: str | None = "Allow",
                        bypass: str | None = "AzureServices", subnets: list[dict[str, Any]] | None = None,
                        sub: str | None = None) -> dict[str, Any]:
        props: dict[str, Any] = {"provisioningState": "Succeeded", "supportsHttpsTrafficOnly": True,
                                 "primaryEndpoints": {"blob": f"https://{name}.blob.core.windows.net/"}}
        if default_action is not None:
            props["networkAcls"] = {
                "bypass": bypass, "defaultAction": default_action, "ipRules": [], "resourceAccessRules": [],
                "virtualNetworkRules": [{"id": s["id"], "action": "Allow", "state": "Succeeded"} for s in subnets or []],
            }
        return self._add({"id": rid("Microsoft.Storage/storageAccounts", name, RG, sub or self.subscription), "kind": "StorageV2",
                          "location": self.location, "name": name, "type": "Microsoft.Storage/storageAccounts",
                          "sku": {"name": "Standard_LRS", "tier": "Standard"}, "tags": {}, "properties": props})

    def key_vault(self, name: str = "kv-ml-prod", default_action: str | None = "Allow", bypass: str = "AzureServices",
                  subnets: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        props: dict[str, Any] = {"sku": {"family": "A", "name": "standard"}, "tenantId": self.subscriptions[0]["tenantId"],
                                 "vaultUri": f"https://{name}.vault.azure.net", "provisioningState": "Succeeded",
                                 "enableRbacAuthorization": True}
        if default_action is not None:
            # Key Vault hands subnet ids back lower-cased.
            props["networkAcls"] = {"defaultAction": default_action, "bypass": bypass, "ipRules": [],
                                    "virtualNetworkRules": [{"id": s["id"].lower()} for s in subnets or []]}
        return self._add({"id": rid("Microsoft.KeyVault/vaults", name, RG, self.subscription), "name": name,
                          "type": "Microsoft.KeyVault/vaults", "location": self.location, "tags": {}, "properties": props})

    def workspace(self, name: str = "mlw-prod", storage: dict[str, Any] | None = None,
                  key_vault: dict[str, Any] | None = None, location: str | None = None) -> dict[str, Any]:
        props: dict[str, Any] = {"friendlyName": name, "provisioningState": "Succeeded", "publicNetworkAccess": "Enabled",
                                 "containerRegistry": rid("Microsoft.ContainerRegistry/registries", "crmlprod", RG, self.subscription),
                                 "applicationInsights": rid("microsoft.insights/components", "appi-ml", RG, self.subscription)}
        if storage is not None:
            props["storageAccount"] = storage["id"]
        if key_vault is not None:
            props["keyVault"] = key_vault["id"]
        return self._add({"id": rid("Microsoft.MachineLearningServices/workspaces", name, RG, self.subscription),
                          "name": name, "type": "Microsoft.MachineLearningServices/workspaces",
                          "location": location or self.location, "identity": {"type": "SystemAssigned"},
                          "sku": {"name": "Basic", "tier": "Basic"}, "properties": props})

    def _compute(self, workspace: dict[str, Any], name: str, compute_type: str, props: dict[str, Any],
                 resource_id: str | None = None, location: str | None = None) -> dict[str, Any]:
        outer: dict[str, Any] = {"computeType": compute_type, "provisioningState": "Succeeded", "description": "",
                                 "createdOn": "2026-01-05T10:00:00.0000000+00:00", "isAttachedCompute": resource_id is not None,
                                 "properties": props}
        if resource_id is not None:
            outer["resourceId"] = resource_id
        return self._add({"id": f"{workspace['id']}/computes/{name}", "name": name,
                          "type": "Microsoft.MachineLearningServices/workspaces/computes",
                          "location": location or workspace["location"], "properties": outer})

    def aml_compute(self, workspace: dict[str, Any], name: str, subnet: dict[str, Any] | str | None,
                    max_nodes: int = 4, current_nodes: int = 0, enable_node_public_ip: bool | None = True,
                    remote_login: str = "Disabled", location: str | None = None) -> dict[str, Any]:
        props: dict[str, Any] = {"vmSize": "STANDARD_DS3_V2", "vmPriority": "Dedicated", "osType": "Linux",
                                 "scaleSettings": {"maxNodeCount": max_nodes, "minNodeCount": 0, "nodeIdleTimeBeforeScaleDown": "PT120S"},
                                 "remoteLoginPortPublicAccess": remote_login, "allocationState": "Steady",
                                 "currentNodeCount": current_nodes, "targetNodeCount": current_nodes, "isolatedNetwork": False}
        if subnet is not None:
            props["subnet"] = {"id": subnet if isinstance(subnet, str) else subnet["id"]}
        if enable_node_public_ip is not None:
            props["enableNodePublicIp"] = enable_node_public_ip
        return self._compute(workspace, name, "AmlCompute", props, location=location)

    def vm_compute(self, workspace: dict[str, Any], name: str, vm: dict[str, Any] | str) -> dict[str, Any]:
        vm_id = vm if isinstance(vm, str) else vm["id"]
        return self._compute(workspace, name, "VirtualMachine",
                             {"virtualMachineSize": "Standard_DS3_v2", "sshPort": 22, "address": "10.0.3.4"}, resource_id=vm_id)

    def aks_compute(self, workspace: dict[str, Any], name: str, cluster: dict[str, Any] | str | None,
                    networking: dict[str, Any] | None = None, ssl_status: str = "Enabled") -> dict[str, Any]:
        cluster_id = cluster if isinstance(cluster, str) or cluster is None else cluster["id"]
        props: dict[str, Any] = {"agentCount": 3, "agentVmSize": "Standard_D4s_v3", "clusterPurpose": "FastProd",
                                 "sslConfiguration": {"status": ssl_status}}
        if networking is not None:
            props["aksNetworkingConfiguration"] = networking
        return self._compute(workspace, name, "AKS", props, resource_id=cluster_id)

    # -- other sections ------------------------------------------------------------------

    def network_usages(self, location: str | None = None, nsgs: tuple[float, float] = (10, 5000),
                       public_ips: tuple[float, float] = (12, 1000), load_balancers: tuple[float, float] = (3, 1000),
                       sub: str | None = None) -> dict[str, Any]:
        sub = sub or self.subscription
        loc = location or self.location

        def usage(name: str, localized: str, pair: tuple[float, float]) -> dict[str, Any]:
            return {"currentValue": float(pair[0]), "limit": float(pair[1]), "unit": "Count",
                    "id": f"/subscriptions/{sub}/providers/Microsoft.Network/locations/{loc}/usages/{name}",
                    "name": {"localizedValue": localized, "value": name}}

        block = {"subscription_id": sub, "location": loc, "value": [
            usage("VirtualNetworks", "Virtual Networks", (4, 1000)),
            usage("NetworkSecurityGroups", "Network Security Groups", nsgs),
            usage("PublicIPAddresses", "Public IP Addresses", public_ips),
            usage("LoadBalancers", "Load Balancers", load_balancers),
            usage("RouteTables", "Route Tables", (1, 200)),
        ]}
        assert self.usages is not None
        self.usages.append(block)
        return block

    def real_service_tags(self, location: str | None = None, path: Path = SERVICE_TAGS_SUBSET) -> dict[str, Any]:
        body = json.loads(path.read_text())
        block = {"location": location or self.location, "body": body}
        assert self.service_tags is not None
        self.service_tags.append(block)
        return block

    def lock(self, scope_id: str, level: str = "ReadOnly", name: str = "do-not-touch") -> dict[str, Any]:
        entry = {"id": f"{scope_id}/providers/Microsoft.Authorization/locks/{name}", "type": "Microsoft.Authorization/locks",
                 "name": name, "properties": {"level": level, "notes": ""}}
        assert self.locks is not None
        self.locks.append(entry)
        return entry

    def collection_error(self, scope: str, status: int = 403, code: str = "AuthorizationFailed",
                         operation: str = "GET", message: str = "The client does not have authorization to perform action.") -> dict[str, Any]:
        entry = {"scope": scope, "operation": operation, "status": status, "code": code, "message": message}
        self.errors.append(entry)
        return entry

    def drop(self, obj: dict[str, Any]) -> None:
        """Remove a resource from the snapshot (a reference to it becomes a gap)."""
        self.resources = [r for r in self.resources if r is not obj]

    # -- outputs -------------------------------------------------------------------------

    def document(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "format": "amlaudit.snapshot/v1",
            "collected_at": "2026-11-28T19:00:00Z",
            "subscriptions": self.subscriptions,
            "resources": self.resources,
            "errors": self.errors,
        }
        for key in ("usages", "service_tags", "locks"):
            value = getattr(self, key)
            if value is not None:
                doc[key] = value
        return copy.deepcopy(doc)

    def snapshot(self) -> Snapshot:
        return parse_snapshot(self.document(), "test-estate")

    def estate(self) -> Estate:
        return build_estate(self.snapshot())
