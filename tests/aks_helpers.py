"""Small AKS estates shared by the tests of checks/aks.py."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tests.estates import ARM_EXAMPLES, EstateBuilder


@dataclass
class AksEstate:
    vnet: dict[str, Any]
    aks_subnet: dict[str, Any]
    cluster: dict[str, Any]
    compute: dict[str, Any]


def aks_in_vnet(b: EstateBuilder, service_cidr: str = "10.2.0.0/16", dns_service_ip: str = "10.2.0.10",
                docker_bridge_cidr: str | None = "172.17.0.1/16", cluster_location: str | None = None,
                vnet_location: str | None = None) -> AksEstate:
    """A workspace with an attached AKS cluster in subnet 10.0.4.0/22 of VNet 10.0.0.0/16
    (beside a training subnet 10.0.1.0/24); networking from the managed cluster."""
    vnet = b.vnet(location=vnet_location)
    b.subnet(vnet, "snet-train", "10.0.1.0/24")
    aks_subnet = b.subnet(vnet, "snet-aks", "10.0.4.0/22")
    cluster = b.managed_cluster("aks-ml", aks_subnet, service_cidr=service_cidr, dns_service_ip=dns_service_ip,
                                docker_bridge_cidr=docker_bridge_cidr, location=cluster_location)
    compute = b.aks_compute(b.workspace(), "aks-inference", cluster)
    return AksEstate(vnet, aks_subnet, cluster, compute)


def networking_config(subnet_id: str, service_cidr: str = "10.2.0.0/16", dns_service_ip: str = "10.2.0.10",
                      docker_bridge_cidr: str | None = "172.17.0.1/16") -> dict[str, Any]:
    """A compute's `aksNetworkingConfiguration` as the Machine Learning API returns it."""
    config = {"subnetId": subnet_id, "serviceCidr": service_cidr, "dnsServiceIP": dns_service_ip}
    if docker_bridge_cidr is not None:
        config["dockerBridgeCidr"] = docker_bridge_cidr
    return config


def real_kubenet_cluster(b: EstateBuilder) -> dict[str, Any]:
    """The REST spec's ManagedClustersGet example (kubenet, agent pool without vnetSubnetID),
    attached to a workspace; returns the compute."""
    sample = json.loads((ARM_EXAMPLES / "containerservice-2024-07-01-ManagedClustersGet.json").read_text())
    cluster = sample["responses"]["200"]["body"]
    cluster["location"] = b.location  # the sample says "location1"
    b.resources.append(cluster)
    return b.aks_compute(b.workspace(), "aks-kubenet", cluster)


def real_aks_compute_and_cluster(b: EstateBuilder) -> tuple[dict[str, Any], dict[str, Any]]:
    """The REST spec's AKS compute example and its ManagedClustersGet example joined: the
    cluster takes the id the compute names, spelled with `resourceGroups` where the compute
    says `resourcegroups` (ids compare case-insensitively). Returns (compute, cluster)."""
    compute = json.loads((ARM_EXAMPLES / "machinelearningservices-2024-04-01-Compute__get__AKSCompute.json")
                         .read_text())["responses"]["200"]["body"]
    cluster = json.loads((ARM_EXAMPLES / "containerservice-2024-07-01-ManagedClustersGet.json")
                         .read_text())["responses"]["200"]["body"]
    cluster["id"] = compute["properties"]["resourceId"].replace("/resourcegroups/", "/resourceGroups/")
    cluster["location"] = compute["location"]
    ws_id = compute["id"].rsplit("/computes/", 1)[0]
    b.resources += [{"id": ws_id, "name": ws_id.rsplit("/", 1)[-1], "type": "Microsoft.MachineLearningServices/workspaces",
                     "location": compute["location"], "properties": {}}, cluster, compute]
    return compute, cluster
