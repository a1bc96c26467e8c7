"""Checks on Machine Learning Compute and attached virtual machines that need no flow
evaluation ("Use Machine Learning Compute", "Use a virtual machine or HDInsight cluster").
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from amlaudit.auditor.check import Settings, Verdict, check, error, failed, not_applicable, passed
from amlaudit.auditor.cidr import AZURE_RESERVED_ADDRESSES_PER_SUBNET, azure_usable_address_count, parse_prefixes
from amlaudit.auditor.graph.estate import Estate
from amlaudit.auditor.graph.model import Compute, Gap, ManagementLock, Subnet, VirtualMachine, VirtualNetwork, Workspace
from amlaudit.auditor.ids import covering_scopes, id_key, looks_like_arm_id, parent_id, subscription_of
from amlaudit.auditor.subjects import aml_computes, compute_list_gaps, compute_subnets, unlisted_compute_errors, vm_computes

# The quotas each new Machine Learning Compute cluster draws on ("For each Machine Learning
# Compute cluster, the Azure Machine Learning service allocates ... one NSG, one public IP
# address, one load balancer"), by their `name.value` in the network usages API.
CLUSTER_NETWORK_QUOTAS = ("NetworkSecurityGroups", "PublicIPAddresses", "LoadBalancers")


def _amlcompute_in_subnet(estate: Estate) -> list[Compute]:
    """AmlCompute clusters that name a subnet, or whose placement is unknown (their settings could
    not be read: the checks then say error). A cluster naming none is not in a customer VNet."""
    return [c for c in aml_computes(estate) if not c.names_no_subnet]


# -- compute-vnet-location -----------------------------------------------------------------


@check(
    id="compute-vnet-location",
    title="Machine Learning Compute VNet is in the workspace's subscription and region",
    severity="high",
    subject="AmlCompute compute",
    applies="always (not applicable to a cluster that names no subnet: it is not in a virtual network)",
    passes="the VNet of the cluster's subnet is in the workspace's subscription and region",
    source="Use Machine Learning Compute",
    rationale=(
        "\"The virtual network must be in the same subscription and region as the Azure Machine Learning "
        "service workspace.\""
    ),
    remediation=(
        "Recreate the compute cluster in a subnet of a virtual network in the workspace's subscription and region "
        "(Machine Learning studio -> Compute -> Compute clusters -> New -> Advanced settings -> Virtual network; "
        "az ml compute create --type AmlCompute --vnet-name VNET --subnet SUBNET)."
    ),
)
def compute_vnet_location(estate: Estate, settings: Settings) -> Iterator[Verdict]:
    """Subscriptions compare case-insensitively (they are GUIDs), regions as normalized ARM names."""
    yield from unlisted_compute_errors(estate, "its AmlCompute clusters")
    for compute in aml_computes(estate):
        yield _vnet_location_verdict(compute)


def _vnet_location_verdict(compute: Compute) -> Verdict:
    if compute.names_no_subnet:
        return not_applicable(compute, "the cluster names no subnet: it is not in a customer virtual network")
    subnet = compute.subnet
    if not isinstance(subnet, Subnet):
        # The subnet id alone names the VNet's subscription: another subscription fails whatever the VNet holds.
        named = subscription_of(compute.subnet_id)
        workspace = compute.workspace
        if named and isinstance(workspace, Workspace) and workspace.subscription_id \
                and named.lower() != workspace.subscription_id.lower():
            return failed(compute, f"the cluster's subnet is in subscription {named}, not the workspace's "
                                   f"{workspace.subscription_id} (the VNet itself could not be checked: "
                                   f"{subnet.reason if isinstance(subnet, Gap) else 'unknown'})",
                          subnet_id=compute.subnet_id, vnet_subscription=named,
                          workspace_subscription=workspace.subscription_id)
        return error(compute, subnet or "the cluster's subnet is unknown", subnet_id=compute.subnet_id)
    vnet = subnet.vnet
    if vnet is None:
        return error(compute, f"the virtual network of subnet {subnet.id} is not in the snapshot", subnet_id=subnet.id)
    workspace = compute.workspace
    if not isinstance(workspace, Workspace):
        return error(compute, workspace if isinstance(workspace, Gap) else "the cluster's workspace is unknown",
                     vnet_id=vnet.id)
    evidence: dict[str, Any] = {
        "vnet_id": vnet.id,
        "vnet_subscription": vnet.subscription_id or None,
        "vnet_location": vnet.location,
        "workspace_id": workspace.id,
        "workspace_subscription": workspace.subscription_id or None,
        "workspace_location": workspace.location,
    }
    mismatches: list[str] = []
    unknown: list[str] = []
    if not vnet.subscription_id or not workspace.subscription_id:
        unknown.append("subscription (an id could not be parsed)")
    elif vnet.subscription_id.lower() != workspace.subscription_id.lower():
        mismatches.append(f"subscription {vnet.subscription_id} is not the workspace's {workspace.subscription_id}")
    if vnet.location is None or workspace.location is None:
        unknown.append("region (the virtual network or the workspace has no location)")
    elif vnet.location != workspace.location:
        mismatches.append(f"region {vnet.location} is not the workspace's {workspace.location}")
    if mismatches:
        return failed(compute, f"virtual network {vnet.name}: " + "; ".join(mismatches)
                      + (f" (also unknown: {', '.join(unknown)})" if unknown else ""), unknown=unknown, **evidence)
    if unknown:
        return error(compute, f"virtual network {vnet.name}: cannot compare {' and '.join(unknown)}", **evidence)
    return passed(compute, f"virtual network {vnet.name} is in the workspace's subscription {workspace.subscription_id} "
                           f"and region {workspace.location}", **evidence)


# -- compute-subnet-capacity ---------------------------------------------------------------


@check(
    id="compute-subnet-capacity",
    title="Compute subnet has enough free addresses for its clusters to scale out",
    severity="high",
    subject="subnet hosting AmlCompute",
    applies="always",
    passes=(
        "free IPs (per IPv4 prefix 2^(32-len) - 5 reserved, less the subnet's ipConfigurations) >= "
        "the sum of (maxNodeCount - currentNodeCount) of the AmlCompute clusters in it"
    ),
    source="Use Machine Learning Compute",
    rationale=(
        "\"The subnet specified for the Machine Learning Compute cluster must have enough unassigned IP addresses to "
        "accommodate the number of VMs targeted for the cluster. If the subnet doesn't have enough unassigned IP "
        "addresses, the cluster will be partially allocated.\""
    ),
    remediation=(
        "Lower the clusters' maximum node count (studio -> Compute -> Compute clusters -> Edit; "
        "az ml compute update --max-instances N), or move them to a larger subnet "
        "(Virtual network -> Subnets -> + Subnet)."
    ),
)
def compute_subnet_capacity(estate: Estate, settings: Settings) -> Iterator[Verdict]:
    """Only IPv4 prefixes count (cluster nodes take IPv4 addresses); `ipConfigurations` are the
    addresses already handed out, including the nodes each cluster runs now, hence the demand
    is what the clusters can still add. A cluster above its maximum adds nothing (not less
    than nothing: its surplus nodes are not promised to the others).

    A workspace whose compute list could not be read may run further clusters in any
    subnet, so while one exists no subnet can pass (it stays `error`); a subnet whose
    known clusters already outgrow it still fails.
    """
    yield from unlisted_compute_errors(estate, "its AmlCompute clusters and the subnets they use")
    unlisted = [gap.ref_id for gap in compute_list_gaps(estate)]
    for use in compute_subnets(_amlcompute_in_subnet(estate)):
        yield _capacity_verdict(use.subnet, use.computes, unlisted)


@dataclass(slots=True)
class _ClusterDemand:
    compute_id: str
    max_node_count: int | None
    current_node_count: int | None
    problem: str | None = None

    @property
    def known_demand(self) -> int | None:
        """Nodes the cluster can still add; None when its maximum or current count is unknown."""
        if self.max_node_count is None or self.current_node_count is None:
            return None
        return max(0, self.max_node_count - self.current_node_count)

    @property
    def demand_upper_bound(self) -> int | None:
        """With the current count unknown the cluster may still add its whole maximum."""
        if self.max_node_count is None:
            return None
        return max(0, self.max_node_count - (self.current_node_count or 0))

    def as_evidence(self) -> dict[str, Any]:
        return {"compute_id": self.compute_id, "max_node_count": self.max_node_count,
                "current_node_count": self.current_node_count, "demand": self.known_demand,
                **({"problem": self.problem} if self.problem else {})}


def _node_count(value: Any) -> int | None:
    """A node count as ARM sends it (an integer); None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value >= 0:
        return value
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return int(value)
    return None


