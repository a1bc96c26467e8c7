"""A small two-subscription estate in ARM shape, for live-collection tests.

Subscription A (`SUB_A`) holds the machine learning side, subscription B (`SUB_B`) a
shared storage account, another workspace and a VNet no compute uses:

    A  rg-network   vnet-ml (eastus): subnets aml (nsg-ml, rt-ml), aks (nsg-aks), vms
                    vnet-spare (westus, no compute); nsg-ml, nsg-aks, nsg-nic, rt-ml
       rg-ml-prod   mlw-prod: storage stmlshared (in B!), key vault kv-ml-prod
                      cpu-cluster (AmlCompute in aml), vm-attached (VirtualMachine -> dsvm -> dsvm-nic
                      in vms with nsg-nic), aks-inference (AKS -> aks-ml, agent pool in aks)
                    dsvm, dsvm-nic, aks-ml
       rg-ml-dev    mlw-dev: storage stmldev, key vault kv-ml-dev; dev-cluster (AmlCompute in aml)
       locks        ReadOnly on rg-network, CanNotDelete on vnet-ml and on subscription A,
                    ReadOnly on rg-ml-dev (covers no VNet)
    B  rg-data      stmlshared
       rg-b         mlw-b: storage stb, key vault kv-b (no computes); vnet-b (no compute)

`sample_estate_with_hdinsight()` adds, in subscription B (whose network nothing else needs):

    B  rg-hdi       vnet-hdi (westus): subnet hdi (nsg-hdi: SSH from AzureMachineLearning, rt-hdi);
                    hdi-spark, an HDInsight cluster whose roles sit in hdi; CanNotDelete lock on vnet-hdi
       rg-b         mlw-b gains spark (HDInsight compute -> hdi-spark); network usages for westus
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from tests.estates import OTHER_SUB, SUB, EstateBuilder, rid, security_rule

SUB_A = SUB
SUB_B = OTHER_SUB


@dataclass
class SampleEstate:
    document: dict[str, Any]
    ids: dict[str, str]  # short name -> ARM id as served

    def resource(self, name: str) -> dict[str, Any]:
        wanted = self.ids[name].lower()
        return next(r for r in self.document["resources"] if r["id"].lower() == wanted)

    def resources_except(self, *names: str) -> dict[str, dict[str, Any]]:
        """The estate's resources by lower-case id, without the named ones."""
        left_out = {self.ids[n].lower() for n in names}
        return {r["id"].lower(): r for r in self.document["resources"] if r["id"].lower() not in left_out}


def _move(resource: dict[str, Any], old_group: str, new_group: str) -> dict[str, Any]:
    resource["id"] = resource["id"].replace(f"/resourceGroups/{old_group}/", f"/resourceGroups/{new_group}/")
    return resource


