"""The graph reads real ARM shapes (the vendored samples) and keeps gaps as gaps."""

import json
from typing import Any

from amlaudit.auditor.graph import build_estate
from amlaudit.auditor.graph.model import Gap, ManagedCluster, NetworkSecurityGroup, StorageAccount, Subnet
from amlaudit.auditor.ids import id_key
from amlaudit.auditor.snapshot import parse_snapshot
from tests.estates import ARM_EXAMPLES, EstateBuilder


def _body(name: str) -> dict[str, Any]:
    return json.loads((ARM_EXAMPLES / name).read_text())["responses"]["200"]["body"]


def _snapshot(resources: list[dict[str, Any]], **extra: Any):
    return parse_snapshot({"format": "amlaudit.snapshot/v1", "resources": resources, **extra}, "samples")


def test_every_sample_loads() -> None:
    """Each real example parses: resources into nodes, list bodies into their sections."""
    resources = []
    for path in sorted(ARM_EXAMPLES.glob("*.json")):
        body = json.loads(path.read_text())["responses"]["200"]["body"]
        if "id" in body and "type" in body:
            if path.name.endswith("AKSCompute.json"):
                # Both compute samples use the id .../computes/compute123; they are two computes here.
                body["id"] = body["id"].replace("compute123", "aks123")
            resources.append(body)
    usages = _body("network-2024-03-01-UsageList.json")["value"]
    locks = _body("resources-2020-05-01-ManagementLocks_ListAtResourceGroupLevel.json")["value"]
    tags = _body("network-2023-09-01-ServiceTagsList.json")
    snap = _snapshot(
        resources,
        usages=[{"subscription_id": "subid", "location": "westus", "value": usages}],
        locks=locks,
        service_tags=[{"location": "westus", "body": tags}],
    )
    estate = build_estate(snap)
    assert len(estate.workspaces) == 1 and len(estate.computes) == 2
    assert {c.kind for c in estate.computes} == {"AmlCompute", "AKS"}
    assert estate.usages_for("SUBID", "West US").get("LoadBalancers").limit == 100.0
    assert estate.usages_for("subid", "westus").get("networksecuritygroups").available == 99.0
    assert [lock.level for lock in estate.locks_covering(
        "/subscriptions/subscriptionId/resourceGroups/resourcegroupname/providers/Microsoft.Network/virtualNetworks/v")] == ["ReadOnly"]
    assert estate.service_tag_blocks[0].body.values[0].name == "ApiManagement"


def test_nsg_sample_rules_and_defaults() -> None:
    estate = build_estate(_snapshot([_body("network-2023-09-01-NetworkSecurityGroupGet.json")]))
    (nsg,) = estate.nsgs.values()
    assert isinstance(nsg, NetworkSecurityGroup)
    rules = nsg.rules
    assert [(r.name, r.priority, r.is_default) for r in rules][:2] == [("rule1", 130, False), ("AllowVnetInBound", 65000, True)]
    assert len(nsg.default_security_rules or []) == 6


def test_subnet_plural_prefixes_and_service_endpoints() -> None:
    estate = build_estate(_snapshot([
        _body("network-2024-03-01-VirtualNetworkCreateSubnetWithAddressPrefixes.json"),
        _body("network-2024-03-01-VirtualNetworkCreateServiceEndpoints.json"),
    ]))
    plural = estate.subnets[id_key("/subscriptions/subid/resourceGroups/rg1/providers/Microsoft.Network/virtualNetworks/test-vnet/subnets/test-2")]
    assert plural.address_prefixes == ["10.0.0.0/28", "10.1.0.0/28"]
    assert plural.vnet is not None and plural.vnet.address_prefixes == ["10.0.0.0/16"]
    endpoints = estate.subnets[id_key("/subscriptions/subid/resourceGroups/vnetTest/providers/Microsoft.Network/virtualNetworks/vnet1/subnets/test-1")]
    assert endpoints.service_endpoints == ["Microsoft.Storage"]
    assert endpoints.ip_configuration_count == 0


def test_key_vault_sample_network_acls_and_absent_acls() -> None:
    with_acls = _body("keyvault-2025-05-01-createVaultWithNetworkAcls.json")
    without = _body("keyvault-2023-07-01-getVault.json")
    without["id"] = without["id"].replace("sample-vault", "plain-vault")
    estate = build_estate(_snapshot([with_acls, without]))
    acls = estate.key_vaults[id_key(with_acls["id"])].network_acls
    assert acls.effective_default_action == "Deny" and acls.bypasses("azureservices")
    assert acls.virtual_network_rules[0]["id"].endswith("/subnets/subnet1")
    # Never configured: Azure's default is to accept all networks.
    assert estate.key_vaults[id_key(without["id"])].network_acls.effective_default_action == "Allow"


def test_storage_sample() -> None:
    body = _body("storage-2023-05-01-StorageAccountGetProperties.json")
    estate = build_estate(_snapshot([body]))
    account = estate.storage_accounts[id_key(body["id"])]
    assert isinstance(account, StorageAccount)
    assert account.network_acls.effective_default_action == "Allow"
    assert account.network_acls.bypass == ["AzureServices"]