def _cluster_demand(compute: Compute) -> _ClusterDemand:
    props = compute.compute_properties
    scale = props.get("scaleSettings")
    max_nodes = _node_count(scale.get("maxNodeCount")) if isinstance(scale, dict) else None
    current = _node_count(props.get("currentNodeCount"))
    problems = []
    if not isinstance(scale, dict):
        problems.append("no scaleSettings")
    elif max_nodes is None:
        problems.append(f"scaleSettings.maxNodeCount is {scale.get('maxNodeCount')!r}")
    if current is None:
        problems.append(f"currentNodeCount is {props.get('currentNodeCount')!r}")
    return _ClusterDemand(compute.id, max_nodes, current, "; ".join(problems) or None)


def _capacity_verdict(subnet: Subnet | Gap, computes: list[Compute], unlisted: list[str]) -> Verdict:
    compute_ids = [c.id for c in computes]
    if isinstance(subnet, Gap):
        return error(subnet, subnet, computes=compute_ids)
    if not subnet.address_prefixes:
        return error(subnet, f"subnet {subnet.name} has no addressPrefix or addressPrefixes", computes=compute_ids)
    prefixes = parse_prefixes(subnet.address_prefixes)
    if prefixes.malformed:
        return error(subnet, f"subnet {subnet.name} has prefixes that are not CIDRs: {', '.join(prefixes.malformed)}",
                     address_prefixes=subnet.address_prefixes, computes=compute_ids)
    ip_configs = subnet.properties.get("ipConfigurations")
    if ip_configs is not None and not isinstance(ip_configs, list):
        return error(subnet, f"subnet {subnet.name} has ipConfigurations of an unknown shape "
                             f"({type(ip_configs).__name__}); the addresses in use cannot be counted",
                     computes=compute_ids)

    usable = sum(azure_usable_address_count(p) for p in prefixes.ipv4)
    # ARM leaves `ipConfigurations` out of a subnet nothing is attached to.
    in_use = subnet.ip_configuration_count
    free_ip_count = max(0, usable - in_use)
    clusters = [_cluster_demand(c) for c in computes]
    lower_demand = sum(c.known_demand or 0 for c in clusters)
    upper_bounds = [c.demand_upper_bound for c in clusters]
    upper_demand = None if None in upper_bounds or unlisted else sum(b or 0 for b in upper_bounds)
    unknown = [f"{c.compute_id}: {c.problem}" for c in clusters if c.problem]
    unknown += [f"clusters of {u.rsplit('/computes', 1)[0]} (its computes could not be listed)" for u in unlisted]
    evidence: dict[str, Any] = {
        "address_prefixes": subnet.address_prefixes,
        "ipv4_prefixes": [{"prefix": str(p), "addresses": p.num_addresses, "usable": azure_usable_address_count(p)}
                          for p in prefixes.ipv4],
        "ignored_ipv6_prefixes": [str(p) for p in prefixes.networks if p.version == 6],
        "reserved_per_prefix": AZURE_RESERVED_ADDRESSES_PER_SUBNET,
        "usable_address_count": usable,
        "ip_configuration_count": in_use,
        "free_ip_count": free_ip_count,
        "clusters": [c.as_evidence() for c in clusters],
        "required_ip_count": lower_demand,  # from the clusters whose counts are all known
        "required_ip_count_at_most": upper_demand,  # None: unbounded (a maximum or a compute list is unknown)
    }
    per_cluster = ", ".join(
        f"{c.compute_id.rsplit('/', 1)[-1]}: max {c.max_node_count} - current {c.current_node_count} = {c.known_demand}"
        for c in clusters if c.known_demand is not None
    )
    per_cluster = f" ({per_cluster})" if per_cluster else ""
    counted = (f"subnet {subnet.name} has {free_ip_count} free addresses ({usable} usable in "
               f"{', '.join(str(p) for p in prefixes.ipv4) or 'no IPv4 prefix'} less {in_use} in use)")
    if lower_demand > free_ip_count:
        return failed(subnet, f"{counted}, but its AmlCompute clusters can add {lower_demand} nodes{per_cluster}; "
                              f"{lower_demand - free_ip_count} would get no address"
                              + (f" (also unknown: {'; '.join(unknown)})" if unknown else ""),
                      unknown=unknown, **evidence)
    if upper_demand is None or upper_demand > free_ip_count:
        return error(subnet, f"{counted}; the demand of its clusters is not fully known: {'; '.join(unknown)}",
                     unknown=unknown, **evidence)
    return passed(subnet, f"{counted}; its AmlCompute clusters can add at most {upper_demand} nodes{per_cluster}",
                  **evidence)


