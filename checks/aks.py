"""Checks on the networking of Azure Kubernetes Service inference compute that need no flow
evaluation ("Use Azure Kubernetes Service").

AKS networking comes from the compute's `aksNetworkingConfiguration`, else from the
managed cluster's `networkProfile` and agent pool `vnetSubnetID` (the graph resolves
this into `Compute.aks_networking`). A cluster whose agent pools name no subnet runs in a
VNet AKS made itself, not a customer VNet: the VNet-relative checks do not apply to it.

Malformed CIDRs and addresses are `error`, not `fail`: Azure validates these values when a
cluster is created, so a value that does not parse means the snapshot's shape is not the
one understood here, and what the cluster really uses is unknown.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from amlaudit.auditor.check import Settings, Verdict, check, error, failed, not_applicable, passed
from amlaudit.auditor.cidr import CidrError, IPNetwork, overlaps, parse_cidr, parse_ip, parse_prefixes
from amlaudit.auditor.graph.estate import Estate
from amlaudit.auditor.graph.model import AksNetworking, Compute, Gap, ManagedCluster, Subnet, VirtualNetwork
from amlaudit.auditor.subjects import aks_computes, unlisted_compute_errors

_SOURCE = "Use Azure Kubernetes Service, step 4"
_UNLISTED = "its AKS computes"


@dataclass(frozen=True, slots=True)
class _Undecided:
    """Why a check cannot judge an AKS compute: it does not apply, or something is unknown."""

    status: Literal["error", "not_applicable"]
    reason: str | Gap
    evidence: dict[str, Any] = field(default_factory=dict)

    def verdict(self, compute: Compute) -> Verdict:
        if self.status == "not_applicable":
            return not_applicable(compute, str(self.reason), **self.evidence)
        return error(compute, self.reason, **self.evidence)

    @property
    def text(self) -> str:
        return self.reason.describe() if isinstance(self.reason, Gap) else self.reason


def _networking(compute: Compute) -> AksNetworking | _Undecided:
    if compute.aks_networking is not None:
        return compute.aks_networking
    cluster = compute.managed_cluster
    if isinstance(cluster, Gap):
        return _Undecided("error", cluster)
    return _Undecided("error", "the compute has no aksNetworkingConfiguration and names no managed cluster "
                               "(properties.resourceId), so its networking is unknown")


def _networking_evidence(networking: AksNetworking) -> dict[str, Any]:
    return {"networking_source": networking.source, "subnet_id": networking.subnet_id,
            "service_cidr": networking.service_cidr, "dns_service_ip": networking.dns_service_ip,
            "docker_bridge_cidr": networking.docker_bridge_cidr}


def _vnet(compute: Compute, networking: AksNetworking) -> VirtualNetwork | _Undecided:
    """The customer VNet of the cluster's agent subnet, or why there is none to judge."""
    evidence = _networking_evidence(networking)
    if not networking.subnet_id:
        if not networking.from_managed_cluster:
            return _Undecided("error", "the compute's aksNetworkingConfiguration names no subnetId", evidence)
        cluster = compute.managed_cluster
        pools = cluster.properties.get("agentPoolProfiles") if isinstance(cluster, ManagedCluster) else None
        if not isinstance(pools, list) or not pools:
            # Resource Manager always lists the agent pools: without them the shape is unknown.
            return _Undecided("error", "the managed cluster lists no agentPoolProfiles, so whether it is in a "
                                       "customer virtual network is unknown", evidence)
        problem = cluster.agent_pools_problem if isinstance(cluster, ManagedCluster) else None
        if problem is not None:
            return _Undecided("error", f"{problem}, so whether the cluster is in a customer virtual network is unknown",
                              evidence)
        return _Undecided("not_applicable", "the cluster's agent pools name no subnet (vnetSubnetID): AKS runs it "
                                            "in a virtual network of its own, not a customer virtual network", evidence)
    subnet = compute.subnet
    if not isinstance(subnet, Subnet):
        return _Undecided("error", subnet or f"subnet {networking.subnet_id} is unknown", evidence)
    if subnet.vnet is None:
        return _Undecided("error", f"the virtual network of subnet {subnet.id} is not in the snapshot", evidence)
    return subnet.vnet


@dataclass(slots=True)
class _Overlaps:
    """Where a network overlaps the subnets of a VNet, and what could not be compared."""

    found: list[dict[str, str]] = field(default_factory=list)  # {"subnet_id", "prefix"}
    unknown: list[str] = field(default_factory=list)


