"""Build the normalized graph from a snapshot, once per run.

Reads the real ARM shapes: singular and plural prefix fields, ids in any case,
optional keys missing. A relation whose target the snapshot lacks becomes a
:class:`Gap` carrying the reason (the collection error for it, when there is
one), so checks can report `error` instead of guessing.
"""

from __future__ import annotations

import ipaddress
from typing import Any, TypeVar
from urllib.parse import urlsplit

from amlaudit.auditor.graph.estate import Estate
from amlaudit.auditor.graph.model import (
    AksNetworking,
    Compute,
    ComputeKind,
    Gap,
    GatewayConnection,
    HDInsightCluster,
    IpConfiguration,
    KeyVault,
    LocalNetworkGateway,
    ManagedCluster,
    ManagementLock,
    NetworkAcls,
    NetworkInterface,
    NetworkSecurityGroup,
    NetworkUsages,
    Node,
    RemoteGatewayPeering,
    RouteTable,
    StorageAccount,
    Subnet,
    UsageQuota,
    VirtualMachine,
    VirtualNetwork,
    VirtualNetworkGateway,
    Workspace,
    normalize_location,
)
from amlaudit.auditor.ids import id_key, looks_like_arm_id, parent_id, parse_arm_id
from amlaudit.auditor.snapshot import CollectionError, Snapshot

N = TypeVar("N", bound=Node)

T_WORKSPACE = "microsoft.machinelearningservices/workspaces"
T_COMPUTE = "microsoft.machinelearningservices/workspaces/computes"
T_VNET = "microsoft.network/virtualnetworks"
T_SUBNET = "microsoft.network/virtualnetworks/subnets"
T_NSG = "microsoft.network/networksecuritygroups"
T_ROUTE_TABLE = "microsoft.network/routetables"
T_NIC = "microsoft.network/networkinterfaces"
T_VM = "microsoft.compute/virtualmachines"
T_MANAGED_CLUSTER = "microsoft.containerservice/managedclusters"
T_STORAGE = "microsoft.storage/storageaccounts"
T_KEY_VAULT = "microsoft.keyvault/vaults"
T_HDINSIGHT = "microsoft.hdinsight/clusters"
T_VNET_GATEWAY = "microsoft.network/virtualnetworkgateways"
T_CONNECTION = "microsoft.network/connections"
T_LOCAL_GATEWAY = "microsoft.network/localnetworkgateways"
GATEWAY_SUBNET = "gatewaysubnet"  # Azure requires this name for the subnet of a virtual network gateway

_COMPUTE_KINDS: dict[str, ComputeKind] = {
    "amlcompute": "AmlCompute",
    "aks": "AKS",
    "virtualmachine": "VirtualMachine",
    "hdinsight": "HDInsight",
}


def _props(obj: Any) -> dict[str, Any]:
    if isinstance(obj, dict):
        props = obj.get("properties")
        if isinstance(props, dict):
            return props
    return {}


def _dict(value: Any) -> dict[str, Any]:
    """`value` when it is an object, else empty: a mis-shaped field reads as absent, not as a crash."""
    return value if isinstance(value, dict) else {}


def _get_ci(obj: dict[str, Any], *names: str) -> Any:
    """First present key among `names`, compared case-insensitively (ARM is loose about case)."""
    for name in names:
        if name in obj:
            return obj[name]
    lowered = {k.lower(): v for k, v in obj.items()}
    for name in names:
        if name.lower() in lowered:
            return lowered[name.lower()]
    return None


def _ref_id(obj: Any) -> str | None:
    """The `id` of a `{"id": ...}` reference, or None."""
    if isinstance(obj, dict):
        value = obj.get("id")
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _reference(props: dict[str, Any], key: str) -> tuple[str | None, str | None]:
    """(`props[key].id`, None), or (None, why) when the key holds a reference that cannot be read.

    Absent or null is "no such reference" (a subnet without NSG); any other value without a
    readable `id` is not: read as "none" it would turn an unknown NSG into "allows everything".
    """
    value = props.get(key)
    if value is None:
        return None, None
    ref_id = _ref_id(value)
    if ref_id is None:
        return None, f"properties.{key} is not a readable reference ({value!r:.80})"
    return ref_id, None


def _str_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if value.strip() else []
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str) and v.strip()]
    return []


def _prefixes(props: dict[str, Any]) -> list[str]:
    """`addressPrefix` and/or `addressPrefixes`: ARM fills one or the other (or both)."""
    seen: list[str] = []
    for p in _str_list(props.get("addressPrefix")) + _str_list(props.get("addressPrefixes")):
        if p not in seen:
            seen.append(p)
    return seen