def sample_estate() -> SampleEstate:
    a = EstateBuilder(location="eastus", subscription=SUB_A)
    vnet = a.vnet("vnet-ml", ["10.0.0.0/16"])
    spare = a.vnet("vnet-spare", ["10.9.0.0/16"], location="westus")
    a.subnet(spare, "default", "10.9.0.0/24")
    nsg_ml = a.nsg("nsg-ml")
    nsg_aks = a.nsg("nsg-aks")
    nsg_nic = a.nsg("nsg-nic")
    rt = a.route_table("rt-ml", [("default-to-internet", "0.0.0.0/0", "Internet")])
    aml_subnet = a.subnet(vnet, "aml", "10.0.1.0/24", nsg=nsg_ml, route_table=rt, service_endpoints=("Microsoft.Storage",))
    aks_subnet = a.subnet(vnet, "aks", "10.0.2.0/24", nsg=nsg_aks)
    vm_subnet = a.subnet(vnet, "vms", "10.0.3.0/24")

    kv_prod = a.key_vault("kv-ml-prod")
    nic = a.nic("dsvm-nic", vm_subnet, "10.0.3.4", nsg=nsg_nic)
    vm = a.vm("dsvm", nic)
    cluster = a.managed_cluster("aks-ml", aks_subnet)

    b = EstateBuilder(location="eastus", subscription=SUB_B)
    shared_storage = _move(b.storage_account("stmlshared", "Deny", subnets=[aml_subnet]), "rg-ml-prod", "rg-data")

    prod = a.workspace("mlw-prod", storage=shared_storage, key_vault=kv_prod)
    a.aml_compute(prod, "cpu-cluster", aml_subnet)
    a.vm_compute(prod, "vm-attached", vm)
    a.aks_compute(prod, "aks-inference", cluster, networking={
        "subnetId": aks_subnet["id"], "serviceCidr": "10.2.0.0/16", "dnsServiceIP": "10.2.0.10",
        "dockerBridgeCidr": "172.17.0.1/16"})

    dev_storage = _move(a.storage_account("stmldev"), "rg-ml-prod", "rg-ml-dev")
    dev_vault = _move(a.key_vault("kv-ml-dev"), "rg-ml-prod", "rg-ml-dev")
    dev = _move(a.workspace("mlw-dev", storage=dev_storage, key_vault=dev_vault), "rg-ml-prod", "rg-ml-dev")
    a.aml_compute(dev, "dev-cluster", aml_subnet)

    a.network_usages("eastus")
    a.network_usages("westus")
    a.real_service_tags("eastus")
    a.real_service_tags("westus")
    rg_network = vnet["id"].split("/providers/")[0]
    a.lock(rg_network, "ReadOnly", "network-readonly")
    a.lock(vnet["id"], "CanNotDelete", "vnet-keep")
    a.lock(f"/subscriptions/{SUB_A}", "CanNotDelete", "subscription-keep")
    a.lock(dev["id"].split("/providers/")[0], "ReadOnly", "dev-readonly")

    b.subscriptions[0]["displayName"] = "shared-data"
    kv_b = b.key_vault("kv-b")
    storage_b = b.storage_account("stb")
    workspace_b = b.workspace("mlw-b", storage=storage_b, key_vault=kv_b)
    for resource in (kv_b, storage_b, workspace_b):
        _move(resource, "rg-ml-prod", "rg-b")
    workspace_b["properties"]["storageAccount"] = storage_b["id"]
    workspace_b["properties"]["keyVault"] = kv_b["id"]
    vnet_b = b.vnet("vnet-b", ["10.20.0.0/16"], rg="rg-b")

    document = a.document()
    other = b.document()
    document["subscriptions"] += other["subscriptions"]
    document["resources"] += other["resources"]
    names = {
        "vnet": vnet, "vnet_spare": spare, "nsg_ml": nsg_ml, "nsg_aks": nsg_aks, "nsg_nic": nsg_nic, "rt": rt,
        "aml_subnet": aml_subnet, "aks_subnet": aks_subnet, "vm_subnet": vm_subnet, "kv_prod": kv_prod, "nic": nic,
        "vm": vm, "cluster": cluster, "shared_storage": shared_storage, "prod": prod, "dev": dev,
        "dev_storage": dev_storage, "dev_vault": dev_vault, "kv_b": kv_b, "storage_b": storage_b,
        "workspace_b": workspace_b, "vnet_b": vnet_b,
    }
    ids = {name: obj["id"] for name, obj in names.items()}
    for compute in ("cpu-cluster", "vm-attached", "aks-inference"):
        ids[compute] = f"{prod['id']}/computes/{compute}"
    ids["dev-cluster"] = f"{dev['id']}/computes/dev-cluster"
    return SampleEstate(copy.deepcopy(document), ids)