# -- compute-network-quota ----------------------------------------------------------------


@dataclass(eq=False)
class _QuotaRegion:
    subscription_id: str  # as the VNet id spells it
    location: str
    vnet_ids: list[str] = field(default_factory=list)
    compute_ids: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        return f"/subscriptions/{self.subscription_id}/providers/Microsoft.Network/locations/{self.location}"


@check(
    id="compute-network-quota",
    title="Network quotas leave room for new Machine Learning Compute clusters",
    severity="high",
    subject="/subscriptions/{s}/providers/Microsoft.Network/locations/{region} of each VNet hosting AmlCompute",
    applies="always",
    passes=(
        "for NetworkSecurityGroups, PublicIPAddresses and LoadBalancers: limit - currentValue >= "
        "the planned new clusters (setting planned_new_clusters, default 1)"
    ),
    source="Use Machine Learning Compute",
    rationale=(
        "\"For each Machine Learning Compute cluster, the Azure Machine Learning service allocates ... one network "
        "security group (NSG), one public IP address, one load balancer. These resources are limited by the "
        "subscription's resource quotas.\""
    ),
    remediation=(
        "Request a network quota increase for the region (portal: Subscriptions -> Usage + quotas -> Networking; "
        "az network list-usages --location REGION shows the current figures), or free unused NSGs, public IPs and "
        "load balancers."
    ),
)
def compute_network_quota(estate: Estate, settings: Settings) -> Iterator[Verdict]:
    """The subject is the (subscription, region) of each VNet hosting AmlCompute: the document
    says the cluster's resources go into the VNet's resource group, so they draw on that
    subscription's quota in that region.

    Every quota is required, as the catalog says, although a cluster created with
    `enableNodePublicIp: false` takes no public IP address (the document predates that
    option and says each cluster allocates one of each). A cluster whose VNet is unknown
    yields `error` on the cluster itself: the region it draws on cannot be named.
    """
    yield from unlisted_compute_errors(estate, "its AmlCompute clusters and the regions they draw quota from")
    regions: dict[tuple[str, str], _QuotaRegion] = {}
    for compute in _amlcompute_in_subnet(estate):
        subnet = compute.subnet
        vnet = subnet.vnet if isinstance(subnet, Subnet) else None
        if vnet is None or not vnet.subscription_id or vnet.location is None:
            reason = subnet.describe() if isinstance(subnet, Gap) else "its virtual network or the network's location is unknown"
            yield error(compute, f"the virtual network hosting this cluster is unknown ({reason}), so the quota "
                                 "region it draws on cannot be named", subnet_id=compute.subnet_id)
            continue
        region = regions.setdefault((vnet.subscription_id.lower(), vnet.location),
                                    _QuotaRegion(vnet.subscription_id, vnet.location))
        if vnet.id not in region.vnet_ids:
            region.vnet_ids.append(vnet.id)
        region.compute_ids.append(compute.id)
    for region in regions.values():
        yield _quota_verdict(estate, region, settings.planned_new_clusters)


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def _quota_verdict(estate: Estate, region: _QuotaRegion, planned: int) -> Verdict:
    base: dict[str, Any] = {"planned_new_clusters": planned, "vnets": region.vnet_ids, "computes": region.compute_ids}
    if not estate.usages_collected:
        return error(region.id, "network usages were not collected (the snapshot has no usages section)", **base)
    usages = estate.usages_for(region.subscription_id, region.location)
    if usages is None:
        errors = estate.collection_errors_at(region.id, f"{region.id}/usages", f"/subscriptions/{region.subscription_id}")
        why = f"could not be read (HTTP {errors[0].status} {errors[0].code or ''}: {errors[0].message or ''})" if errors else "are not in the snapshot"
        return error(region.id, f"the network usages of subscription {region.subscription_id} in {region.location} {why}", **base)
    quotas: list[dict[str, Any]] = []
    short: list[str] = []
    missing: list[str] = []
    for name in CLUSTER_NETWORK_QUOTAS:
        quota = usages.get(name)
        if quota is None:
            missing.append(name)
            continue
        available = quota.available
        enough = available >= planned
        quotas.append({"name": quota.name, "current_value": _number(quota.current_value), "limit": _number(quota.limit),
                       "available": _number(available), "sufficient": enough})
        if not enough:
            short.append(f"{quota.name} {_number(quota.current_value)} of {_number(quota.limit)} used, "
                         f"{_number(available)} left")
    evidence = {**base, "quotas": quotas, "missing_quotas": missing}
    where = f"subscription {region.subscription_id} in {region.location}"
    if short:
        return failed(region.id, f"{where}: room for fewer than {planned} new cluster(s): {'; '.join(short)}"
                                 + (f" (not reported: {', '.join(missing)})" if missing else ""), **evidence)
    if missing:
        return error(region.id, f"{where}: the usages do not report {', '.join(missing)}", **evidence)
    return passed(region.id, f"{where}: " + "; ".join(f"{q['name']} {q['available']} left" for q in quotas)
                             + f", enough for {planned} new cluster(s)", **evidence)