class ErrorIndex:
    """Finds the collection error that explains why a referenced resource is missing."""

    def __init__(self, errors: list[CollectionError]) -> None:
        self._entries: list[tuple[str, CollectionError]] = [(self._scope_key(e.scope), e) for e in errors]

    @staticmethod
    def _scope_key(scope: str) -> str:
        if "://" in scope:
            scope = urlsplit(scope).path
        return id_key(scope.split("?", 1)[0])

    def explain(self, ref_id: str) -> CollectionError | None:
        key = id_key(ref_id)
        for scope, error in self._entries:
            if scope == key or key.startswith(scope + "/"):
                return error
        # A failed subscription-wide list, e.g. /subscriptions/s/providers/Microsoft.Network/virtualNetworks,
        # explains every missing resource of that type in that subscription.
        wanted = _listed_type(key, resource=True)
        if wanted is None:
            return None
        for scope, error in self._entries:
            if _listed_type(scope, resource=False) == wanted:
                return error
        return None

    def scopes(self) -> list[str]:
        """The errors' scopes as id keys (path only, no query string)."""
        return [scope for scope, _ in self._entries]

    def within(self, scope: str) -> list[CollectionError]:
        """Errors recorded at `scope` or below it (e.g. one compute of a workspace's compute list)."""
        key = self._scope_key(scope)
        return [error for entry, error in self._entries if entry == key or entry.startswith(key + "/")]


def describe_error(error: CollectionError) -> str:
    """"could not be read (HTTP 403 AuthorizationFailed: ...)", the reason a Gap gives."""
    status = f"HTTP {error.status} " if error.status else ""
    code = f"{error.code}: " if error.code else ""
    detail = error.message or error.operation or "collection failed"
    return f"could not be read ({status}{code}{detail})".replace("( ", "(")


def _listed_type(key: str, resource: bool) -> tuple[str, str] | None:
    """(subscription, 'namespace/type') of a resource id key or of a list path key."""
    parts = key.strip("/").split("/")
    if len(parts) < 2 or parts[0] != "subscriptions" or "providers" not in parts:
        return None
    tail = parts[parts.index("providers") + 1 :]
    if resource and len(tail) >= 3:
        return parts[1], f"{tail[0]}/{tail[1]}"
    if not resource and len(tail) == 2:
        return parts[1], f"{tail[0]}/{tail[1]}"
    return None