def hdinsight_cluster(resource_id: str, subnet: dict[str, Any], location: str = "West US") -> dict[str, Any]:
    """A Microsoft.HDInsight/clusters GET body (api-version 2021-06-01), shaped like the REST specs'
    GetLinuxHadoopCluster example (display-name location, no secrets) with every role in `subnet`."""
    network = {"id": subnet["id"].split("/subnets/")[0], "subnet": subnet["id"]}
    roles = [{"name": role, "targetInstanceCount": count, "hardwareProfile": {"vmSize": size},
              "osProfile": {"linuxOperatingSystemProfile": {"username": "sshuser"}},
              "virtualNetworkProfile": dict(network)}
             for role, count, size in (("headnode", 2, "Standard_E8_V3"), ("workernode", 4, "Standard_E8_V3"),
                                       ("zookeepernode", 3, "Standard_A2_V2"))]
    name = resource_id.rsplit("/", 1)[1]
    return {
        "id": resource_id, "name": name, "type": "Microsoft.HDInsight/clusters", "location": location,
        "etag": "f0212a39-b827-45e0-9ffa-4f5232e58851", "tags": {},
        "properties": {
            "clusterVersion": "5.1.3000.0", "osType": "Linux", "tier": "Standard",
            "clusterDefinition": {"blueprint": "https://blueprints.azurehdinsight.net/spark-5.1.3000.0.json",
                                  "kind": "SPARK", "componentVersion": {"Spark": "3.3"}},
            "computeProfile": {"roles": roles},
            "provisioningState": "Succeeded", "clusterState": "Running", "createdDate": "2026-01-05T10:00:00.000",
            "quotaInfo": {"coresUsed": 78},
            "connectivityEndpoints": [
                {"name": "SSH", "protocol": "TCP", "location": f"{name}-ssh.azurehdinsight.net", "port": 22},
                {"name": "HTTPS", "protocol": "TCP", "location": f"{name}.azurehdinsight.net", "port": 443},
            ],
        },
    }


def sample_estate_with_hdinsight() -> SampleEstate:
    """The sample estate plus an attached HDInsight cluster in subscription B (see the module docstring)."""
    estate = sample_estate()
    b = EstateBuilder(location="westus", subscription=SUB_B)
    vnet = b.vnet("vnet-hdi", ["10.30.0.0/16"], rg="rg-hdi")
    ssh_from_aml = security_rule("AllowAzureMachineLearningSsh", 100, "Inbound", "Allow", "Tcp",
                                 "AzureMachineLearning", "*", "22")
    nsg = b.nsg("nsg-hdi", [ssh_from_aml], rg="rg-hdi")
    route_table = b.route_table("rt-hdi", [("to-internet", "0.0.0.0/0", "Internet")], rg="rg-hdi")
    subnet = b.subnet(vnet, "hdi", "10.30.1.0/24", nsg=nsg, route_table=route_table)
    cluster = hdinsight_cluster(rid("Microsoft.HDInsight/clusters", "hdi-spark", "rg-hdi", SUB_B), subnet)
    b.resources.append(cluster)
    workspace = estate.resource("workspace_b")
    # Azure Machine Learning keeps the address it was attached with: here the head node's private IP.
    compute = {"id": f"{workspace['id']}/computes/spark", "name": "spark",
               "type": "Microsoft.MachineLearningServices/workspaces/computes", "location": workspace["location"],
               "properties": {"computeType": "HDInsight", "provisioningState": "Succeeded", "isAttachedCompute": True,
                              "resourceId": cluster["id"], "properties": {"sshPort": 22, "address": "10.30.1.5"}}}
    b.resources.append(compute)
    b.network_usages("westus")
    b.lock(vnet["id"], "CanNotDelete", "hdi-vnet-keep")
    part = b.document()
    for key in ("resources", "usages", "locks"):
        estate.document[key] += part[key]
    estate.ids.update({"vnet_hdi": vnet["id"], "nsg_hdi": nsg["id"], "rt_hdi": route_table["id"],
                       "hdi_subnet": subnet["id"], "hdi_cluster": cluster["id"], "spark": compute["id"]})
    return estate
