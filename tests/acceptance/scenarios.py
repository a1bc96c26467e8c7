"""Small realistic estates the acceptance cases start from, built with tests/estates.py.

Each scenario is a "good" estate for the checks it targets (the catalog would pass it);
a case tweaks one thing and states the verdict the catalog then gives.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.acceptance.tagmath import tags_body
from tests.estates import RG, SERVICE_TAGS_SUBSET, EstateBuilder, rid, security_rule

Rule = dict[str, Any]

COMPUTE_SUBNET = "10.0.1.0/24"
VM_SUBNET = "10.0.3.0/24"
VM_PRIVATE_IP = "10.0.3.4"
AKS_SUBNET = "10.0.4.0/22"


def inbound_allow(name: str, priority: int, source: str | list[str], ports: str | list[str], protocol: str = "Tcp",
                  destination: str | list[str] = "*") -> Rule:
    return security_rule(name, priority, "Inbound", "Allow", protocol, source, destination, ports)


def batch_allow_rule(priority: int = 100) -> Rule:
    """What the document asks for: inbound TCP 29876 and 29877 from BatchNodeManagement."""
    return inbound_allow("AllowBatchNodeManagement", priority, "BatchNodeManagement", ["29876", "29877"])


def set_rules(nsg: dict[str, Any], rules: list[Rule]) -> None:
    """Replace an NSG's own rules (defaults stay), with ids under the NSG as ARM spells them."""
    own = []
    for rule in rules:
        rule = copy.deepcopy(rule)
        rule["id"] = f"{nsg['id']}/securityRules/{rule['name']}"
        own.append(rule)
    nsg["properties"]["securityRules"] = own


def add_tags(builder: EstateBuilder, location: str, path: Path = SERVICE_TAGS_SUBSET) -> None:
    assert builder.service_tags is not None
    builder.service_tags.append({"location": location, "body": tags_body(path)})


def add_workspace_compute(builder: EstateBuilder, workspace: dict[str, Any], name: str, compute_type: str,
                          inner: dict[str, Any], resource_id: str | None = None) -> dict[str, Any]:
    """A workspace compute object exactly as the Compute GET returns it."""
    outer: dict[str, Any] = {"computeType": compute_type, "provisioningState": "Succeeded",
                             "createdOn": "2026-01-05T10:00:00.0000000+00:00",
                             "isAttachedCompute": resource_id is not None, "properties": inner}
    if resource_id is not None:
        outer["resourceId"] = resource_id
    compute = {"id": f"{workspace['id']}/computes/{name}", "name": name,
               "type": "Microsoft.MachineLearningServices/workspaces/computes",
               "location": workspace["location"], "properties": outer}
    builder.resources.append(compute)
    return compute


@dataclass
class AmlScenario:
    """A workspace with one AmlCompute cluster in a subnet of an eastus VNet."""

    builder: EstateBuilder
    vnet: dict[str, Any]
    subnet: dict[str, Any]
    nsg: dict[str, Any] | None
    storage: dict[str, Any]
    key_vault: dict[str, Any]
    workspace: dict[str, Any]
    compute: dict[str, Any]

    @property
    def compute_id(self) -> str:
        return str(self.compute["id"])

    @property
    def quota_id(self) -> str:
        vnet_sub = self.vnet["id"].split("/")[2]
        return f"/subscriptions/{vnet_sub}/providers/Microsoft.Network/locations/{self.vnet['location']}"

    def document(self) -> dict[str, Any]:
        return self.builder.document()