def _subnet_overlaps(vnet: VirtualNetwork, network: IPNetwork) -> _Overlaps:
    """Every prefix of every subnet of the VNet that shares an address with `network`."""
    result = _Overlaps()
    if vnet.subnets_problem is not None:
        result.unknown.append(f"the subnets of {vnet.name} were not all read ({vnet.subnets_problem})")
    for subnet in vnet.subnets:
        if not subnet.address_prefixes:
            result.unknown.append(f"subnet {subnet.id} has no address prefix")
            continue
        prefixes = parse_prefixes(subnet.address_prefixes)
        result.unknown += [f"subnet {subnet.id} prefix {bad!r} is not a CIDR" for bad in prefixes.malformed]
        result.found += [{"subnet_id": subnet.id, "prefix": str(p)} for p in prefixes.networks if overlaps(p, network)]
    return result


def _also_unknown(unknown: list[str]) -> str:
    return f" (also unknown: {'; '.join(unknown)})" if unknown else ""


# -- aks-vnet-location ---------------------------------------------------------------------


@check(
    id="aks-vnet-location",
    title="AKS cluster and its virtual network are in the same region",
    severity="medium",
    subject="AKS compute",
    applies="always (not applicable to a cluster that is not in a customer virtual network)",
    passes="the AKS subnet's VNet is in the AKS cluster's region",
    source="Use Azure Kubernetes Service",
    rationale="\"Azure Kubernetes Service and the Azure virtual network should be in the same region.\"",
    remediation=(
        "Recreate the AKS cluster in the virtual network's region, or in a virtual network of the cluster's region "
        "(az aks create --location REGION --vnet-subnet-id SUBNET_ID), and attach it to the workspace again."
    ),
)
def aks_vnet_location(estate: Estate, settings: Settings) -> Iterator[Verdict]:
    """The cluster's region is the managed cluster's `location`; only for a compute that names
    no managed cluster (no `properties.resourceId`, e.g. one still provisioning) is it the
    compute's own `location`, which the service sets to the region it creates the cluster in.
    A managed cluster that is named but could not be read is `error`: its region is unknown.
    """
    yield from unlisted_compute_errors(estate, _UNLISTED)
    for compute in aks_computes(estate):
        yield _vnet_location_verdict(compute)


def _cluster_region(compute: Compute) -> tuple[str | None, str] | _Undecided:
    cluster = compute.managed_cluster
    if isinstance(cluster, ManagedCluster):
        return cluster.location, f"managed cluster {cluster.id}"
    if isinstance(cluster, Gap):
        return _Undecided("error", cluster)
    return compute.location, "the compute's location (it names no managed cluster)"


def _vnet_location_verdict(compute: Compute) -> Verdict:
    networking = _networking(compute)
    if isinstance(networking, _Undecided):
        return networking.verdict(compute)
    vnet = _vnet(compute, networking)
    if isinstance(vnet, _Undecided):
        return vnet.verdict(compute)
    region = _cluster_region(compute)
    if isinstance(region, _Undecided):
        return region.verdict(compute)
    cluster_region, region_source = region
    evidence = {"vnet_id": vnet.id, "vnet_location": vnet.location, "cluster_location": cluster_region,
                "cluster_location_from": region_source, "subnet_id": networking.subnet_id,
                "networking_source": networking.source}
    if vnet.location is None or cluster_region is None:
        missing = "virtual network" if vnet.location is None else "cluster"
        return error(compute, f"the {missing} has no location", **evidence)
    if vnet.location != cluster_region:
        return failed(compute, f"the cluster is in {cluster_region} but its virtual network {vnet.name} is in "
                               f"{vnet.location}", **evidence)
    return passed(compute, f"the cluster and its virtual network {vnet.name} are both in {cluster_region}", **evidence)


# -- aks-service-cidr ----------------------------------------------------------------------


@check(
    id="aks-service-cidr",
    title="AKS service address range overlaps no subnet of the virtual network",
    severity="high",
    subject="AKS compute",
    applies="always (not applicable to a cluster that is not in a customer virtual network)",
    passes="the service CIDR overlaps no prefix of any subnet of the AKS subnet's VNet",
    source=_SOURCE,
    rationale=(
        "\"Kubernetes Service address range ... It must not overlap with any subnet IP ranges.\" Addresses in both "
        "are routed to the cluster's services instead of the subnet."
    ),
    remediation=(
        "Recreate the AKS cluster with a service CIDR outside every subnet of the virtual network "
        "(az aks create --service-cidr 10.0.0.0/16 --dns-service-ip 10.0.0.10 ...); it cannot be changed in place."
    ),
)
def aks_service_cidr(estate: Estate, settings: Settings) -> Iterator[Verdict]:
    """Every prefix (`addressPrefix` and `addressPrefixes`) of every subnet of the VNet counts,
    as the document says "any subnet"; the VNet's unallocated address space does not."""
    yield from unlisted_compute_errors(estate, _UNLISTED)
    for compute in aks_computes(estate):
        yield _service_cidr_verdict(compute)