class _Builder:
    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self.estate = Estate(snapshot=snapshot)
        self.errors = ErrorIndex(snapshot.errors)
        self.by_type: dict[str, list[dict[str, Any]]] = {}
        first_copy: dict[str, dict[str, Any]] = {}
        # Ids whose copies disagree: which one is true is unknown, so the resource is a gap.
        self.conflicting: set[str] = set()
        for resource in snapshot.resources:
            # Azure ids compare case-insensitively: a resource listed twice (say, once from a list
            # and once by id, in another case) is one resource.
            key = id_key(resource["id"])
            earlier = first_copy.get(key)
            if earlier is not None:
                if _without_id(earlier) != _without_id(resource):
                    self.conflicting.add(key)
                continue
            first_copy[key] = resource
            self.by_type.setdefault(resource["type"].lower(), []).append(resource)
        # A referenced resource with disagreeing copies becomes a gap (its checks say error).
        # Workspaces and computes are subjects, not references: dropping them would silently drop
        # their findings, so the first copy stays and the conflict is listed as a coverage gap.
        for key in sorted(self.conflicting):
            resource = first_copy[key]
            if resource["type"].lower() in (T_WORKSPACE, T_COMPUTE):
                self.conflicting.discard(key)
                self.estate.gaps.append(Gap(resource["id"], resource["type"], "the snapshot holds two different "
                                            "copies of it; the first was audited"))
        if self.conflicting:
            for type_key, resources in self.by_type.items():
                self.by_type[type_key] = [r for r in resources if id_key(r["id"]) not in self.conflicting]
        # Snapshot order is an accident of the client that collected it; ordering by id makes
        # findings and their messages the same whichever ARM client wrote the snapshot.
        for resources in self.by_type.values():
            resources.sort(key=lambda r: id_key(r["id"]))

    # -- gaps ---------------------------------------------------------------------------

    def gap(self, ref_id: str, kind: str) -> Gap:
        if id_key(ref_id) in self.conflicting:
            g = Gap(ref_id, kind, "the snapshot holds two different copies of it, so which is current is unknown")
        elif not looks_like_arm_id(ref_id):
            g = Gap(ref_id, kind, f"{ref_id!r} is not an ARM resource id")
        else:
            error = self.errors.explain(ref_id)
            if error is not None:
                g = Gap(ref_id, kind, describe_error(error), error.status)
            else:
                g = Gap(ref_id, kind, "not in the snapshot")
        self.estate.gaps.append(g)
        return g

    def resolve(self, table: dict[str, N], ref_id: str | None, kind: str) -> N | Gap | None:
        if ref_id is None:
            return None
        node = table.get(id_key(ref_id))
        return node if node is not None else self.gap(ref_id, kind)

    # -- resources ----------------------------------------------------------------------

    def build(self) -> Estate:
        e = self.estate
        for raw in self.by_type.get(T_NSG, []):
            props = _props(raw)
            defaults = props.get("defaultSecurityRules")
            e.nsgs[id_key(raw["id"])] = NetworkSecurityGroup(
                id=raw["id"],
                name=raw.get("name") or raw["id"].rsplit("/", 1)[-1],
                raw=raw,
                security_rules=[r for r in props.get("securityRules") or [] if isinstance(r, dict)],
                default_security_rules=[r for r in defaults if isinstance(r, dict)] if isinstance(defaults, list) else None,
            )
        for raw in self.by_type.get(T_ROUTE_TABLE, []):
            e.route_tables[id_key(raw["id"])] = RouteTable(
                id=raw["id"],
                name=raw.get("name") or raw["id"].rsplit("/", 1)[-1],
                raw=raw,
                routes=[r for r in _props(raw).get("routes") or [] if isinstance(r, dict)],
            )
        self._gateways()
        self._vnets()
        self._nics()
        for raw in self.by_type.get(T_VM, []):
            self._vm(raw)
        for raw in self.by_type.get(T_MANAGED_CLUSTER, []):
            e.managed_clusters[id_key(raw["id"])] = ManagedCluster(raw["id"], raw.get("name") or "", raw)
        for raw in self.by_type.get(T_HDINSIGHT, []):
            e.hdinsight_clusters[id_key(raw["id"])] = HDInsightCluster(raw["id"], raw.get("name") or "", raw)
        for raw in self.by_type.get(T_STORAGE, []):
            e.storage_accounts[id_key(raw["id"])] = StorageAccount(
                raw["id"], raw.get("name") or "", raw, network_acls=self._network_acls(raw, absent_means_allow=False)
            )
        for raw in self.by_type.get(T_KEY_VAULT, []):
            e.key_vaults[id_key(raw["id"])] = KeyVault(
                raw["id"], raw.get("name") or "", raw, network_acls=self._network_acls(raw, absent_means_allow=True)
            )
        for raw in self.by_type.get(T_WORKSPACE, []):
            self._workspace(raw)
        for raw in self.by_type.get(T_COMPUTE, []):
            self._compute(raw)
        self._unread_computes()
        self._usages()
        self._locks()
        return e

    def _gateways(self) -> None:
        """Local network gateways, connections and virtual network gateways, linked: a gateway
        holds the connections whose `virtualNetworkGateway1` it is, a connection its
        `localNetworkGateway2`. A gateway whose connection list could not be read (an error at
        `{gateway}/connections`) gets `connections_gap`: its on-premises spaces are unknown."""
        e = self.estate
        for raw in self.by_type.get(T_LOCAL_GATEWAY, []):
            e.local_gateways[id_key(raw["id"])] = _local_gateway(raw)
        by_gateway: dict[str, list[GatewayConnection]] = {}
        for raw in self.by_type.get(T_CONNECTION, []):
            props = _props(raw)
            connection = GatewayConnection(
                id=raw["id"],
                name=raw.get("name") or raw["id"].rsplit("/", 1)[-1],
                raw=raw,
                connection_type=props.get("connectionType") if isinstance(props.get("connectionType"), str) else "",
                gateway1_id=_ref_id(props.get("virtualNetworkGateway1")),
                local_gateway_id=_ref_id(props.get("localNetworkGateway2")),
                enable_bgp=props.get("enableBgp") is True,
            )
            if connection.is_site_to_site:
                connection.local_gateway = (
                    self.resolve(e.local_gateways, connection.local_gateway_id, "local network gateway")
                    if connection.local_gateway_id
                    else self._unreadable_ref(raw["id"], "local network gateway",
                                              "the site-to-site connection names no localNetworkGateway2"))
            e.connections[id_key(raw["id"])] = connection
            if connection.gateway1_id:
                by_gateway.setdefault(id_key(connection.gateway1_id), []).append(connection)
        for raw in self.by_type.get(T_VNET_GATEWAY, []):
            props = _props(raw)
            gateway = VirtualNetworkGateway(
                id=raw["id"],
                name=raw.get("name") or raw["id"].rsplit("/", 1)[-1],
                raw=raw,
                gateway_type=props.get("gatewayType") if isinstance(props.get("gatewayType"), str) else "",
                enable_bgp=props.get("enableBgp") is True,
                connections=by_gateway.get(id_key(raw["id"]), []),
            )
            listing = raw["id"].rstrip("/") + "/connections"
            if self.errors.explain(listing) is not None:
                gateway.connections_gap = self.gap(listing, "connection list of virtual network gateway")
            e.vnet_gateways[id_key(raw["id"])] = gateway

    def _vnet_gateway_refs(self, vnet: VirtualNetwork) -> None:
        """The gateways in the VNet's GatewaySubnet: each ipConfiguration of that subnet that
        belongs to a virtual network gateway names it (`{gateway id}/ipConfigurations/{name}`)."""
        seen: set[str] = set()
        for subnet in vnet.subnets:
            if subnet.id.rstrip("/").rsplit("/", 1)[-1].lower() != GATEWAY_SUBNET:
                continue
            configs = _props(subnet.raw).get("ipConfigurations")
            for config in configs if isinstance(configs, list) else []:
                config_id = _ref_id(config)
                gateway_id = parent_id(config_id, "ipConfigurations") if config_id else None
                if (gateway_id is None or (parse_arm_id(gateway_id) is None)
                        or "/virtualnetworkgateways/" not in gateway_id.lower() or id_key(gateway_id) in seen):
                    continue
                seen.add(id_key(gateway_id))
                vnet.gateways.append(self.resolve(self.estate.vnet_gateways, gateway_id, "virtual network gateway"))

    def _vnets(self) -> None:
        e = self.estate
        for raw in self.by_type.get(T_VNET, []):
            props = _props(raw)
            parsed = parse_arm_id(raw["id"])
            vnet = VirtualNetwork(
                id=raw["id"],
                name=raw.get("name") or raw["id"].rsplit("/", 1)[-1],
                raw=raw,
                address_prefixes=_str_list(_dict(props.get("addressSpace")).get("addressPrefixes")),
                subscription_id=parsed.subscription_id if parsed else "",
                resource_group=parsed.resource_group if parsed else None,
            )
            e.vnets[id_key(raw["id"])] = vnet
            # A VNet GET always carries `subnets` (empty when there are none): without it, or with
            # entries that cannot be read, "no subnet of the VNet overlaps" cannot be decided.
            subnets = props.get("subnets")
            if not isinstance(subnets, list):
                vnet.subnets_problem = f"properties.subnets is {'missing' if subnets is None else 'not a list'}"
                subnets = []
            unreadable = 0
            for sub_raw in subnets:
                if isinstance(sub_raw, dict) and isinstance(sub_raw.get("id"), str) and sub_raw["id"].strip():
                    self._subnet(sub_raw, vnet)
                else:
                    unreadable += 1
            if unreadable:
                vnet.subnets_problem = (f"{unreadable} entr{'y' if unreadable == 1 else 'ies'} of properties.subnets "
                                        "cannot be read")
        # Subnets returned on their own (GET .../subnets/x) refine the embedded copy.
        for sub_raw in self.by_type.get(T_SUBNET, []):
            vnet_id = parent_id(sub_raw["id"], "subnets")
            vnet = e.vnets.get(id_key(vnet_id)) if vnet_id else None
            if vnet is not None:
                vnet.subnets = [s for s in vnet.subnets if id_key(s.id) != id_key(sub_raw["id"])]
            self._subnet(sub_raw, vnet)
        # Peered spaces count as `VirtualNetwork` in NSG rules; only connected peerings carry traffic.
        # A peering whose remote space cannot be read leaves `VirtualNetwork` unknown (a peer's range
        # would otherwise count as Internet). A GET without `virtualNetworkPeerings` reads as no
        # peerings: ARM returns the list, but older snapshots and hand-made estates omit it.
        for vnet in e.vnets.values():
            peerings = _props(vnet.raw).get("virtualNetworkPeerings")
            if peerings is not None and not isinstance(peerings, list):
                vnet.peering_problem = "properties.virtualNetworkPeerings is not a list"
            for peering in peerings if isinstance(peerings, list) else []:
                if not isinstance(peering, dict):
                    vnet.peering_problem = f"a peering entry is not an object ({peering!r:.80})"
                    continue
                pprops = _props(peering)
                state = pprops.get("peeringState")
                if isinstance(state, str) and state.lower() != "connected":
                    continue
                space = _str_list(_dict(pprops.get("remoteAddressSpace")).get("addressPrefixes"))
                if not space:
                    space = _str_list(_dict(pprops.get("remoteVirtualNetworkAddressSpace")).get("addressPrefixes"))
                remote_id = _ref_id(pprops.get("remoteVirtualNetwork"))
                if pprops.get("useRemoteGateways") is True:
                    # The VNet reaches on-premises through the remote VNet's gateways.
                    name = peering.get("name") or remote_id or "?"
                    remote = (self.resolve(e.vnets, remote_id, "virtual network") if remote_id else
                              self._unreadable_ref(vnet.id, "virtual network", f"peering {name} names no remoteVirtualNetwork"))
                    vnet.remote_gateway_peerings.append(RemoteGatewayPeering(name, remote_id or "", remote))
                if not space and remote_id and id_key(remote_id) in e.vnets:
                    space = list(e.vnets[id_key(remote_id)].address_prefixes)
                if not space:
                    vnet.peering_problem = (f"peering {peering.get('name') or remote_id or '?'} names no readable remote "
                                            "address space")
                for prefix in space:
                    if prefix not in vnet.peered_address_prefixes:
                        vnet.peered_address_prefixes.append(prefix)
            self._vnet_gateway_refs(vnet)

    def _subnet(self, raw: dict[str, Any], vnet: VirtualNetwork | None) -> Subnet:
        props = _props(raw)
        nsg_id, nsg_problem = _reference(props, "networkSecurityGroup")
        route_table_id, route_table_problem = _reference(props, "routeTable")
        if not isinstance(raw.get("properties"), dict):
            nsg_problem = route_table_problem = "the subnet object carries no properties"
        ip_configs = props.get("ipConfigurations")
        subnet = Subnet(
            id=raw["id"],
            name=raw.get("name") or raw["id"].rsplit("/", 1)[-1],
            raw=raw,
            vnet=vnet,
            address_prefixes=_prefixes(props),
            service_endpoints=[
                se["service"] for se in props.get("serviceEndpoints") or [] if isinstance(se, dict) and isinstance(se.get("service"), str)
            ],
            ip_configuration_count=len(ip_configs) if isinstance(ip_configs, list) else 0,
            nsg_id=nsg_id,
            route_table_id=route_table_id,
        )
        subnet.nsg = (self._unreadable_ref(raw["id"], "network security group", nsg_problem) if nsg_problem
                      else self.resolve(self.estate.nsgs, subnet.nsg_id, "network security group"))
        subnet.route_table = (self._unreadable_ref(raw["id"], "route table", route_table_problem) if route_table_problem
                              else self.resolve(self.estate.route_tables, subnet.route_table_id, "route table"))
        self.estate.subnets[id_key(raw["id"])] = subnet
        if vnet is not None:
            vnet.subnets.append(subnet)
        return subnet

    def _unreadable_ref(self, holder_id: str, kind: str, problem: str) -> Gap:
        """The Gap for a reference the holder names in a shape that cannot be read."""
        g = Gap(holder_id, kind, f"its {kind} is unknown: {problem}")
        self.estate.gaps.append(g)
        return g

    def _subnet_ref(self, subnet_id: str | None) -> Subnet | Gap | None:
        if subnet_id is None:
            return None
        node = self.estate.subnets.get(id_key(subnet_id))
        if node is not None:
            return node
        vnet_id = parent_id(subnet_id, "subnets") if looks_like_arm_id(subnet_id) else None
        if vnet_id and id_key(vnet_id) not in self.estate.vnets:
            vgap = self.gap(vnet_id, "virtual network")
            g = Gap(subnet_id, "subnet", f"its virtual network {vnet_id} {vgap.reason}", vgap.status)
            self.estate.gaps.append(g)
            return g
        if vnet_id:
            problem = self.estate.vnets[id_key(vnet_id)].subnets_problem
            g = Gap(subnet_id, "subnet", f"the virtual network {vnet_id} has no such subnet"
                    + (f" among those that could be read ({problem})" if problem else ""))
            self.estate.gaps.append(g)
            return g
        return self.gap(subnet_id, "subnet")

    def _nics(self) -> None:
        for raw in self.by_type.get(T_NIC, []):
            props = _props(raw)
            configs = []
            for ipc in props.get("ipConfigurations") or []:
                if not isinstance(ipc, dict):
                    continue
                iprops = _props(ipc)
                subnet_id = _ref_id(iprops.get("subnet"))
                configs.append(
                    IpConfiguration(
                        name=str(ipc.get("name", "")),
                        subnet_id=subnet_id,
                        subnet=self._subnet_ref(subnet_id),
                        private_ip=iprops.get("privateIPAddress") if isinstance(iprops.get("privateIPAddress"), str) else None,
                        primary=bool(iprops.get("primary")),
                    )
                )
            nsg_id, nsg_problem = _reference(props, "networkSecurityGroup")
            if not isinstance(raw.get("properties"), dict):
                nsg_problem = "the network interface object carries no properties"
            self.estate.nics[id_key(raw["id"])] = NetworkInterface(
                id=raw["id"],
                name=raw.get("name") or "",
                raw=raw,
                ip_configurations=configs,
                nsg_id=nsg_id,
                nsg=(self._unreadable_ref(raw["id"], "network security group", nsg_problem) if nsg_problem
                     else self.resolve(self.estate.nsgs, nsg_id, "network security group")),
                primary=bool(props.get("primary")),
            )

    def _vm(self, raw: dict[str, Any]) -> None:
        refs = _dict(_props(raw).get("networkProfile")).get("networkInterfaces") or []
        nic_ids: list[str] = []
        primary: str | None = None
        for ref in refs:
            nic_id = _ref_id(ref)
            if nic_id is None:
                continue
            nic_ids.append(nic_id)
            if _props(ref).get("primary") and primary is None:
                primary = nic_id
        vm = VirtualMachine(raw["id"], raw.get("name") or "", raw, nic_ids=nic_ids, primary_nic_id=primary)
        vm.nics = [self.resolve(self.estate.nics, n, "network interface") for n in nic_ids]
        self.estate.vms[id_key(raw["id"])] = vm

    @staticmethod
    def _network_acls(raw: dict[str, Any], absent_means_allow: bool) -> NetworkAcls | None:
        """None when the firewall is unknown. A key vault GET omits networkAcls when the firewall
        was never configured (Azure's default: all networks); a storage GET always carries it,
        so there its absence means it was not collected."""
        if not isinstance(raw.get("properties"), dict):
            return None
        acls = raw["properties"].get("networkAcls")
        if acls is None and absent_means_allow:
            return NetworkAcls(False, None, [], None, [], [])
        if not isinstance(acls, dict):
            return None
        bypass_raw = acls.get("bypass")
        bypass = [b.strip() for b in bypass_raw.split(",") if b.strip()] if isinstance(bypass_raw, str) else []
        return NetworkAcls(
            present=True,
            default_action=acls.get("defaultAction") if isinstance(acls.get("defaultAction"), str) else None,
            bypass=bypass,
            bypass_raw=bypass_raw if isinstance(bypass_raw, str) else None,
            virtual_network_rules=[r for r in acls.get("virtualNetworkRules") or [] if isinstance(r, dict)],
            ip_rules=[r for r in acls.get("ipRules") or [] if isinstance(r, dict)],
        )

    def _workspace(self, raw: dict[str, Any]) -> None:
        props = _props(raw)
        parsed = parse_arm_id(raw["id"])
        storage_id = props.get("storageAccount") if isinstance(props.get("storageAccount"), str) and props.get("storageAccount") else None
        vault_id = props.get("keyVault") if isinstance(props.get("keyVault"), str) and props.get("keyVault") else None
        ws = Workspace(
            id=raw["id"],
            name=raw.get("name") or "",
            raw=raw,
            subscription_id=parsed.subscription_id if parsed else "",
            resource_group=parsed.resource_group if parsed else None,
            storage_account_id=storage_id,
            key_vault_id=vault_id,
        )
        # Every workspace has a storage account and a key vault (required at creation, immutable), so
        # a GET without a readable reference is a partial read: the dependency is a Gap (its checks say
        # error about the workspace) rather than absent (no finding at all).
        ws.storage_account = (self.resolve(self.estate.storage_accounts, storage_id, "storage account") if storage_id
                              else self._missing_dependency(ws, "storageAccount", "storage account"))
        ws.key_vault = (self.resolve(self.estate.key_vaults, vault_id, "key vault") if vault_id
                        else self._missing_dependency(ws, "keyVault", "key vault"))
        listing = self.errors.explain(raw["id"].rstrip("/") + "/computes")
        if listing is not None:
            ws.computes_gap = self.gap(raw["id"].rstrip("/") + "/computes", "compute list")
        self.estate.workspaces.append(ws)
        self.estate.workspaces_by_key[id_key(raw["id"])] = ws

    def _missing_dependency(self, ws: Workspace, key: str, kind: str) -> Gap:
        value = ws.properties.get(key, "(missing)")
        g = Gap(ws.id, f"{kind} of workspace",
                f"the workspace carries no readable properties.{key} ({value!r:.80}), so its {kind} is unknown")
        self.estate.gaps.append(g)
        return g

    def _unread_computes(self) -> None:
        """Workspaces with a compute that could not be read (an error at `<workspace>/computes/<name>`,
        or a compute of unknown kind) have an unknown compute set, as if the list had failed."""
        for ws in self.estate.workspaces:
            if ws.computes_gap is not None:
                continue
            listing = ws.id.rstrip("/") + "/computes"
            present = {id_key(c.id) for c in ws.computes}
            for error in self.errors.within(listing):
                # The compute the error is about: the first segment below the list path.
                below = ErrorIndex._scope_key(error.scope)[len(id_key(listing)) + 1:]
                if f"{id_key(listing)}/{below.split('/', 1)[0]}" not in present:
                    ws.computes_gap = Gap(listing, "compute list", f"{error.scope.split('?', 1)[0]} "
                                          f"{describe_error(error)}", error.status)
                    self.estate.gaps.append(ws.computes_gap)
                    break

    def _compute(self, raw: dict[str, Any]) -> None:
        props = _props(raw)
        inner = props.get("properties") if isinstance(props.get("properties"), dict) else {}
        compute_type = props.get("computeType") if isinstance(props.get("computeType"), str) else ""
        kind = _COMPUTE_KINDS.get(compute_type.lower(), "other")
        unknown_kind = not compute_type.strip()
        target_id = props.get("resourceId") if isinstance(props.get("resourceId"), str) and props.get("resourceId") else None
        compute = Compute(id=raw["id"], name=raw.get("name") or "", raw=raw, kind=kind, compute_type=compute_type, target_id=target_id)
        ws_id = parent_id(raw["id"], "computes")
        workspace = self.estate.workspaces_by_key.get(id_key(ws_id)) if ws_id else None
        if workspace is not None:
            compute.workspace = workspace
            workspace.computes.append(compute)
            if unknown_kind and workspace.computes_gap is None:
                # It may be AKS (inference) or experimentation compute: the workspace's compute set is unknown.
                workspace.computes_gap = Gap(workspace.id.rstrip("/") + "/computes", "compute list",
                                             f"compute {raw['id']} carries no readable properties.computeType, so "
                                             "its kind is unknown")
                self.estate.gaps.append(workspace.computes_gap)
        else:
            compute.workspace = self.gap(ws_id or raw["id"], "workspace")  # type: ignore[assignment]
        if kind == "AmlCompute":
            # Settings that were not returned, or a subnet that is not an object, leave the placement
            # unknown, which is not "names no subnet" (not in a customer VNet: most rows would not
            # apply). A subnet object without an id is the catalog's "subnet.id not set": no subnet.
            subnet_value = inner.get("subnet")
            if not isinstance(props.get("properties"), dict):
                compute.subnet = self._unreadable_ref(raw["id"], "subnet",
                                                      "the compute carries no properties.properties")
            elif subnet_value is not None and not isinstance(subnet_value, dict):
                compute.subnet = self._unreadable_ref(raw["id"], "subnet", "properties.properties.subnet is not an "
                                                      f"object ({subnet_value!r:.80})")
            else:
                compute.subnet_id = _ref_id(subnet_value)
                compute.subnet = self._subnet_ref(compute.subnet_id)
        elif kind == "VirtualMachine":
            self._attach_vm(compute)
        elif kind == "HDInsight":
            self._attach_hdinsight(compute, inner)
        elif kind == "AKS":
            self._attach_aks(compute, inner)
        self.estate.computes.append(compute)

    def _attach_vm(self, compute: Compute) -> None:
        if compute.target_id is None:
            compute.vm = Gap("", "virtual machine", "the compute names no resourceId")
            compute.subnet = Gap("", "subnet", "the compute names no virtual machine")
            self.estate.gaps.extend([compute.vm, compute.subnet])
            return
        vm = self.resolve(self.estate.vms, compute.target_id, "virtual machine")
        compute.vm = vm
        if not isinstance(vm, VirtualMachine):
            compute.subnet = Gap(compute.target_id, "subnet", f"the virtual machine {vm.reason if vm else 'is unknown'}")
            return
        nic = vm.primary_nic
        compute.nic = nic
        if not isinstance(nic, NetworkInterface):
            reason = nic.reason if isinstance(nic, Gap) else "the virtual machine has no network interface"
            compute.subnet = Gap(vm.id, "subnet", f"network interface: {reason}")
            self.estate.gaps.append(compute.subnet)
            return
        ipc = nic.primary_ip_configuration
        if ipc is None or ipc.subnet_id is None:
            compute.subnet = Gap(nic.id, "subnet", "the network interface has no IP configuration with a subnet")
            self.estate.gaps.append(compute.subnet)
            return
        compute.subnet_id = ipc.subnet_id
        compute.subnet = ipc.subnet
        compute.private_ip = ipc.private_ip

    def _attach_hdinsight(self, compute: Compute, inner: dict[str, Any]) -> None:
        address = inner.get("address")
        if isinstance(address, str):
            try:
                compute.private_ip = str(ipaddress.ip_address(address.strip()))
            except ValueError:
                pass
        if compute.target_id is None:
            compute.hdinsight = Gap("", "HDInsight cluster", "the compute names no resourceId")
            compute.subnet = Gap("", "subnet", "the compute names no HDInsight cluster")
            self.estate.gaps.extend([compute.hdinsight, compute.subnet])
            return
        cluster = self.resolve(self.estate.hdinsight_clusters, compute.target_id, "HDInsight cluster")
        compute.hdinsight = cluster
        if not isinstance(cluster, HDInsightCluster):
            compute.subnet = Gap(compute.target_id, "subnet", f"the HDInsight cluster {cluster.reason if cluster else 'is unknown'}")
            return
        if cluster.roles_problem is not None:
            compute.subnet = self._unreadable_ref(cluster.id, "subnet", cluster.roles_problem)
            return
        if cluster.subnet_ids:
            compute.subnet_id = cluster.subnet_ids[0]
            compute.subnet = self._subnet_ref(compute.subnet_id)

    def _attach_aks(self, compute: Compute, inner: dict[str, Any]) -> None:
        if compute.target_id is not None:
            compute.managed_cluster = self.resolve(self.estate.managed_clusters, compute.target_id, "managed cluster")
        config = inner.get("aksNetworkingConfiguration")
        if isinstance(config, dict) and config:
            networking = AksNetworking(
                source="compute aksNetworkingConfiguration",
                subnet_id=_as_str(_get_ci(config, "subnetId", "subnetID")),
                service_cidr=_as_str(_get_ci(config, "serviceCidr")),
                dns_service_ip=_as_str(_get_ci(config, "dnsServiceIP", "dnsServiceIp")),
                docker_bridge_cidr=_as_str(_get_ci(config, "dockerBridgeCidr")),
            )
            if isinstance(compute.managed_cluster, ManagedCluster):
                # The cluster itself is authoritative for what the compute's copy leaves out.
                profile = compute.managed_cluster.network_profile
                pools = compute.managed_cluster.agent_pool_subnet_ids
                networking.subnet_id = networking.subnet_id or (pools[0] if pools else None)
                networking.service_cidr = networking.service_cidr or _as_str(_get_ci(profile, "serviceCidr"))
                networking.dns_service_ip = networking.dns_service_ip or _as_str(_get_ci(profile, "dnsServiceIP", "dnsServiceIp"))
                networking.docker_bridge_cidr = networking.docker_bridge_cidr or _as_str(_get_ci(profile, "dockerBridgeCidr"))
            compute.aks_networking = networking
        elif isinstance(compute.managed_cluster, ManagedCluster):
            mc = compute.managed_cluster
            profile = mc.network_profile
            subnets = mc.agent_pool_subnet_ids
            compute.aks_networking = AksNetworking(
                source="managed cluster networkProfile",
                subnet_id=subnets[0] if subnets else None,
                service_cidr=_as_str(_get_ci(profile, "serviceCidr")),
                dns_service_ip=_as_str(_get_ci(profile, "dnsServiceIP", "dnsServiceIp")),
                docker_bridge_cidr=_as_str(_get_ci(profile, "dockerBridgeCidr")),
            )
        if compute.aks_networking is not None and compute.aks_networking.subnet_id:
            compute.subnet_id = compute.aks_networking.subnet_id
            compute.subnet = self._subnet_ref(compute.subnet_id)

    def _usages(self) -> None:
        usages = self.snapshot.usages
        if usages is None:
            return
        self.estate.usages_collected = True
        for block in usages:
            quotas = {
                u.name.value.lower(): UsageQuota(u.name.value, float(u.currentValue), float(u.limit))
                for u in block.value
                if u.currentValue is not None and u.limit is not None
            }
            key = (block.subscription_id.lower(), normalize_location(block.location))
            existing = self.estate.usages.get(key)
            if existing is not None:
                existing.quotas.update(quotas)
            else:
                self.estate.usages[key] = NetworkUsages(block.subscription_id, normalize_location(block.location), quotas)

    def _locks(self) -> None:
        locks = self.snapshot.locks
        if locks is None:
            return
        self.estate.locks_collected = True
        marker = "/providers/microsoft.authorization/locks/"
        for entry in locks:
            at = entry.id.lower().rfind(marker)
            scope = entry.id[:at] if at > 0 else ""
            lock = ManagementLock(
                id=entry.id,
                name=entry.id.rsplit("/", 1)[-1],
                level=entry.properties.level,
                scope=scope,
                raw=entry.model_dump(),
            )
            self.estate.locks.setdefault(id_key(scope), []).append(lock)