# -- compute-vnet-locks --------------------------------------------------------------------


@check(
    id="compute-vnet-locks",
    title="No read-only lock on the compute VNet, its resource group or subscription",
    severity="high",
    subject="VNet hosting AmlCompute",
    applies="always",
    passes="no ReadOnly management lock on the VNet, its resource group or its subscription",
    source="Use Machine Learning Compute",
    rationale=(
        "\"Check whether your security policies or locks on the virtual network's subscription or resource group "
        "restrict permissions to manage the virtual network.\" The service creates and changes resources beside the "
        "virtual network for every cluster; a ReadOnly lock refuses those writes."
    ),
    remediation=(
        "Remove the ReadOnly lock or change it to CanNotDelete (portal: the lock's scope -> Settings -> Locks; "
        "az lock delete --ids LOCK_ID)."
    ),
)
def compute_vnet_locks(estate: Estate, settings: Settings) -> Iterator[Verdict]:
    """Locks inherit down from the subscription and resource group, so those scopes count as
    well as the VNet itself. CanNotDelete locks block only deletes, which the service does
    not need on the VNet: they pass and are listed in the evidence. A lock of any other level
    (Azure knows only CanNotDelete and ReadOnly) cannot be judged: `error`. A failed lock
    listing at any covering scope makes a VNet without a ReadOnly lock `error`.
    """
    yield from unlisted_compute_errors(estate, "its AmlCompute clusters and the virtual networks they use")
    # Locks need only the VNet's id, which a subnet id names even when the subnet is missing.
    vnet_computes: dict[str, tuple[str, list[Compute]]] = {}
    for compute in _amlcompute_in_subnet(estate):
        subnet = compute.subnet
        if isinstance(subnet, Subnet) and subnet.vnet is not None:
            vnet_id: str | None = subnet.vnet.id
        else:
            vnet_id = parent_id(compute.subnet_id or "", "subnets") if looks_like_arm_id(compute.subnet_id) else None
        if not vnet_id:
            yield error(compute, compute.subnet if isinstance(compute.subnet, Gap)
                        else f"the cluster's subnet id {compute.subnet_id!r} names no virtual network",
                        subnet_id=compute.subnet_id)
            continue
        vnet_computes.setdefault(id_key(vnet_id), (vnet_id, []))[1].append(compute)
    for key, (vnet_id, computes) in vnet_computes.items():
        compute_ids = [c.id for c in computes]
        vnet = estate.vnets.get(key)
        if vnet is None:
            gap = next((c.subnet for c in computes if isinstance(c.subnet, Gap)), None)
            yield error(vnet_id, f"virtual network {vnet_id}: {gap.reason if gap else 'not in the snapshot'}",
                        computes=compute_ids)
        else:
            yield _locks_verdict(estate, vnet, compute_ids)