def _service_cidr_verdict(compute: Compute) -> Verdict:
    networking = _networking(compute)
    if isinstance(networking, _Undecided):
        return networking.verdict(compute)
    vnet = _vnet(compute, networking)
    if isinstance(vnet, _Undecided):
        return vnet.verdict(compute)
    evidence: dict[str, Any] = {**_networking_evidence(networking), "vnet_id": vnet.id}
    if networking.service_cidr is None:
        return error(compute, f"the {networking.source} has no serviceCidr", **evidence)
    try:
        service = parse_cidr(networking.service_cidr, "serviceCidr")
    except CidrError as exc:
        return error(compute, str(exc), **evidence)
    hits = _subnet_overlaps(vnet, service)
    evidence.update(service_network=str(service), overlapping_subnets=hits.found, unknown=hits.unknown,
                    subnets_compared=len(vnet.subnets))
    if hits.found:
        where = ", ".join(f"{h['subnet_id'].rsplit('/', 1)[-1]} ({h['prefix']})" for h in hits.found)
        return failed(compute, f"service CIDR {service} overlaps subnets of {vnet.name}: {where}"
                               + _also_unknown(hits.unknown), **evidence)
    if hits.unknown:
        return error(compute, f"service CIDR {service}: {'; '.join(hits.unknown)}", **evidence)
    return passed(compute, f"service CIDR {service} overlaps none of the {len(vnet.subnets)} subnets of {vnet.name}",
                  **evidence)


# -- aks-dns-service-ip --------------------------------------------------------------------


@check(
    id="aks-dns-service-ip",
    title="AKS DNS service IP is a usable address of the service range",
    severity="high",
    subject="AKS compute",
    applies="always",
    passes="the DNS service IP lies in the service CIDR and is neither its network address nor its first host address",
    source=_SOURCE,
    rationale=(
        "\"Kubernetes DNS service IP address ... It must be within the Kubernetes service address range.\" The "
        "range's network address is not assignable and its first host address is the Kubernetes API service's."
    ),
    remediation=(
        "Recreate the AKS cluster with a DNS service IP inside the service CIDR other than its first two addresses, "
        "e.g. 10.0.0.10 for 10.0.0.0/16 (az aks create --dns-service-ip 10.0.0.10 --service-cidr 10.0.0.0/16 ...)."
    ),
)
def aks_dns_service_ip(estate: Estate, settings: Settings) -> Iterator[Verdict]:
    """Judged for every AKS cluster, in a customer VNet or not: the rule is internal to the cluster."""
    yield from unlisted_compute_errors(estate, _UNLISTED)
    for compute in aks_computes(estate):
        yield _dns_verdict(compute)


def _dns_verdict(compute: Compute) -> Verdict:
    networking = _networking(compute)
    if isinstance(networking, _Undecided):
        return networking.verdict(compute)
    evidence = _networking_evidence(networking)
    missing = [k for k, v in (("serviceCidr", networking.service_cidr), ("dnsServiceIP", networking.dns_service_ip)) if v is None]
    if missing:
        return error(compute, f"the {networking.source} has no {' or '.join(missing)}", **evidence)
    try:
        service = parse_cidr(networking.service_cidr, "serviceCidr")
        dns = parse_ip(networking.dns_service_ip, "dnsServiceIP")
    except CidrError as exc:
        return error(compute, str(exc), **evidence)
    network_address = service.network_address
    first_host = network_address + 1 if service.num_addresses > 1 else None
    evidence.update(service_network=str(service), network_address=str(network_address),
                    first_host_address=str(first_host) if first_host is not None else None)
    if dns.version != service.version or dns not in service:
        return failed(compute, f"DNS service IP {dns} is outside the service CIDR {service}", **evidence)
    if dns == network_address:
        return failed(compute, f"DNS service IP {dns} is the network address of the service CIDR {service}", **evidence)
    if dns == first_host:
        return failed(compute, f"DNS service IP {dns} is the first host address of the service CIDR {service}, which "
                               "the Kubernetes API service takes", **evidence)
    return passed(compute, f"DNS service IP {dns} is in the service CIDR {service} and is neither {network_address} "
                           f"nor {first_host}", **evidence)