def aml_scenario(location: str = "eastus", rules: list[Rule] | None = None, with_nsg: bool = True,
                 subnet_prefix: str | list[str] = COMPUTE_SUBNET, tags: Path | None = SERVICE_TAGS_SUBSET,
                 storage_default: str | None = "Deny", kv_default: str | None = "Deny",
                 max_nodes: int = 4, current_nodes: int = 0, remote_login: str = "Disabled",
                 enable_node_public_ip: bool | None = True) -> AmlScenario:
    b = EstateBuilder(location=location)
    vnet = b.vnet()
    nsg = b.nsg("nsg-compute", rules=[batch_allow_rule()] if rules is None else rules) if with_nsg else None
    subnet = b.subnet(vnet, "compute", subnet_prefix, nsg=nsg, service_endpoints=("Microsoft.Storage", "Microsoft.KeyVault"))
    storage = b.storage_account(default_action=storage_default, subnets=[subnet])
    key_vault = b.key_vault(default_action=kv_default, subnets=[subnet])
    workspace = b.workspace(storage=storage, key_vault=key_vault)
    compute = b.aml_compute(workspace, "cpu-cluster", subnet, max_nodes=max_nodes, current_nodes=current_nodes,
                            remote_login=remote_login, enable_node_public_ip=enable_node_public_ip)
    b.network_usages(location=location)
    if tags is not None:
        add_tags(b, location, tags)
    return AmlScenario(b, vnet, subnet, nsg, storage, key_vault, workspace, compute)


@dataclass
class VmScenario:
    """A workspace with an attached Ubuntu VM (NIC 10.0.3.4) in subnet 10.0.3.0/24."""

    builder: EstateBuilder
    vnet: dict[str, Any]
    subnet: dict[str, Any]
    subnet_nsg: dict[str, Any] | None
    nic_nsg: dict[str, Any] | None
    nic: dict[str, Any]
    vm: dict[str, Any]
    workspace: dict[str, Any]
    compute: dict[str, Any]

    @property
    def compute_id(self) -> str:
        return str(self.compute["id"])


def ssh_from_aml_rule(priority: int = 100, source: str | list[str] = "AzureMachineLearning",
                      destination: str | list[str] = "*", protocol: str = "*") -> Rule:
    """The document's rule: source tag AzureMachineLearning, any source port, destination Any, port 22, protocol Any."""
    return inbound_allow("AllowAzureMachineLearningSsh", priority, source, "22", protocol, destination)


def vm_scenario(subnet_rules: list[Rule] | None = None, nic_rules: list[Rule] | None = None,
                subnet_nsg: bool = True, nic_nsg: bool = True, publisher: str = "Canonical",
                offer: str = "0001-com-ubuntu-server-jammy", sku: str = "22_04-lts-gen2",
                tags: Path | None = SERVICE_TAGS_SUBSET) -> VmScenario:
    b = EstateBuilder()
    vnet = b.vnet()
    s_nsg = b.nsg("nsg-vm-subnet", rules=[ssh_from_aml_rule()] if subnet_rules is None else subnet_rules) if subnet_nsg else None
    n_nsg = b.nsg("nsg-vm-nic", rules=[ssh_from_aml_rule()] if nic_rules is None else nic_rules) if nic_nsg else None
    subnet = b.subnet(vnet, "vms", VM_SUBNET, nsg=s_nsg, service_endpoints=("Microsoft.Storage", "Microsoft.KeyVault"))
    nic = b.nic("nic-dsvm", subnet, VM_PRIVATE_IP, nsg=n_nsg)
    vm = b.vm("dsvm", nic, publisher=publisher, offer=offer, sku=sku)
    storage = b.storage_account(default_action="Deny", subnets=[subnet])
    key_vault = b.key_vault(default_action="Deny", subnets=[subnet])
    workspace = b.workspace(storage=storage, key_vault=key_vault)
    compute = b.vm_compute(workspace, "dsvm", vm)
    b.network_usages()
    if tags is not None:
        add_tags(b, b.location, tags)
    return VmScenario(b, vnet, subnet, s_nsg, n_nsg, nic, vm, workspace, compute)