def _scope_kind(lock: ManagementLock, vnet_id: str) -> str:
    scopes = covering_scopes(vnet_id)
    key = id_key(lock.scope)
    if key == scopes[0]:
        return "virtual network"
    if key == scopes[-1]:
        return "subscription"
    return "resource group"


def _locks_verdict(estate: Estate, vnet: VirtualNetwork, compute_ids: list[str]) -> Verdict:
    if not estate.locks_collected:
        return error(vnet, "management locks were not collected (the snapshot has no locks section)", computes=compute_ids)
    locks = estate.locks_covering(vnet.id)
    described = [{"id": lock.id, "level": lock.level, "scope": lock.scope, "scope_kind": _scope_kind(lock, vnet.id)}
                 for lock in locks]
    by_level: dict[str, list[dict[str, str]]] = {"readonly": [], "cannotdelete": [], "other": []}
    for d in described:
        level = d["level"].lower()
        by_level[level if level in by_level else "other"].append(d)
    read_only, cannot_delete, unrecognised = by_level["readonly"], by_level["cannotdelete"], by_level["other"]
    listing_scopes = [s for scope in covering_scopes(vnet.id) for s in (scope, f"{scope}/providers/microsoft.authorization/locks")]
    listing_errors = [{"scope": e.scope, "status": e.status, "message": e.message}
                      for e in estate.collection_errors_at(*listing_scopes)]
    evidence: dict[str, Any] = {"read_only_locks": read_only, "cannot_delete_locks": cannot_delete,
                                "unrecognised_locks": unrecognised, "lock_listing_errors": listing_errors,
                                "computes": compute_ids}
    unknown = [f"lock {d['id']} has level {d['level']!r}" for d in unrecognised]
    unknown += [f"locks at {e['scope']} could not be listed (HTTP {e['status']})" for e in listing_errors]
    if read_only:
        named = "; ".join(f"{d['id']} (ReadOnly on the {d['scope_kind']} {d['scope']})" for d in read_only)
        return failed(vnet, f"virtual network {vnet.name} is under a read-only lock: {named}"
                            + (f" (also unknown: {'; '.join(unknown)})" if unknown else ""), **evidence)
    if unknown:
        return error(vnet, f"virtual network {vnet.name}: {'; '.join(unknown)}", **evidence)
    note = f"; CanNotDelete locks (harmless here): {', '.join(d['id'] for d in cannot_delete)}" if cannot_delete else ""
    return passed(vnet, f"no ReadOnly lock on virtual network {vnet.name}, its resource group or its subscription{note}",
                  **evidence)