def test_aks_compute_uses_managed_cluster_network_profile() -> None:
    compute = _body("machinelearningservices-2024-04-01-Compute__get__AKSCompute.json")
    cluster = _body("containerservice-2024-07-01-ManagedClustersGet.json")
    cluster["id"] = compute["properties"]["resourceId"].upper()  # ids compare case-insensitively
    estate = build_estate(_snapshot([compute, cluster]))
    (aks,) = estate.computes
    assert isinstance(aks.managed_cluster, ManagedCluster)
    assert aks.aks_networking is not None and aks.aks_networking.source == "managed cluster networkProfile"
    assert (aks.aks_networking.service_cidr, aks.aks_networking.dns_service_ip) == ("10.0.0.0/16", "10.0.0.10")
    assert aks.aks_networking.subnet_id is None  # kubenet sample: no customer VNet
    assert isinstance(aks.workspace, Gap)


def test_aml_compute_placeholder_subnet_is_a_gap() -> None:
    estate = build_estate(_snapshot([_body("machinelearningservices-2024-04-01-Compute__get__AmlCompute.json")]))
    (compute,) = estate.computes
    assert compute.is_experimentation
    assert isinstance(compute.subnet, Gap) and "not an ARM resource id" in compute.subnet.reason


def test_missing_vnet_gap_carries_collection_error(builder: EstateBuilder) -> None:
    vnet = builder.vnet()
    subnet = builder.subnet(vnet, "snet-train", "10.0.1.0/24")
    ws = builder.workspace(storage=builder.storage_account(), key_vault=builder.key_vault())
    builder.aml_compute(ws, "cpu-cluster", subnet)
    builder.drop(vnet)
    builder.collection_error(f"/subscriptions/{vnet['id'].split('/')[2]}/providers/Microsoft.Network/virtualNetworks", status=403)
    estate = builder.estate()
    (compute,) = estate.computes
    assert isinstance(compute.subnet, Gap)
    assert "403" in compute.subnet.reason and compute.subnet.status == 403


def test_relations_follow_lower_cased_ids(builder: EstateBuilder) -> None:
    vnet = builder.vnet()
    nsg = builder.nsg()
    subnet = builder.subnet(vnet, "snet-train", "10.0.1.0/24", nsg=nsg)
    subnet["properties"]["networkSecurityGroup"]["id"] = nsg["id"].lower()
    st = builder.storage_account()
    ws = builder.workspace(storage=st, key_vault=builder.key_vault())
    ws["properties"]["storageAccount"] = st["id"].lower().replace("resourcegroups", "resourcegroups")
    builder.aml_compute(ws, "cpu", subnet["id"].upper())
    estate = builder.estate()
    (compute,) = estate.computes
    assert isinstance(compute.subnet, Subnet) and isinstance(compute.subnet.nsg, NetworkSecurityGroup)
    assert isinstance(estate.workspaces[0].storage_account, StorageAccount)
    assert compute.workspace is estate.workspaces[0]


def test_vm_compute_reaches_nic_subnet_and_private_ip(builder: EstateBuilder) -> None:
    vnet = builder.vnet()
    subnet = builder.subnet(vnet, "snet-dsvm", "10.0.3.0/24")
    nic_nsg = builder.nsg("nsg-dsvm-nic")
    vm = builder.vm("dsvm01", builder.nic("dsvm01-nic", subnet, "10.0.3.4", nsg=nic_nsg))
    ws = builder.workspace()
    builder.vm_compute(ws, "dsvm", vm)
    (compute,) = builder.estate().computes
    assert compute.kind == "VirtualMachine" and compute.is_experimentation
    assert isinstance(compute.subnet, Subnet) and compute.subnet.name == "snet-dsvm"
    assert compute.private_ip == "10.0.3.4"
    assert isinstance(compute.nic.nsg, NetworkSecurityGroup)


def test_peered_address_space_counts_as_virtual_network(builder: EstateBuilder) -> None:
    hub = builder.vnet("vnet-hub", ["10.100.0.0/16"])
    spoke = builder.vnet("vnet-spoke", ["10.0.0.0/16"])
    spoke["properties"]["virtualNetworkPeerings"] = [
        {"name": "to-hub", "properties": {"peeringState": "Connected", "remoteVirtualNetwork": {"id": hub["id"]},
                                          "remoteAddressSpace": {"addressPrefixes": ["10.100.0.0/16"]}}},
        {"name": "stale", "properties": {"peeringState": "Disconnected", "remoteVirtualNetwork": {"id": "/subscriptions/x/resourceGroups/y/providers/Microsoft.Network/virtualNetworks/z"},
                                         "remoteAddressSpace": {"addressPrefixes": ["10.200.0.0/16"]}}},
    ]
    estate = builder.estate()
    assert estate.vnets[id_key(spoke["id"])].peered_address_prefixes == ["10.100.0.0/16"]


def test_compute_list_error_marks_workspace(builder: EstateBuilder) -> None:
    ws = builder.workspace()
    builder.collection_error(ws["id"] + "/computes", status=500, code="InternalServerError")
    (workspace,) = builder.estate().workspaces
    assert workspace.computes_gap is not None and workspace.computes_gap.status == 500
