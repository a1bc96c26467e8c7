from amlaudit.checks.aks import aks_vnet_location
from tests.aks_helpers import aks_in_vnet, networking_config, real_kubenet_cluster
from tests.estates import EstateBuilder


def _verdicts(b: EstateBuilder):
    return {v.resource_id: v for v in aks_vnet_location(b.estate())}


def test_pass_when_cluster_and_vnet_share_region(builder: EstateBuilder) -> None:
    aks = aks_in_vnet(builder, cluster_location="East US", vnet_location="eastus")
    v = _verdicts(builder)[aks.compute["id"]]
    assert v.status == "pass"
    assert v.evidence["cluster_location"] == v.evidence["vnet_location"] == "eastus"
    assert v.evidence["networking_source"] == "managed cluster networkProfile"


def test_fail_when_regions_differ(builder: EstateBuilder) -> None:
    aks = aks_in_vnet(builder, cluster_location="westus2")
    v = _verdicts(builder)[aks.compute["id"]]
    assert v.status == "fail"
    assert v.evidence["cluster_location"] == "westus2" and v.evidence["vnet_location"] == "eastus"


def test_compute_networking_configuration_wins(builder: EstateBuilder) -> None:
    aks = aks_in_vnet(builder)
    other = builder.vnet("vnet-west", ["10.9.0.0/16"], location="westus")
    west_subnet = builder.subnet(other, "snet-aks", "10.9.0.0/22")
    aks.compute["properties"]["properties"]["aksNetworkingConfiguration"] = networking_config(west_subnet["id"].lower())
    v = _verdicts(builder)[aks.compute["id"]]
    assert v.status == "fail"
    assert v.evidence["networking_source"] == "compute aksNetworkingConfiguration"
    assert v.evidence["vnet_id"] == other["id"]


def test_compute_location_used_when_no_managed_cluster_is_named(builder: EstateBuilder) -> None:
    vnet = builder.vnet()
    subnet = builder.subnet(vnet, "snet-aks", "10.0.4.0/22")
    compute = builder.aks_compute(builder.workspace(), "aks-new", None, networking=networking_config(subnet["id"]))
    compute["location"] = "westus"
    v = _verdicts(builder)[compute["id"]]
    assert v.status == "fail"
    assert "compute's location" in v.evidence["cluster_location_from"]


def test_not_applicable_when_cluster_not_in_customer_vnet(builder: EstateBuilder) -> None:
    compute = real_kubenet_cluster(builder)
    v = _verdicts(builder)[compute["id"]]
    assert v.status == "not_applicable"
    assert "vnetSubnetID" in v.message


def test_error_when_managed_cluster_unreadable(builder: EstateBuilder) -> None:
    aks = aks_in_vnet(builder)
    builder.drop(aks.cluster)
    builder.collection_error(aks.cluster["id"], status=403)
    v = _verdicts(builder)[aks.compute["id"]]
    assert v.status == "error" and "403" in v.message


def test_error_when_region_unknown_although_vnet_known(builder: EstateBuilder) -> None:
    aks = aks_in_vnet(builder)
    aks.compute["properties"]["properties"]["aksNetworkingConfiguration"] = networking_config(aks.aks_subnet["id"])
    builder.drop(aks.cluster)
    v = _verdicts(builder)[aks.compute["id"]]
    assert v.status == "error" and "managed cluster" in v.message


def test_error_when_configuration_names_no_subnet(builder: EstateBuilder) -> None:
    aks = aks_in_vnet(builder)
    config = networking_config(aks.aks_subnet["id"])
    del config["subnetId"]
    aks.compute["properties"]["properties"]["aksNetworkingConfiguration"] = config
    for pool in aks.cluster["properties"]["agentPoolProfiles"]:
        pool.pop("vnetSubnetID", None)
    assert _verdicts(builder)[aks.compute["id"]].status == "error"


def test_subnet_missing_from_configuration_comes_from_the_cluster(builder: EstateBuilder) -> None:
    aks = aks_in_vnet(builder)
    config = networking_config(aks.aks_subnet["id"])
    del config["subnetId"]
    aks.compute["properties"]["properties"]["aksNetworkingConfiguration"] = config
    assert _verdicts(builder)[aks.compute["id"]].status == "pass"


def test_error_when_vnet_unreadable(builder: EstateBuilder) -> None:
    aks = aks_in_vnet(builder)
    builder.drop(aks.vnet)
    builder.collection_error(aks.vnet["id"], status=403)
    v = _verdicts(builder)[aks.compute["id"]]
    assert v.status == "error" and "403" in v.message


def test_error_when_workspace_computes_unlisted(builder: EstateBuilder) -> None:
    ws = builder.workspace()
    builder.collection_error(ws["id"] + "/computes", status=403)
    assert _verdicts(builder)[ws["id"] + "/computes"].status == "error"


def test_error_when_managed_cluster_lists_no_agent_pools(builder: EstateBuilder) -> None:
    aks = aks_in_vnet(builder)
    del aks.cluster["properties"]["agentPoolProfiles"]
    v = _verdicts(builder)[aks.compute["id"]]
    assert v.status == "error" and "agentPoolProfiles" in v.message
