"""What the collector reads, and in what order: everything the checks need, starting from the workspaces in scope.

subscriptions ─► workspaces (list per subscription, filtered) ─┬► computes (child list per workspace)
                                                               ├► storage account, key vault (by id, any subscription)
computes ─► AmlCompute subnet / VM ─► NIC ─► subnet / AKS cluster ─► agent pool subnet
           / HDInsight cluster ─► its roles' subnet
subnet ─► its VNet, the subnet's NSG and route table, a NIC's NSG
          (listed once per subscription and type, the first time one is needed; by id if the list fails)
VNet hosting compute ─► network usages (subscription, region), service tags (region),
                        locks (one list per subscription, kept when they cover the VNet),
                        the gateways in its GatewaySubnet and in the VNets it peers with useRemoteGateways
                        ─► each gateway's connections (one list per gateway) ─► the local network gateway of
                        each site-to-site (IPsec) connection: the on-premises spaces among its own networks

Each read happens at most once (keyed by its case-insensitive path), on the scheduler's
workers, as soon as the read it depends on has answered. A failed read is recorded as an
`errors` entry and its dependants are skipped; everything else carries on.

Scoped (`--workspace`), the named workspaces are read as above, and so is every workspace that
shares a storage account or key vault with one of them (those are judged against every
workspace using them). Of every other workspace only the compute list is read; its computes
that sit in a subnet of the workspaces read in full (they count in that subnet's capacity),
or whose kind is unknown, are kept with the workspace, and so is a workspace whose compute
list could not be read (its computes may be anywhere). See docs/collect.md.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from amlaudit.auditor.collect.api_versions import API_VERSIONS
from amlaudit.auditor.collect.arm import ArmReader
from amlaudit.auditor.collect.errors import ArmReadError
from amlaudit.auditor.collect.redact import drop_secrets
from amlaudit.auditor.collect.scheduler import Scheduler
from amlaudit.auditor.ids import covering_scopes, id_key, looks_like_arm_id, parent_id, parse_arm_id
from amlaudit.auditor.scope import WorkspaceScope
from amlaudit.auditor.snapshot import LockEntry, ResourceHeader, ServiceTagBlock, SubscriptionEntry, UsageBlock

# Listed per subscription rather than read one by one: many computes share a few of these,
# and one list answers for all of them. Everything listed is kept (see docs/collect.md).
_LISTED_NETWORK_TYPES = {
    "microsoft.network/virtualnetworks": "virtualNetworks",
    "microsoft.network/networksecuritygroups": "networkSecurityGroups",
    "microsoft.network/routetables": "routeTables",
}
_LOCKS_MARKER = "/providers/microsoft.authorization/locks/"
_GATEWAY_TYPE = "microsoft.network/virtualnetworkgateways"


@dataclass(frozen=True)
class Listing:
    """The items of a paged list; `complete` is False when a page could not be read (an error says why)."""

    items: list[dict[str, Any]]
    complete: bool


def resource_type(resource_id: str) -> str | None:
    """`Namespace/type[/child type]` of an id, as spelled in it (None for a non-id)."""
    parsed = parse_arm_id(resource_id)
    if parsed is None or parsed.namespace is None or not parsed.segments:
        return None
    return "/".join([parsed.namespace, *(kind for kind, _ in parsed.segments)])


def _dig(value: Any, *keys: str) -> Any:
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _id_string(value: Any) -> str | None:
    return value if isinstance(value, str) and looks_like_arm_id(value) else None


def _unreadable(model: type[BaseModel], value: Any, about: Any = None) -> ArmReadError | None:
    """Why the snapshot reader would refuse `value` as a `model` (naming `about`, the item's id, when
    the error's scope is a list), or None when it accepts it.

    Checked before anything is kept: one odd field would otherwise make the whole snapshot
    invalid (every live scan ending with exit 2, nothing audited) instead of one error entry.
    """
    try:
        model.model_validate(value)
    except ValidationError as exc:
        problem = exc.errors()[0]
        where = ".".join(str(part) for part in problem["loc"]) or "the document"
        subject = f"{about}: " if isinstance(about, str) else ""
        return ArmReadError(200, "MalformedResponse", f"{subject}{where}: {problem['msg']}")
    return None


def _next_link(body: dict[str, Any]) -> str | None:
    """The page's `nextLink` when it has one (a non-empty string), else None."""
    link = body.get("nextLink")
    return link if isinstance(link, str) and link else None


def _location_key(location: str) -> str:
    return location.replace(" ", "").lower()


class Crawl:
    """Reads an estate into the parts of a snapshot. Call `start`, wait on the scheduler, then `sections`."""

    def __init__(self, arm: ArmReader, scheduler: Scheduler, scope: WorkspaceScope) -> None:
        self._arm = arm
        self._scheduler = scheduler
        self._scope = scope
        self._lock = threading.Lock()
        self._started: dict[str, Future[Any]] = {}
        self._subscriptions: dict[str, dict[str, Any]] = {}
        self._resources: dict[str, dict[str, Any]] = {}
        self._usages: dict[tuple[str, str], dict[str, Any]] = {}
        self._service_tags: dict[str, dict[str, Any]] = {}
        self._listed_locks: dict[str, list[dict[str, Any]]] = {}
        self._compute_vnet_ids: dict[str, str] = {}
        self._fully_listed_workspaces: list[str] = []  # subscriptions whose whole workspace list was read
        self._matched_filters: set[tuple[str, str]] = set()
        self._errors: list[dict[str, Any]] = []
        self._redacted: list[dict[str, Any]] = []
        # Scoped collection (see the module docstring); all empty when every workspace is read in full.
        self._in_full: set[str] = set()  # keys of the workspaces read in full
        self._named_dependencies: set[str] = set()  # storage accounts and key vaults of the named workspaces
        self._unrelated: dict[str, list[dict[str, Any]]] = {}  # dependency key -> other workspaces using it
        self._other_computes: dict[str, tuple[dict[str, Any], Listing]] = {}  # workspace key -> (workspace, its computes)
        self._compute_subnets: set[str] = set()  # keys of the subnets the computes read in full sit in
        self._others_settled = False

    # -- entry ------------------------------------------------------------------------------

    def start(self, subscriptions: tuple[str, ...]) -> None:
        """Begin with the given subscriptions (read each), or every subscription the identity can list."""
        api = API_VERSIONS["microsoft.resources/subscriptions"]
        operation = "Microsoft.Resources/subscriptions/read"
        if subscriptions:
            for subscription_id in dict.fromkeys(subscriptions):
                path = f"/subscriptions/{subscription_id}"
                self._then(self._read(path, api, operation), self._on_subscription)
        else:
            self._then(self._list("/subscriptions", api, operation), self._on_subscription_list)

    def sections(self) -> dict[str, Any]:
        """The snapshot sections, in a stable order. Call once every read has answered."""
        self._keep_what_others_share()
        with self._lock:
            covering = {scope for vnet_id in self._compute_vnet_ids.values() for scope in covering_scopes(vnet_id)}
            locks = {id_key(lock["id"]): lock for listed in self._listed_locks.values() for lock in listed
                     if isinstance(lock.get("id"), str) and _lock_scope_key(lock["id"]) in covering}
            return {
                "subscriptions": [self._subscriptions[k] for k in sorted(self._subscriptions)],
                "resources": [self._resources[k] for k in sorted(self._resources)],
                "usages": [self._usages[k] for k in sorted(self._usages)],
                "service_tags": [self._service_tags[k] for k in sorted(self._service_tags)],
                "locks": [locks[k] for k in sorted(locks)],
                "errors": sorted([*self._errors, *self._unmatched_workspace_errors()],
                                 key=lambda e: (id_key(e["scope"]), e["operation"])),
                "redacted": sorted(self._redacted, key=lambda r: (id_key(r["id"]), r["path"])),
            }

    def _unmatched_workspace_errors(self) -> list[dict[str, Any]]:
        """A `--workspace` that names no workspace in the lists read is an error, not an empty, clean audit.

        One entry per subscription whose workspace list was read in full, at the id the workspace would
        have there (a list that failed has its own error, which already leaves the audit incomplete).
        Called with the lock held.
        """
        entries = []
        for key, (group, name) in sorted(self._scope.wanted.items()):
            if key in self._matched_filters:
                continue
            for subscription_id in sorted(self._fully_listed_workspaces, key=str.lower):
                workspace_id = (f"/subscriptions/{subscription_id}/resourceGroups/{group}"
                                f"/providers/Microsoft.MachineLearningServices/workspaces/{name}")
                entries.append(ArmReadError(None, "WorkspaceNotFound", f"--workspace {group}/{name}: no such workspace "
                                            f"in subscription {subscription_id}'s workspace list")
                               .entry(workspace_id, "Microsoft.MachineLearningServices/workspaces/read"))
        return entries

    # -- reads (each at most once) -------------------------------------------------------------

    def _once(self, key: str, begin: Callable[[Future[Any]], None]) -> Future[Any]:
        """The future of the read named `key`, begun by `begin(future)` the first time it is asked for."""
        with self._lock:
            future = self._started.get(key)
            if future is not None:
                return future
            future = Future()
            self._started[key] = future
        begin(future)
        return future

    def _read(self, path: str, api_version: str, operation: str) -> Future[Any]:
        """GET one document; resolves to its JSON, or None once the failure is recorded."""

        def begin(future: Future[Any]) -> None:
            def work() -> None:
                try:
                    body = self._arm.get(path, api_version)
                except ArmReadError as exc:
                    self._record(exc.entry(path, operation))
                    body = None
                future.set_result(body)

            self._scheduler.submit(work)

        return self._once(f"GET {id_key(path)}", begin)

    def _list(self, path: str, api_version: str, operation: str, keep_items: bool = False) -> Future[Listing]:
        """Every page of a list (following `nextLink`); `keep_items` adds the items to `resources` first."""

        def begin(future: Future[Listing]) -> None:
            items: list[dict[str, Any]] = []
            # A service that hands back a nextLink it already gave would otherwise be paged forever.
            followed: set[str] = set()
            skipped_items = False

            def finish(complete: bool) -> None:
                if keep_items:
                    items[:] = [item for item in items if self._keep(item, path, operation)]
                future.set_result(Listing(items, complete and not skipped_items))

            def page(url: str) -> None:
                nonlocal skipped_items
                try:
                    body = self._arm.get(url, api_version)
                except ArmReadError as exc:
                    if exc.code == "MissingSubscriptionRegistration" and not items:
                        # Resource Manager refuses to unregister a provider while any of its resources
                        # exist, so an unregistered provider means the list is empty.
                        finish(True)
                        return
                    self._record(exc.entry(path, operation))
                    finish(False)
                    return
                value = body.get("value") if isinstance(body, dict) else None
                if not isinstance(value, list):
                    self._record(ArmReadError(200, "MalformedResponse", "list page has no `value` array").entry(path, operation))
                    finish(False)
                    return
                objects = _dicts(value)
                if len(objects) != len(value):
                    # Something is listed that cannot be read: say so rather than let it vanish.
                    skipped_items = True
                    self._record(ArmReadError(200, "MalformedResponse", f"list page has {len(value) - len(objects)} "
                                              "item(s) that are not JSON objects").entry(path, operation))
                items.extend(objects)
                next_link = _next_link(body)
                if next_link is not None:
                    if next_link in followed:
                        self._record(ArmReadError(200, "MalformedResponse", f"nextLink repeats an earlier page ({next_link}): "
                                                  "the list would never end").entry(path, operation))
                        finish(False)
                        return
                    followed.add(next_link)
                    self._scheduler.submit(page, next_link)
                else:
                    finish(True)

            self._scheduler.submit(page, path)

        return self._once(f"LIST {id_key(path)}", begin)

    def _get_resource(self, resource_id: str) -> Future[dict[str, Any] | None]:
        """A resource by id (once); resolves to its body, kept in `resources`, or None."""
        kind = resource_type(resource_id) or ""
        operation = f"{kind}/read"

        def begin(future: Future[dict[str, Any] | None]) -> None:
            api = API_VERSIONS.get(kind.lower())
            if api is None:
                self._record(ArmReadError(None, "UnsupportedResourceType",
                                          f"amlaudit does not read resources of type {kind or '?'}").entry(resource_id, operation))
                future.set_result(None)
                return

            def keep(body: Any) -> None:
                if body is None:
                    future.set_result(None)
                elif not isinstance(body, dict):
                    self._record(ArmReadError(200, "MalformedResponse", "resource body is not a JSON object").entry(resource_id, operation))
                    future.set_result(None)
                else:
                    future.set_result(body if self._keep(body, resource_id, operation) else None)

            self._then(self._read(resource_id, api, operation), keep)

        return self._once(f"RESOURCE {id_key(resource_id)}", begin)

    def _need_network(self, resource_id: str) -> Future[dict[str, Any] | None]:
        """A network resource: from its subscription's list of that type, else (list failed or lacks it) by id."""
        kind = (resource_type(resource_id) or "").lower()
        collection = _LISTED_NETWORK_TYPES.get(kind)
        parsed = parse_arm_id(resource_id)
        if collection is None or parsed is None:
            return self._get_resource(resource_id)

        def begin(future: Future[dict[str, Any] | None]) -> None:
            path = f"/subscriptions/{parsed.subscription_id}/providers/Microsoft.Network/{collection}"

            def look_up(listing: Listing) -> None:
                with self._lock:
                    body = self._resources.get(id_key(resource_id))
                if body is not None:
                    future.set_result(body)
                else:
                    self._then(self._get_resource(resource_id), future.set_result)

            self._then(self._list(path, API_VERSIONS[kind], f"Microsoft.Network/{collection}/read", keep_items=True), look_up)

        return self._once(f"NEED {id_key(resource_id)}", begin)

    # -- what each answer leads to ---------------------------------------------------------------

    def _on_subscription_list(self, listing: Listing) -> None:
        if listing.complete and not listing.items:
            # Most likely the wrong identity or tenant; an audit of nothing must not read as a clean estate.
            self._record(ArmReadError(None, "NoSubscriptions", "the identity can list no subscriptions: nothing was audited")
                         .entry("/subscriptions", "Microsoft.Resources/subscriptions/read"))
        for subscription in listing.items:
            self._on_subscription(subscription)

    def _on_subscription(self, subscription: Any) -> None:
        if subscription is None:
            return
        subscription_id = subscription.get("subscriptionId") if isinstance(subscription, dict) else None
        if not isinstance(subscription_id, str) or not subscription_id:
            self._record(ArmReadError(200, "MalformedResponse", "subscription without subscriptionId")
                         .entry("/subscriptions", "Microsoft.Resources/subscriptions/read"))
            return
        problem = _unreadable(SubscriptionEntry, subscription)
        if problem is not None:
            self._record(problem.entry(f"/subscriptions/{subscription_id}", "Microsoft.Resources/subscriptions/read"))
            return
        with self._lock:
            self._subscriptions.setdefault(subscription_id.lower(), subscription)
        path = f"/subscriptions/{subscription_id}/providers/Microsoft.MachineLearningServices/workspaces"
        api = API_VERSIONS["microsoft.machinelearningservices/workspaces"]
        self._then(self._list(path, api, "Microsoft.MachineLearningServices/workspaces/read"),
                   lambda listing: self._on_workspaces(listing, subscription_id))

    def _on_workspaces(self, listing: Listing, subscription_id: str) -> None:
        if listing.complete:
            with self._lock:
                self._fully_listed_workspaces.append(subscription_id)
        for workspace in listing.items:
            workspace_id = workspace.get("id")
            if not isinstance(workspace_id, str):
                continue
            if self._scope.keeps(workspace_id):
                self._on_named_workspace(workspace)
            else:
                self._on_other_workspace(workspace)

    def _on_named_workspace(self, workspace: dict[str, Any]) -> None:
        """Read it in full, and every other workspace seen so far that shares its storage account or key vault."""
        dependencies = _dependency_keys(workspace)
        with self._lock:
            matched = self._scope.match(workspace["id"])
            if matched is not None:
                self._matched_filters.add(matched)
            self._in_full.add(id_key(workspace["id"]))
            self._named_dependencies |= dependencies
            sharing = {id_key(other["id"]): other for key in dependencies for other in self._unrelated.pop(key, ())}
            sharing = {key: other for key, other in sharing.items() if key not in self._in_full}
            self._in_full |= sharing.keys()
        for chosen in (workspace, *sharing.values()):
            if self._keep(chosen, chosen["id"], "Microsoft.MachineLearningServices/workspaces/read"):
                self._on_workspace(chosen)

    def _on_other_workspace(self, workspace: dict[str, Any]) -> None:
        """Read it in full when it shares a named workspace's storage account or key vault (seen so far;
        `_on_named_workspace` catches those seen later); else only its compute list."""
        dependencies = _dependency_keys(workspace)
        with self._lock:
            shares = bool(dependencies & self._named_dependencies)
            if shares:
                self._in_full.add(id_key(workspace["id"]))
            else:
                for key in dependencies:
                    self._unrelated.setdefault(key, []).append(workspace)
        if shares:
            if self._keep(workspace, workspace["id"], "Microsoft.MachineLearningServices/workspaces/read"):
                self._on_workspace(workspace)
            return
        path, api, operation = _compute_list(workspace)
        self._then(self._list(path, api, operation), lambda listing: self._on_other_computes(workspace, listing))

    def _on_other_computes(self, workspace: dict[str, Any], listing: Listing) -> None:
        with self._lock:
            self._other_computes[id_key(workspace["id"])] = (workspace, listing)

    def _keep_what_others_share(self) -> None:
        """Of the workspaces not read in full, keep the computes the verdicts about the others need
        (in a subnet of a compute read in full, or of unknown kind: it may be such a cluster) with
        their workspace, and a workspace whose compute list is incomplete (its computes may be in
        any subnet; its error says why). Runs once, after every read has answered."""
        with self._lock:
            if self._others_settled:
                return
            self._others_settled = True
            others = [entry for key, entry in sorted(self._other_computes.items()) if key not in self._in_full]
            subnets = set(self._compute_subnets)
        for workspace, listing in others:
            path, _, operation = _compute_list(workspace)
            needed = [compute for compute in listing.items
                      if _subnet_key(compute) in subnets or _unknown_compute_kind(compute)]
            for compute in needed:
                self._keep(compute, path, operation)  # one it refuses leaves an error at the list path
            if needed or not listing.complete:
                self._keep(workspace, workspace["id"], "Microsoft.MachineLearningServices/workspaces/read")

    def _on_workspace(self, workspace: dict[str, Any]) -> None:
        path, api, operation = _compute_list(workspace)
        self._then(self._list(path, api, operation), lambda listing: self._on_computes(listing, path, operation))
        for reference in ("storageAccount", "keyVault"):
            target = _id_string(_dig(workspace, "properties", reference))
            if target is not None:
                self._get_resource(target)

    def _on_computes(self, listing: Listing, path: str, operation: str) -> None:
        # Kept here, not by the list: an other workspace's list (not kept) may be this one's when it is
        # found to share a named workspace's storage account after its list was asked for.
        for compute in listing.items:
            if self._keep(compute, path, operation):
                self._on_compute(compute)

    def _on_compute(self, compute: dict[str, Any]) -> None:
        settings = _dig(compute, "properties", "properties")
        subnet_id = _dig(settings, "subnet", "id")
        if isinstance(subnet_id, str):
            self._need_subnet(subnet_id)
        compute_type = str(_dig(compute, "properties", "computeType") or "").lower()
        target = _id_string(_dig(compute, "properties", "resourceId"))
        if compute_type == "virtualmachine" and target is not None:
            self._then(self._get_resource(target), self._on_virtual_machine)
        elif compute_type == "aks":
            if target is not None:
                self._then(self._get_resource(target), self._on_managed_cluster)
            aks_subnet_id = _dig(settings, "aksNetworkingConfiguration", "subnetId")
            if isinstance(aks_subnet_id, str):
                self._need_subnet(aks_subnet_id)
        elif compute_type == "hdinsight" and target is not None:
            self._then(self._get_resource(target), self._on_hdinsight_cluster)

    def _on_virtual_machine(self, vm: dict[str, Any] | None) -> None:
        for reference in _dicts(_dig(vm, "properties", "networkProfile", "networkInterfaces")):
            nic_id = _id_string(reference.get("id"))
            if nic_id is not None:
                self._then(self._get_resource(nic_id), self._on_network_interface)

    def _on_network_interface(self, nic: dict[str, Any] | None) -> None:
        for ip_configuration in _dicts(_dig(nic, "properties", "ipConfigurations")):
            subnet_id = _dig(ip_configuration, "properties", "subnet", "id")
            if isinstance(subnet_id, str):
                self._need_subnet(subnet_id)
        nsg_id = _id_string(_dig(nic, "properties", "networkSecurityGroup", "id"))
        if nsg_id is not None:
            self._need_network(nsg_id)

    def _on_managed_cluster(self, cluster: dict[str, Any] | None) -> None:
        for pool in _dicts(_dig(cluster, "properties", "agentPoolProfiles")):
            subnet_id = pool.get("vnetSubnetID")
            if isinstance(subnet_id, str):
                self._need_subnet(subnet_id)

    def _on_hdinsight_cluster(self, cluster: dict[str, Any] | None) -> None:
        # Every role (head, worker, ZooKeeper nodes) names its subnet; they normally share one, and
        # each subnet is read once however many roles name it.
        for role in _dicts(_dig(cluster, "properties", "computeProfile", "roles")):
            subnet_id = _dig(role, "virtualNetworkProfile", "subnet")
            if isinstance(subnet_id, str):
                self._need_subnet(subnet_id)

    def _need_subnet(self, subnet_id: str) -> None:
        # A value that is not a subnet id (samples carry placeholders) leads nowhere; the graph
        # reports the reference itself as unresolvable, so there is nothing to read or record.
        if (resource_type(subnet_id) or "").lower() != "microsoft.network/virtualnetworks/subnets":
            return
        vnet_id = parent_id(subnet_id, "subnets")
        if vnet_id is None:
            return
        with self._lock:
            self._compute_subnets.add(id_key(subnet_id))
        self._then(self._need_network(vnet_id), lambda vnet: self._on_compute_subnet(vnet, subnet_id))

    def _on_compute_subnet(self, vnet: dict[str, Any] | None, subnet_id: str) -> None:
        if vnet is None:
            return
        vnet_id = vnet["id"]
        parsed = parse_arm_id(vnet_id)
        if parsed is None:
            return
        with self._lock:
            self._compute_vnet_ids.setdefault(id_key(vnet_id), vnet_id)
        self._need_locks(parsed.subscription_id)
        location = vnet.get("location")
        if isinstance(location, str) and location:
            self._need_usages(parsed.subscription_id, location)
            self._need_service_tags(parsed.subscription_id, location)
        for subnet in _dicts(_dig(vnet, "properties", "subnets")):
            if isinstance(subnet.get("id"), str) and id_key(subnet["id"]) == id_key(subnet_id):
                for reference in ("networkSecurityGroup", "routeTable"):
                    target = _id_string(_dig(subnet, "properties", reference, "id"))
                    if target is not None:
                        self._need_network(target)
        self._need_gateways(vnet)
        for peering in _dicts(_dig(vnet, "properties", "virtualNetworkPeerings")):
            properties = peering.get("properties")
            state = _dig(peering, "properties", "peeringState")
            if not isinstance(properties, dict) or properties.get("useRemoteGateways") is not True:
                continue
            if isinstance(state, str) and state.lower() != "connected":
                continue
            remote_id = _id_string(_dig(properties, "remoteVirtualNetwork", "id"))
            if remote_id is not None:
                self._then(self._need_network(remote_id), self._need_gateways)

    def _need_gateways(self, vnet: dict[str, Any] | None) -> None:
        """The virtual network gateways in the VNet's GatewaySubnet: each of its ipConfigurations that
        belongs to a gateway names it (`{gateway id}/ipConfigurations/{name}`)."""
        for subnet in _dicts(_dig(vnet, "properties", "subnets")):
            subnet_id = subnet.get("id")
            if not isinstance(subnet_id, str) or subnet_id.rstrip("/").rsplit("/", 1)[-1].lower() != "gatewaysubnet":
                continue
            for configuration in _dicts(_dig(subnet, "properties", "ipConfigurations")):
                configuration_id = _id_string(configuration.get("id"))
                gateway_id = parent_id(configuration_id, "ipConfigurations") if configuration_id else None
                if gateway_id is not None and (resource_type(gateway_id) or "").lower() == _GATEWAY_TYPE:
                    self._then(self._get_resource(gateway_id), self._on_gateway)

    def _on_gateway(self, gateway: dict[str, Any] | None) -> None:
        """A gateway's connections, listed under it (they may live in any resource group), then the local
        network gateway of each site-to-site one. Kept with secrets dropped (a connection may echo its
        pre-shared key)."""
        if gateway is None:
            return
        path = gateway["id"].rstrip("/") + "/connections"
        api = API_VERSIONS[_GATEWAY_TYPE]
        self._then(self._list(path, api, "Microsoft.Network/virtualNetworkGateways/connections/read", keep_items=True),
                   self._on_connections)

    def _on_connections(self, listing: Listing) -> None:
        for connection in listing.items:
            if str(_dig(connection, "properties", "connectionType") or "").lower() != "ipsec":
                continue
            local_id = _id_string(_dig(connection, "properties", "localNetworkGateway2", "id"))
            if local_id is not None:
                self._get_resource(local_id)

    def _need_locks(self, subscription_id: str) -> None:
        # One list per subscription returns the locks at every level in it (the subscription, each
        # resource group, each resource); `sections` keeps those covering a compute VNet.
        def begin(future: Future[None]) -> None:
            path = f"/subscriptions/{subscription_id}/providers/Microsoft.Authorization/locks"

            def keep(listing: Listing) -> None:
                readable = []
                for lock in listing.items:
                    problem = _unreadable(LockEntry, lock, about=lock.get("id"))
                    if problem is None:
                        readable.append(lock)
                    else:
                        self._record(problem.entry(path, "Microsoft.Authorization/locks/read"))
                with self._lock:
                    self._listed_locks[subscription_id.lower()] = readable
                future.set_result(None)

            self._then(self._list(path, API_VERSIONS["microsoft.authorization/locks"], "Microsoft.Authorization/locks/read"), keep)

        self._once(f"LOCKS {subscription_id.lower()}", begin)

    def _need_usages(self, subscription_id: str, location: str) -> None:
        def begin(future: Future[None]) -> None:
            path = f"/subscriptions/{subscription_id}/providers/Microsoft.Network/locations/{location}/usages"

            def keep(listing: Listing) -> None:
                # A partial list could hide the very counter a check needs; its error entry says why it is absent.
                block = {"subscription_id": subscription_id, "location": location, "value": listing.items}
                problem = _unreadable(UsageBlock, block) if listing.complete else None
                if problem is not None:
                    self._record(problem.entry(path, "Microsoft.Network/locations/usages/read"))
                elif listing.complete:
                    with self._lock:
                        self._usages[(subscription_id.lower(), _location_key(location))] = block
                future.set_result(None)

            self._then(self._list(path, API_VERSIONS["microsoft.network/locations/usages"],
                                  "Microsoft.Network/locations/usages/read"), keep)

        self._once(f"USAGES {subscription_id.lower()} {_location_key(location)}", begin)

    def _need_service_tags(self, subscription_id: str, location: str) -> None:
        # Per region, not per subscription: the answer is the cloud's tag list, whichever subscription asks.
        def begin(future: Future[None]) -> None:
            path = f"/subscriptions/{subscription_id}/providers/Microsoft.Network/locations/{location}/serviceTags"
            api = API_VERSIONS["microsoft.network/locations/servicetags"]
            operation = "Microsoft.Network/locations/serviceTags/read"

            def keep(body: Any) -> None:
                if body is None:
                    pass
                elif not isinstance(body, dict) or not isinstance(body.get("values"), list):
                    self._record(ArmReadError(200, "MalformedResponse", "service tag list has no `values` array").entry(path, operation))
                elif _next_link(body):
                    # Never seen in practice, but the API defines it: fetch the rest before keeping anything.
                    self._scheduler.submit(self._more_service_tags, path, api, operation, location, body, frozenset())
                else:
                    self._keep_service_tags(path, operation, location, body)
                future.set_result(None)

            self._then(self._read(path, api, operation), keep)

        self._once(f"TAGS {_location_key(location)}", begin)

    def _more_service_tags(self, path: str, api: str, operation: str, location: str, body: dict[str, Any],
                           followed: frozenset[str]) -> None:
        next_link = _next_link(body)
        assert next_link is not None  # submitted only for a body with one
        if next_link in followed:
            self._record(ArmReadError(200, "MalformedResponse", f"nextLink repeats an earlier page ({next_link}): "
                                      "the list would never end").entry(path, operation))
            return
        try:
            page = self._arm.get(next_link, api)
        except ArmReadError as exc:
            self._record(exc.entry(path, operation))
            return
        if not isinstance(page, dict) or not isinstance(page.get("values"), list):
            self._record(ArmReadError(200, "MalformedResponse", "service tag page has no `values` array").entry(path, operation))
            return
        merged = {**body, "values": body["values"] + page["values"], "nextLink": page.get("nextLink")}
        if _next_link(merged):
            self._scheduler.submit(self._more_service_tags, path, api, operation, location, merged, followed | {next_link})
        else:
            self._keep_service_tags(path, operation, location, merged)

    def _keep_service_tags(self, path: str, operation: str, location: str, body: dict[str, Any]) -> None:
        block = {"location": location, "body": body}
        problem = _unreadable(ServiceTagBlock, block)
        if problem is not None:
            self._record(problem.entry(path, operation))
            return
        with self._lock:
            self._service_tags[_location_key(location)] = block

    # -- bookkeeping ----------------------------------------------------------------------------

    def _then(self, future: Future[Any], continuation: Callable[[Any], Any]) -> None:
        self._scheduler.then(future, continuation)

    def _keep(self, resource: dict[str, Any], source: str, operation: str) -> bool:
        """Add a resource as returned (minus any secret field); False when it lacks an id or type,
        or has a field the snapshot reader refuses (an error entry at `source` says which)."""
        resource_id, kind = resource.get("id"), resource.get("type")
        if not isinstance(resource_id, str) or not resource_id or not isinstance(kind, str) or not kind:
            self._record(ArmReadError(200, "MalformedResponse", "a resource without `id` or `type`").entry(source, operation))
            return False
        problem = _unreadable(ResourceHeader, resource, about=resource_id)
        if problem is not None:
            self._record(problem.entry(source, operation))
            return False
        dropped = drop_secrets(resource)
        with self._lock:
            self._resources.setdefault(id_key(resource_id), resource)
            self._redacted.extend({"id": resource_id, "path": path} for path in dropped)
        return True

    def _record(self, error: dict[str, Any]) -> None:
        with self._lock:
            self._errors.append(error)


def _compute_list(workspace: dict[str, Any]) -> tuple[str, str, str]:
    """The path, api-version and RBAC operation of a workspace's compute list."""
    return (workspace["id"].rstrip("/") + "/computes", API_VERSIONS["microsoft.machinelearningservices/workspaces/computes"],
            "Microsoft.MachineLearningServices/workspaces/computes/read")


def _dependency_keys(workspace: dict[str, Any]) -> set[str]:
    """The keys of the storage account and key vault a workspace names."""
    found = (_id_string(_dig(workspace, "properties", reference)) for reference in ("storageAccount", "keyVault"))
    return {id_key(target) for target in found if target is not None}


def _subnet_key(compute: dict[str, Any]) -> str | None:
    subnet_id = _dig(compute, "properties", "properties", "subnet", "id")
    return id_key(subnet_id) if isinstance(subnet_id, str) else None


def _unknown_compute_kind(compute: dict[str, Any]) -> bool:
    """No readable `properties.computeType`: the graph then counts the workspace's computes as unknown."""
    kind = _dig(compute, "properties", "computeType")
    return not (isinstance(kind, str) and kind.strip())


def _lock_scope_key(lock_id: str) -> str:
    lowered = lock_id.lower()
    at = lowered.rfind(_LOCKS_MARKER)
    return id_key(lock_id[:at]) if at > 0 else ""