# -- attached-compute-ubuntu ---------------------------------------------------------------


@check(
    id="attached-compute-ubuntu",
    title="Attached virtual machine runs Ubuntu",
    severity="high",
    subject="VirtualMachine compute",
    applies="always",
    passes="the VM's image is Ubuntu (imageReference publisher Canonical, offer containing 'ubuntu')",
    source="Use a virtual machine or HDInsight cluster",
    rationale="\"The Azure Machine Learning service only supports virtual machines that are running Ubuntu.\"",
    remediation=(
        "Attach a VM created from a Canonical Ubuntu image instead (az vm create --image Ubuntu2204 ...; "
        "studio -> Compute -> Attached computes -> Detach, then attach the new VM)."
    ),
)
def attached_compute_ubuntu(estate: Estate, settings: Settings) -> Iterator[Verdict]:
    """Publisher and offer compare case-insensitively; Canonical's offers are named like
    `UbuntuServer`, `0001-com-ubuntu-server-jammy` and `ubuntu-24_04-lts`.

    A VM from a custom or gallery image (an `imageReference` with an `id` and no publisher)
    or from an attached disk names no distribution: with `osType` Windows it is certainly not
    Ubuntu (`fail`), otherwise the distribution cannot be told (`error`). Ubuntu-based images
    of other publishers (e.g. the Data Science VM, publisher microsoft-dsvm) fail as the
    catalog says; the message names publisher and offer so a reviewer can suppress them.
    """
    yield from unlisted_compute_errors(estate, "its attached virtual machines")
    for compute in vm_computes(estate):
        yield _ubuntu_verdict(compute)


