from amlaudit.checks.aks import aks_docker_bridge
from tests.aks_helpers import aks_in_vnet, networking_config, real_kubenet_cluster
from tests.estates import EstateBuilder


def _verdicts(b: EstateBuilder):
    return {v.resource_id: v for v in aks_docker_bridge(b.estate())}


def test_pass_when_bridge_clear_of_subnets_and_services(builder: EstateBuilder) -> None:
    aks = aks_in_vnet(builder, docker_bridge_cidr="172.17.0.1/16")
    v = _verdicts(builder)[aks.compute["id"]]
    assert v.status == "pass"
    assert v.evidence["bridge_network"] == "172.17.0.0/16"
    assert v.evidence["overlaps_service_cidr"] is False and v.evidence["subnets_compared"] is True


def test_fail_when_bridge_overlaps_a_subnet(builder: EstateBuilder) -> None:
    aks = aks_in_vnet(builder, docker_bridge_cidr="10.0.1.1/28")
    v = _verdicts(builder)[aks.compute["id"]]
    assert v.status == "fail"
    assert v.evidence["overlapping_subnets"] == [{"subnet_id": aks.vnet["id"] + "/subnets/snet-train", "prefix": "10.0.1.0/24"}]


def test_fail_when_bridge_overlaps_service_cidr(builder: EstateBuilder) -> None:
    aks = aks_in_vnet(builder, service_cidr="172.16.0.0/12", dns_service_ip="172.16.0.10",
                      docker_bridge_cidr="172.17.0.1/16")
    v = _verdicts(builder)[aks.compute["id"]]
    assert v.status == "fail"
    assert v.evidence["overlaps_service_cidr"] is True and "service CIDR 172.16.0.0/12" in v.message


def test_not_applicable_without_docker_bridge(builder: EstateBuilder) -> None:
    aks = aks_in_vnet(builder, docker_bridge_cidr=None)
    v = _verdicts(builder)[aks.compute["id"]]
    assert v.status == "not_applicable" and "dockerBridgeCidr" in v.message


def test_cluster_outside_customer_vnet_compared_with_service_cidr_only(builder: EstateBuilder) -> None:
    compute = real_kubenet_cluster(builder)  # serviceCidr 10.0.0.0/16
    (cluster,) = [r for r in builder.resources if r["type"] == "Microsoft.ContainerService/ManagedClusters"]
    cluster["properties"]["networkProfile"]["dockerBridgeCidr"] = "10.0.0.1/16"
    v = _verdicts(builder)[compute["id"]]
    assert v.status == "fail" and v.evidence["subnets_compared"] is False
    cluster["properties"]["networkProfile"]["dockerBridgeCidr"] = "172.17.0.1/16"
    v = _verdicts(builder)[compute["id"]]
    assert v.status == "pass" and "no subnet was compared" in v.message


def test_compute_configuration_used(builder: EstateBuilder) -> None:
    aks = aks_in_vnet(builder)
    aks.compute["properties"]["properties"]["aksNetworkingConfiguration"] = networking_config(
        aks.aks_subnet["id"], docker_bridge_cidr="10.0.4.1/24")
    v = _verdicts(builder)[aks.compute["id"]]
    assert v.status == "fail" and v.evidence["networking_source"] == "compute aksNetworkingConfiguration"


def test_error_on_malformed_bridge(builder: EstateBuilder) -> None:
    aks = aks_in_vnet(builder, docker_bridge_cidr="172.17.0.1/")
    assert _verdicts(builder)[aks.compute["id"]].status == "error"


def test_error_when_vnet_unreadable_and_service_cidr_clear(builder: EstateBuilder) -> None:
    aks = aks_in_vnet(builder)
    builder.drop(aks.vnet)
    builder.collection_error(aks.vnet["id"], status=403)
    v = _verdicts(builder)[aks.compute["id"]]
    assert v.status == "error" and "403" in v.message


def test_fail_when_vnet_unreadable_but_service_cidr_overlaps(builder: EstateBuilder) -> None:
    aks = aks_in_vnet(builder, service_cidr="172.17.0.0/16", dns_service_ip="172.17.0.10")
    builder.drop(aks.vnet)
    v = _verdicts(builder)[aks.compute["id"]]
    assert v.status == "fail" and v.evidence["unknown"]


def test_error_when_service_cidr_missing(builder: EstateBuilder) -> None:
    aks = aks_in_vnet(builder)
    del aks.cluster["properties"]["networkProfile"]["serviceCidr"]
    v = _verdicts(builder)[aks.compute["id"]]
    assert v.status == "error" and "serviceCidr" in v.message


def test_error_when_managed_cluster_has_no_network_profile(builder: EstateBuilder) -> None:
    aks = aks_in_vnet(builder)
    del aks.cluster["properties"]["networkProfile"]
    v = _verdicts(builder)[aks.compute["id"]]
    assert v.status == "error" and "networkProfile" in v.message