def _local_gateway(raw: dict[str, Any]) -> LocalNetworkGateway:
    """A local network gateway with its address space. ARM leaves `localNetworkAddressSpace`
    out for a site that only speaks BGP; without BGP settings either, the space is unknown."""
    gateway = LocalNetworkGateway(raw["id"], raw.get("name") or raw["id"].rsplit("/", 1)[-1], raw)
    if not isinstance(raw.get("properties"), dict):
        gateway.address_problem = "the local network gateway carries no properties"
        return gateway
    space = gateway.properties.get("localNetworkAddressSpace")
    if space is None:
        if gateway.bgp_settings is None:
            gateway.address_problem = "the local network gateway carries no localNetworkAddressSpace and no bgpSettings"
        return gateway
    prefixes = space.get("addressPrefixes") if isinstance(space, dict) else None
    if prefixes is None and isinstance(space, dict):
        prefixes = []
    if not isinstance(prefixes, list) or not all(isinstance(p, str) for p in prefixes):
        gateway.address_problem = f"localNetworkAddressSpace is not readable ({space!r:.80})"
        return gateway
    gateway.address_prefixes = [p for p in prefixes if p.strip()]
    return gateway


def _without_id(resource: dict[str, Any]) -> dict[str, Any]:
    """A resource's body for comparing two copies (the id's spelling may differ)."""
    return {k: v for k, v in resource.items() if k != "id"}


def _as_str(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def build_estate(snapshot: Snapshot) -> Estate:
    """The normalized graph of a snapshot."""
    return _Builder(snapshot).build()