# -- aks-docker-bridge ---------------------------------------------------------------------


@check(
    id="aks-docker-bridge",
    title="AKS docker bridge range overlaps no subnet and not the service range",
    severity="high",
    subject="AKS compute",
    applies="always (not applicable to a cluster that sets no docker bridge CIDR)",
    passes="the docker bridge CIDR overlaps neither a subnet of the VNet nor the service CIDR",
    source=_SOURCE,
    rationale=(
        "\"Docker bridge address ... It must not be in any subnet IP ranges, or the Kubernetes service address "
        "range.\" Traffic to overlapping addresses would stay on the node's bridge."
    ),
    remediation=(
        "Recreate the AKS cluster with a docker bridge CIDR outside the subnets and the service range, e.g. "
        "172.17.0.1/16 (az aks create --docker-bridge-address 172.17.0.1/16 ...)."
    ),
)
def aks_docker_bridge(estate: Estate, settings: Settings) -> Iterator[Verdict]:
    """The bridge is given as an address with its prefix length (172.17.0.1/16); the range it
    occupies is that prefix. A cluster without `dockerBridgeCidr` is not applicable: AKS has
    ignored the setting since nodes moved to containerd, and API versions from 2023 no longer
    return it. A cluster not in a customer VNet is compared with its service CIDR only (its
    subnets are AKS's own), and the evidence says so.
    """
    yield from unlisted_compute_errors(estate, _UNLISTED)
    for compute in aks_computes(estate):
        yield _docker_bridge_verdict(compute)


def _docker_bridge_verdict(compute: Compute) -> Verdict:
    networking = _networking(compute)
    if isinstance(networking, _Undecided):
        return networking.verdict(compute)
    evidence: dict[str, Any] = _networking_evidence(networking)
    cluster = compute.managed_cluster
    if networking.from_managed_cluster and isinstance(cluster, ManagedCluster) and not cluster.network_profile:
        return error(compute, "the managed cluster has no networkProfile, so its docker bridge is unknown", **evidence)
    if networking.docker_bridge_cidr is None:
        return not_applicable(compute, f"the {networking.source} sets no dockerBridgeCidr (AKS no longer uses a "
                                       "docker bridge on containerd nodes)", **evidence)
    try:
        bridge = parse_cidr(networking.docker_bridge_cidr, "dockerBridgeCidr")
    except CidrError as exc:
        return error(compute, str(exc), **evidence)
    evidence["bridge_network"] = str(bridge)
    clashes: list[str] = []
    unknown: list[str] = []

    if networking.service_cidr is None:
        unknown.append(f"the {networking.source} has no serviceCidr")
    else:
        try:
            service = parse_cidr(networking.service_cidr, "serviceCidr")
        except CidrError as exc:
            unknown.append(str(exc))
        else:
            evidence["service_network"] = str(service)
            evidence["overlaps_service_cidr"] = overlaps(bridge, service)
            if overlaps(bridge, service):
                clashes.append(f"the service CIDR {service}")

    vnet = _vnet(compute, networking)
    if isinstance(vnet, _Undecided):
        evidence["subnets_compared"] = False
        if vnet.status == "error":
            unknown.append(vnet.text)
        else:
            evidence["subnets_not_compared_because"] = vnet.text
    else:
        hits = _subnet_overlaps(vnet, bridge)
        evidence.update(vnet_id=vnet.id, subnets_compared=True, overlapping_subnets=hits.found)
        unknown += hits.unknown
        clashes += [f"subnet {h['subnet_id'].rsplit('/', 1)[-1]} ({h['prefix']})" for h in hits.found]
    evidence["unknown"] = unknown

    if clashes:
        return failed(compute, f"docker bridge {bridge} overlaps {', '.join(clashes)}" + _also_unknown(unknown), **evidence)
    if unknown:
        return error(compute, f"docker bridge {bridge}: {'; '.join(unknown)}", **evidence)
    service_text = evidence["service_network"]
    if isinstance(vnet, VirtualNetwork):
        return passed(compute, f"docker bridge {bridge} overlaps neither the service CIDR {service_text} nor any of the "
                               f"{len(vnet.subnets)} subnets of {vnet.name}", **evidence)
    return passed(compute, f"docker bridge {bridge} does not overlap the service CIDR {service_text}; the cluster is not "
                           "in a customer virtual network, so no subnet was compared", **evidence)
