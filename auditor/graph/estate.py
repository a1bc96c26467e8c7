"""The estate: every node of the graph, indexed by case-insensitive id."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from amlaudit.auditor.graph.model import (
    Compute,
    Gap,
    GatewayConnection,
    HDInsightCluster,
    KeyVault,
    LocalNetworkGateway,
    ManagedCluster,
    ManagementLock,
    NetworkInterface,
    NetworkSecurityGroup,
    NetworkUsages,
    Node,
    RouteTable,
    StorageAccount,
    Subnet,
    VirtualMachine,
    VirtualNetwork,
    VirtualNetworkGateway,
    Workspace,
    normalize_location,
)
from amlaudit.auditor.ids import covering_scopes, id_key

if TYPE_CHECKING:
    from amlaudit.auditor.snapshot import CollectionError, Snapshot


@dataclass(eq=False)
class Estate:
    snapshot: Snapshot
    workspaces: list[Workspace] = field(default_factory=list)
    workspaces_by_key: dict[str, Workspace] = field(default_factory=dict)
    computes: list[Compute] = field(default_factory=list)
    vnets: dict[str, VirtualNetwork] = field(default_factory=dict)
    subnets: dict[str, Subnet] = field(default_factory=dict)
    nsgs: dict[str, NetworkSecurityGroup] = field(default_factory=dict)
    route_tables: dict[str, RouteTable] = field(default_factory=dict)
    nics: dict[str, NetworkInterface] = field(default_factory=dict)
    vms: dict[str, VirtualMachine] = field(default_factory=dict)
    managed_clusters: dict[str, ManagedCluster] = field(default_factory=dict)
    hdinsight_clusters: dict[str, HDInsightCluster] = field(default_factory=dict)
    storage_accounts: dict[str, StorageAccount] = field(default_factory=dict)
    key_vaults: dict[str, KeyVault] = field(default_factory=dict)
    vnet_gateways: dict[str, VirtualNetworkGateway] = field(default_factory=dict)
    connections: dict[str, GatewayConnection] = field(default_factory=dict)
    local_gateways: dict[str, LocalNetworkGateway] = field(default_factory=dict)
    # (subscription id lower-cased, normalized location) -> usages; empty when not collected
    usages: dict[tuple[str, str], NetworkUsages] = field(default_factory=dict)
    usages_collected: bool = False
    # scope key -> locks sitting on that scope
    locks: dict[str, list[ManagementLock]] = field(default_factory=dict)
    locks_collected: bool = False
    gaps: list[Gap] = field(default_factory=list)

    @property
    def errors(self):  # noqa: ANN201 - list[CollectionError]
        """What the collector could not read (the snapshot's `errors`)."""
        return self.snapshot.errors

    @property
    def service_tag_blocks(self):  # noqa: ANN201 - list[ServiceTagBlock] | None
        """Service-tag API bodies per location; None when the snapshot has no `service_tags`."""
        return self.snapshot.service_tags

    def get(self, resource_id: str) -> Node | None:
        key = id_key(resource_id)
        for table in (
            self.workspaces_by_key,
            self.vnets,
            self.subnets,
            self.nsgs,
            self.route_tables,
            self.nics,
            self.vms,
            self.managed_clusters,
            self.hdinsight_clusters,
            self.storage_accounts,
            self.key_vaults,
            self.vnet_gateways,
            self.connections,
            self.local_gateways,
        ):
            node = table.get(key)
            if node is not None:
                return node
        for compute in self.computes:
            if id_key(compute.id) == key:
                return compute
        return None

    def usages_for(self, subscription_id: str, location: str) -> NetworkUsages | None:
        return self.usages.get((subscription_id.lower(), normalize_location(location)))

    def locks_covering(self, resource_id: str) -> list[ManagementLock]:
        """Locks on the resource itself, its resource group and its subscription."""
        found: list[ManagementLock] = []
        for scope in covering_scopes(resource_id):
            found.extend(self.locks.get(scope, []))
        return found

    def collection_errors_at(self, *scopes: str) -> list[CollectionError]:
        """Collection errors recorded at exactly one of `scopes` (ARM ids or list paths).

        An error's scope may be a URL or carry a query string; both are reduced to the
        case-insensitive id path before comparing.
        """
        wanted = {id_key(s) for s in scopes}
        found: list[CollectionError] = []
        for err in self.snapshot.errors:
            scope = urlsplit(err.scope).path if "://" in err.scope else err.scope
            if id_key(scope.split("?", 1)[0]) in wanted:
                found.append(err)
        return found