def hdinsight_cluster(builder: EstateBuilder, name: str, vnet: dict[str, Any], subnet: dict[str, Any]) -> dict[str, Any]:
    """A Microsoft.HDInsight/clusters GET body with its roles placed in `subnet`."""
    network = {"id": vnet["id"], "subnet": subnet["id"]}
    cluster = {
        "id": rid("Microsoft.HDInsight/clusters", name, RG, builder.subscription), "name": name,
        "type": "Microsoft.HDInsight/clusters", "location": builder.location,
        "properties": {
            "clusterVersion": "5.1.3000.0", "osType": "Linux", "tier": "Standard", "provisioningState": "Succeeded",
            "clusterDefinition": {"kind": "SPARK", "componentVersion": {"Spark": "3.3"}},
            "computeProfile": {"roles": [
                {"name": role, "targetInstanceCount": count, "hardwareProfile": {"vmSize": "standard_e8_v3"},
                 "virtualNetworkProfile": network}
                for role, count in (("headnode", 2), ("workernode", 3), ("zookeepernode", 3))
            ]},
        },
    }
    builder.resources.append(cluster)
    return cluster


@dataclass
class AksScenario:
    """A workspace with an AKS inference compute whose agents sit in 10.0.4.0/22."""

    builder: EstateBuilder
    vnet: dict[str, Any]
    subnet: dict[str, Any]
    nsg: dict[str, Any] | None
    cluster: dict[str, Any]
    workspace: dict[str, Any]
    compute: dict[str, Any]
    storage: dict[str, Any]
    key_vault: dict[str, Any]

    @property
    def compute_id(self) -> str:
        return str(self.compute["id"])


def aks_allow_rules() -> list[Rule]:
    """Inbound 443 from AzureMachineLearning (document step 1) and the scoring port from the Internet (step 5)."""
    return [inbound_allow("AllowAzureMachineLearning", 100, "AzureMachineLearning", "443"),
            inbound_allow("AllowScoring", 110, "Internet", "443")]


def aks_scenario(rules: list[Rule] | None = None, with_nsg: bool = True, via: str = "config",
                 service_cidr: str = "10.2.0.0/16", dns_service_ip: str = "10.2.0.10",
                 docker_bridge_cidr: str | None = "172.17.0.1/16", ssl_status: str = "Enabled",
                 vnet_prefixes: list[str] | None = None, cluster_location: str | None = None,
                 tags: Path | None = SERVICE_TAGS_SUBSET) -> AksScenario:
    """via="config": the compute carries aksNetworkingConfiguration; via="cluster": an attached
    cluster whose networking comes from the managed cluster's networkProfile and agent pool."""
    b = EstateBuilder()
    vnet = b.vnet(prefixes=vnet_prefixes)
    nsg = b.nsg("nsg-aks", rules=aks_allow_rules() if rules is None else rules) if with_nsg else None
    subnet = b.subnet(vnet, "aks", AKS_SUBNET, nsg=nsg)
    storage = b.storage_account(default_action="Allow")
    key_vault = b.key_vault(default_action="Allow")
    workspace = b.workspace(storage=storage, key_vault=key_vault)
    if via == "config":
        cluster = b.managed_cluster("aks-ml", subnet, location=cluster_location)
        networking: dict[str, Any] | None = {"subnetId": subnet["id"], "serviceCidr": service_cidr,
                                             "dnsServiceIP": dns_service_ip}
        if docker_bridge_cidr is not None:
            networking["dockerBridgeCidr"] = docker_bridge_cidr
    elif via == "cluster":
        cluster = b.managed_cluster("aks-ml", subnet, service_cidr=service_cidr, dns_service_ip=dns_service_ip,
                                    docker_bridge_cidr=docker_bridge_cidr, location=cluster_location)
        networking = None
    else:
        raise ValueError(via)
    compute = b.aks_compute(workspace, "aks-inference", cluster, networking=networking, ssl_status=ssl_status)
    b.network_usages()
    if tags is not None:
        add_tags(b, b.location, tags)
    return AksScenario(b, vnet, subnet, nsg, cluster, workspace, compute, storage, key_vault)
