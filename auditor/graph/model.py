"""Typed nodes of the normalized graph and the relations checks follow.

Every node keeps `id` exactly as Azure spelled it (for reports) and `raw`, the
ARM object it came from (for evidence). Relations point at other nodes; where
the snapshot lacks the resource a relation names, the relation holds a
:class:`Gap` instead, so a check can say `error` and why rather than guess.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, Union

ComputeKind = Literal["AmlCompute", "AKS", "VirtualMachine", "HDInsight", "other"]


@dataclass(slots=True, eq=False)
class Gap:
    """A resource the graph needed but the snapshot does not hold (or could not read)."""

    ref_id: str  # the id as the referring resource spelled it
    kind: str  # what it should have been: "storage account", "subnet", ...
    reason: str  # one line: why it is missing (collection error, not in snapshot, bad id)
    status: int | None = None  # HTTP status of the collection error, when there was one

    @property
    def id(self) -> str:
        return self.ref_id

    def describe(self) -> str:
        return f"{self.kind} {self.ref_id}: {self.reason}"


T = TypeVar("T")
Ref = Union[T, Gap, None]


@dataclass(slots=True, eq=False)
class Node:
    id: str
    name: str
    raw: dict[str, Any] = field(repr=False)

    @property
    def location(self) -> str | None:
        loc = self.raw.get("location")
        return normalize_location(loc) if isinstance(loc, str) else None

    @property
    def properties(self) -> dict[str, Any]:
        props = self.raw.get("properties")
        return props if isinstance(props, dict) else {}


def normalize_location(location: str) -> str:
    """ARM locations compare as lower-case names without spaces ('East US' == 'eastus')."""
    return location.replace(" ", "").lower()


@dataclass(slots=True, eq=False)
class NetworkAcls:
    """`properties.networkAcls` of a storage account or key vault."""

    present: bool  # False: the GET returned no networkAcls (Azure's default: allow all networks)
    default_action: str | None  # "Allow" | "Deny" as Azure spelled it; None when absent
    bypass: list[str]  # e.g. ["AzureServices", "Logging"]; Azure sends "AzureServices, Logging"
    bypass_raw: str | None
    virtual_network_rules: list[dict[str, Any]]
    ip_rules: list[dict[str, Any]]

    @property
    def effective_default_action(self) -> Literal["Allow", "Deny"] | None:
        """"Allow" or "Deny"; None when the value is missing or unknown (the check must say error).

        A GET without `networkAcls` means the firewall was never configured, which Azure
        documents as accepting every network.
        """
        if not self.present:
            return "Allow"
        value = (self.default_action or "").strip().lower()
        if value == "deny":
            return "Deny"
        if value == "allow":
            return "Allow"
        return None

    def bypasses(self, service: str) -> bool:
        return any(b.lower() == service.lower() for b in self.bypass)


@dataclass(slots=True, eq=False)
class StorageAccount(Node):
    network_acls: NetworkAcls | None = None  # None: the object carries no `properties` (unknown shape)


@dataclass(slots=True, eq=False)
class KeyVault(Node):
    network_acls: NetworkAcls | None = None


@dataclass(slots=True, eq=False)
class SecurityRule:
    """A security rule as ARM returned it, with the fields evaluation keys on."""

    name: str
    priority: int
    direction: str
    access: str
    is_default: bool
    raw: dict[str, Any] = field(repr=False)


@dataclass(slots=True, eq=False)
class NetworkSecurityGroup(Node):
    security_rules: list[dict[str, Any]] = field(default_factory=list)
    # None when the object carries no `defaultSecurityRules` (evaluation uses Azure's defaults).
    default_security_rules: list[dict[str, Any]] | None = None

    @property
    def rules(self) -> list[SecurityRule]:
        """Custom then default rules, typed for evidence; evaluation reads the raw dicts."""
        typed = [_typed_rule(r, False) for r in self.security_rules]
        typed += [_typed_rule(r, True) for r in self.default_security_rules or []]
        return typed


def _typed_rule(rule: dict[str, Any], is_default: bool) -> SecurityRule:
    props = rule.get("properties") if isinstance(rule.get("properties"), dict) else rule
    try:
        priority = int(props.get("priority"))
    except (TypeError, ValueError):
        priority = -1
    return SecurityRule(
        name=str(rule.get("name", "")),
        priority=priority,
        direction=str(props.get("direction", "")),
        access=str(props.get("access", "")),
        is_default=is_default,
        raw=rule,
    )


@dataclass(slots=True, eq=False)
class RouteTable(Node):
    routes: list[dict[str, Any]] = field(default_factory=list)


@dataclass(slots=True, eq=False)
class LocalNetworkGateway(Node):
    """`Microsoft.Network/localNetworkGateways`: an on-premises site as Azure knows it."""

    # `localNetworkAddressSpace.addressPrefixes`: the site's address space.
    address_prefixes: list[str] = field(default_factory=list)
    # Why the address space cannot be read; None: read (possibly empty, for a BGP-only site).
    address_problem: str | None = None

    @property
    def bgp_settings(self) -> dict[str, Any] | None:
        value = self.properties.get("bgpSettings")
        return value if isinstance(value, dict) and value else None


@dataclass(slots=True, eq=False)
class GatewayConnection(Node):
    """`Microsoft.Network/connections`: a virtual network gateway's connection (site-to-site
    `IPsec`, `Vnet2Vnet`, `ExpressRoute`, `VPNClient`)."""

    connection_type: str = ""
    gateway1_id: str | None = None
    local_gateway_id: str | None = None
    local_gateway: Ref[LocalNetworkGateway] = None
    enable_bgp: bool = False

    @property
    def is_site_to_site(self) -> bool:
        return self.connection_type.strip().lower() == "ipsec"

    @property
    def status(self) -> str | None:
        value = self.properties.get("connectionStatus")
        return value if isinstance(value, str) else None


@dataclass(slots=True, eq=False)
class VirtualNetworkGateway(Node):
    """`Microsoft.Network/virtualNetworkGateways` (VPN or ExpressRoute), with the connections
    whose `virtualNetworkGateway1` it is."""

    gateway_type: str = ""
    enable_bgp: bool = False
    connections: list[GatewayConnection] = field(default_factory=list)
    # The gateway's connection list could not be read: its on-premises spaces are unknown.
    connections_gap: Gap | None = None


@dataclass(slots=True, eq=False)
class RemoteGatewayPeering:
    """A connected peering from a VNet with `useRemoteGateways` true: the VNet uses the
    gateways of `remote` (a VNet, or a Gap when it is not in the snapshot)."""

    name: str
    remote_id: str
    remote: Ref[VirtualNetwork]


@dataclass(slots=True, eq=False)
class VirtualNetwork(Node):
    address_prefixes: list[str] = field(default_factory=list)
    subnets: list[Subnet] = field(default_factory=list)
    # Address spaces reachable as `VirtualNetwork` through peerings (from the peering objects).
    peered_address_prefixes: list[str] = field(default_factory=list)
    # The virtual network gateways in its GatewaySubnet (from the subnet's ipConfigurations).
    gateways: list[Ref[VirtualNetworkGateway]] = field(default_factory=list)
    # Connected peerings that use the remote VNet's gateways (`useRemoteGateways`).
    remote_gateway_peerings: list[RemoteGatewayPeering] = field(default_factory=list)
    subscription_id: str = ""
    resource_group: str | None = None
    # Why `subnets` may be incomplete (the GET's subnet list missing or partly unreadable); None: complete.
    subnets_problem: str | None = None
    # Why `peered_address_prefixes` may be incomplete (a peering whose remote space is unknown); None: complete.
    peering_problem: str | None = None


@dataclass(slots=True, eq=False)
class Subnet(Node):
    vnet: VirtualNetwork | None = None
    address_prefixes: list[str] = field(default_factory=list)
    service_endpoints: list[str] = field(default_factory=list)
    ip_configuration_count: int = 0
    nsg_id: str | None = None
    nsg: Ref[NetworkSecurityGroup] = None
    route_table_id: str | None = None
    route_table: Ref[RouteTable] = None

    @property
    def location(self) -> str | None:
        return self.vnet.location if self.vnet else None


@dataclass(slots=True, eq=False)
class IpConfiguration:
    name: str
    subnet_id: str | None
    subnet: Ref[Subnet]
    private_ip: str | None
    primary: bool


@dataclass(slots=True, eq=False)
class NetworkInterface(Node):
    ip_configurations: list[IpConfiguration] = field(default_factory=list)
    nsg_id: str | None = None
    nsg: Ref[NetworkSecurityGroup] = None
    primary: bool = False

    @property
    def primary_ip_configuration(self) -> IpConfiguration | None:
        for ipc in self.ip_configurations:
            if ipc.primary:
                return ipc
        return self.ip_configurations[0] if self.ip_configurations else None


@dataclass(slots=True, eq=False)
class VirtualMachine(Node):
    nic_ids: list[str] = field(default_factory=list)
    nics: list[Ref[NetworkInterface]] = field(default_factory=list)
    primary_nic_id: str | None = None

    @property
    def image_reference(self) -> dict[str, Any]:
        ref = (self.properties.get("storageProfile") or {}).get("imageReference")
        return ref if isinstance(ref, dict) else {}

    @property
    def os_type(self) -> str | None:
        disk = (self.properties.get("storageProfile") or {}).get("osDisk") or {}
        value = disk.get("osType")
        return value if isinstance(value, str) else None

    @property
    def primary_nic(self) -> Ref[NetworkInterface]:
        if not self.nics:
            return None
        if self.primary_nic_id:
            for nic_id, nic in zip(self.nic_ids, self.nics):
                if nic_id.lower() == self.primary_nic_id.lower():
                    return nic
        return self.nics[0]


@dataclass(slots=True, eq=False)
class ManagedCluster(Node):
    @property
    def network_profile(self) -> dict[str, Any]:
        profile = self.properties.get("networkProfile")
        return profile if isinstance(profile, dict) else {}

    @property
    def agent_pools_problem(self) -> str | None:
        """Why the agent pools' subnets cannot be read, or None. Without this, an unreadable pool
        (or `vnetSubnetID`) would read as "in no customer subnet" and the VNet rows would not apply."""
        pools = self.properties.get("agentPoolProfiles")
        if not isinstance(pools, list) or not pools:
            return "the managed cluster lists no agentPoolProfiles"
        for pool in pools:
            if not isinstance(pool, dict):
                return f"an entry of agentPoolProfiles is not an object ({pool!r:.80})"
            subnet = pool.get("vnetSubnetID")
            if subnet is not None and not (isinstance(subnet, str) and subnet.strip()):
                return f"agent pool {pool.get('name')!r} has an unreadable vnetSubnetID ({subnet!r:.80})"
        return None

    @property
    def agent_pool_subnet_ids(self) -> list[str]:
        ids = []
        for pool in self.properties.get("agentPoolProfiles") or []:
            if isinstance(pool, dict) and isinstance(pool.get("vnetSubnetID"), str) and pool["vnetSubnetID"]:
                ids.append(pool["vnetSubnetID"])
        return ids


@dataclass(slots=True, eq=False)
class HDInsightCluster(Node):
    @property
    def roles_problem(self) -> str | None:
        """Why the roles' placement cannot be read, or None. An HDInsight GET always lists the
        roles, and a role's `virtualNetworkProfile` names its subnet: without a readable list,
        "in no subnet" and "in an unknown subnet" cannot be told apart."""
        compute_profile = self.properties.get("computeProfile")
        if not isinstance(compute_profile, dict):
            return "the cluster carries no properties.computeProfile"
        roles = compute_profile.get("roles")
        if not isinstance(roles, list):
            return "properties.computeProfile.roles is missing or not a list"
        for role in roles:
            if not isinstance(role, dict):
                return f"a role of properties.computeProfile.roles is not an object ({role!r})"
            profile = role.get("virtualNetworkProfile")
            if profile is None:
                continue
            sub = profile.get("subnet") if isinstance(profile, dict) else None
            if not isinstance(sub, str) or not sub.strip():
                return f"role {role.get('name')!r} has a virtualNetworkProfile without a readable subnet"
        return None

    @property
    def subnet_ids(self) -> list[str]:
        ids: list[str] = []
        compute_profile = self.properties.get("computeProfile")
        roles = compute_profile.get("roles") if isinstance(compute_profile, dict) else None
        for role in roles if isinstance(roles, list) else []:
            profile = role.get("virtualNetworkProfile") if isinstance(role, dict) else None
            sub = profile.get("subnet") if isinstance(profile, dict) else None
            if isinstance(sub, str) and sub and sub.lower() not in (i.lower() for i in ids):
                ids.append(sub)
        return ids


@dataclass(slots=True, eq=False)
class AksNetworking:
    """The AKS networking settings a check compares, and where they came from."""

    source: str  # "compute aksNetworkingConfiguration" | "managed cluster networkProfile"
    subnet_id: str | None
    service_cidr: str | None
    dns_service_ip: str | None
    docker_bridge_cidr: str | None

    @property
    def from_managed_cluster(self) -> bool:
        """True when the compute carried no aksNetworkingConfiguration (an attached cluster)."""
        return self.source == "managed cluster networkProfile"


@dataclass(slots=True, eq=False)
class Compute(Node):
    """A workspace compute (`Microsoft.MachineLearningServices/workspaces/computes`)."""

    kind: ComputeKind = "other"
    compute_type: str = ""  # as Azure spelled it
    workspace: Workspace | None = None
    # AmlCompute: the configured subnet. VM / HDInsight: the subnet of the machine's NIC.
    # AKS: the agent subnet. None: the compute names no subnet.
    subnet_id: str | None = None
    subnet: Ref[Subnet] = None
    target_id: str | None = None  # properties.resourceId: the VM, managed cluster or HDInsight cluster
    vm: Ref[VirtualMachine] = None
    nic: Ref[NetworkInterface] = None  # VM computes: the primary NIC
    managed_cluster: Ref[ManagedCluster] = None
    hdinsight: Ref[HDInsightCluster] = None
    aks_networking: AksNetworking | None = None
    private_ip: str | None = None  # VM / HDInsight: the address the workspace reaches over SSH

    @property
    def compute_properties(self) -> dict[str, Any]:
        """`properties.properties`: the type-specific settings."""
        inner = self.properties.get("properties")
        return inner if isinstance(inner, dict) else {}

    @property
    def names_no_subnet(self) -> bool:
        """An AmlCompute cluster whose readable settings name no subnet: not in a customer VNet.
        (Settings that could not be read leave `subnet` a Gap: placement unknown, not "none".)"""
        return self.subnet_id is None and self.subnet is None

    @property
    def is_experimentation(self) -> bool:
        if self.kind == "AmlCompute":
            # Unknown placement counts as in a subnet, as for HDInsight below.
            return not self.names_no_subnet
        if self.kind == "VirtualMachine":
            # Every Azure VM NIC sits in a subnet.
            return True
        if self.kind == "HDInsight":
            # Unknown (cluster not collected, roles unreadable) counts as in a subnet: the document's setup puts it there.
            cluster = self.hdinsight
            return not isinstance(cluster, HDInsightCluster) or cluster.roles_problem is not None or bool(cluster.subnet_ids)
        return False

    @property
    def is_inference(self) -> bool:
        return self.kind == "AKS"


@dataclass(slots=True, eq=False)
class Workspace(Node):
    subscription_id: str = ""
    resource_group: str | None = None
    storage_account_id: str | None = None
    storage_account: Ref[StorageAccount] = None
    key_vault_id: str | None = None
    key_vault: Ref[KeyVault] = None
    computes: list[Compute] = field(default_factory=list)
    # Computes could not be listed for this workspace: its compute-dependent verdicts are unknown.
    computes_gap: Gap | None = None

    @property
    def experimentation_computes(self) -> list[Compute]:
        return [c for c in self.computes if c.is_experimentation]

    @property
    def inference_computes(self) -> list[Compute]:
        return [c for c in self.computes if c.is_inference]


@dataclass(slots=True, eq=False)
class UsageQuota:
    name: str
    current_value: float
    limit: float

    @property
    def available(self) -> float:
        return self.limit - self.current_value


@dataclass(slots=True, eq=False)
class NetworkUsages:
    """Network usages of one (subscription, region)."""

    subscription_id: str
    location: str
    quotas: dict[str, UsageQuota]  # keyed by name.value lower-cased

    def get(self, name: str) -> UsageQuota | None:
        return self.quotas.get(name.lower())


@dataclass(slots=True, eq=False)
class ManagementLock:
    id: str
    name: str
    level: str
    scope: str  # the id the lock sits on (resource, resource group or subscription)
    raw: dict[str, Any] = field(repr=False)