def _ubuntu_verdict(compute: Compute) -> Verdict:
    vm = compute.vm
    if not isinstance(vm, VirtualMachine):
        return error(compute, vm or "the compute's virtual machine is unknown")
    image = vm.image_reference
    publisher = image.get("publisher") if isinstance(image.get("publisher"), str) and image.get("publisher") else None
    offer = image.get("offer") if isinstance(image.get("offer"), str) and image.get("offer") else None
    custom_image = next((image[k] for k in ("id", "sharedGalleryImageId", "communityGalleryImageId")
                         if isinstance(image.get(k), str) and image.get(k)), None)
    evidence: dict[str, Any] = {"vm_id": vm.id, "publisher": publisher, "offer": offer, "sku": image.get("sku"),
                                "custom_image_id": custom_image, "os_type": vm.os_type}
    if publisher is not None:
        if publisher.lower() != "canonical":
            return failed(compute, f"VM {vm.name} runs an image of publisher {publisher!r} (offer {offer!r}), "
                                   "not Canonical's Ubuntu", **evidence)
        if offer is None:
            return error(compute, f"VM {vm.name}: the image of publisher Canonical names no offer", **evidence)
        if "ubuntu" not in offer.lower():
            return failed(compute, f"VM {vm.name} runs Canonical offer {offer!r}, which is not Ubuntu", **evidence)
        return passed(compute, f"VM {vm.name} runs Ubuntu (publisher {publisher}, offer {offer})", **evidence)
    if vm.os_type is not None and vm.os_type.lower() == "windows":
        return failed(compute, f"VM {vm.name} runs Windows (osDisk.osType {vm.os_type}), not Ubuntu", **evidence)
    source = f"the custom image {custom_image}" if custom_image else "an image that names no publisher"
    return error(compute, f"VM {vm.name} runs {source}: cannot tell the distribution of a custom image", **evidence)
