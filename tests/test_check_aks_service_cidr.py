from amlaudit.checks.aks import aks_service_cidr
from tests.aks_helpers import aks_in_vnet, networking_config, real_kubenet_cluster
from tests.estates import EstateBuilder


def _verdicts(b: EstateBuilder):
    return {v.resource_id: v for v in aks_service_cidr(b.estate())}


def test_pass_when_service_cidr_outside_every_subnet(builder: EstateBuilder) -> None:
    aks = aks_in_vnet(builder, service_cidr="10.2.0.0/16")
    v = _verdicts(builder)[aks.compute["id"]]
    assert v.status == "pass"
    assert v.evidence["overlapping_subnets"] == [] and v.evidence["subnets_compared"] == 2


def test_fail_when_service_cidr_covers_subnets(builder: EstateBuilder) -> None:
    aks = aks_in_vnet(builder, service_cidr="10.0.0.0/16", dns_service_ip="10.0.0.10")
    v = _verdicts(builder)[aks.compute["id"]]
    assert v.status == "fail"
    assert {h["prefix"] for h in v.evidence["overlapping_subnets"]} == {"10.0.1.0/24", "10.0.4.0/22"}


def test_fail_when_service_cidr_inside_a_subnet(builder: EstateBuilder) -> None:
    aks = aks_in_vnet(builder, service_cidr="10.0.5.0/28", dns_service_ip="10.0.5.10")
    v = _verdicts(builder)[aks.compute["id"]]
    assert v.status == "fail"
    assert [h["subnet_id"] for h in v.evidence["overlapping_subnets"]] == [aks.aks_subnet["id"]]


def test_second_prefix_of_plural_addressprefixes_counts(builder: EstateBuilder) -> None:
    aks = aks_in_vnet(builder, service_cidr="10.2.0.0/16")
    builder.subnet(aks.vnet, "snet-dual", ["10.0.8.0/24", "10.2.200.0/24", "fd00:db8::/64"])
    v = _verdicts(builder)[aks.compute["id"]]
    assert v.status == "fail"
    assert v.evidence["overlapping_subnets"] == [{"subnet_id": aks.vnet["id"] + "/subnets/snet-dual", "prefix": "10.2.200.0/24"}]


def test_adjacent_ranges_do_not_overlap(builder: EstateBuilder) -> None:
    aks = aks_in_vnet(builder, service_cidr="10.0.0.0/24", dns_service_ip="10.0.0.10")  # next to 10.0.1.0/24
    assert _verdicts(builder)[aks.compute["id"]].status == "pass"


def test_networking_configuration_of_compute_used(builder: EstateBuilder) -> None:
    aks = aks_in_vnet(builder, service_cidr="10.2.0.0/16")
    aks.compute["properties"]["properties"]["aksNetworkingConfiguration"] = networking_config(
        aks.aks_subnet["id"].lower(), service_cidr="10.0.4.0/24", dns_service_ip="10.0.4.10")
    v = _verdicts(builder)[aks.compute["id"]]
    assert v.status == "fail"
    assert v.evidence["networking_source"] == "compute aksNetworkingConfiguration"


def test_not_applicable_when_cluster_not_in_customer_vnet(builder: EstateBuilder) -> None:
    compute = real_kubenet_cluster(builder)
    assert _verdicts(builder)[compute["id"]].status == "not_applicable"


def test_error_on_malformed_service_cidr(builder: EstateBuilder) -> None:
    aks = aks_in_vnet(builder, service_cidr="10.2.0.0/40")
    v = _verdicts(builder)[aks.compute["id"]]
    assert v.status == "error" and "10.2.0.0/40" in v.message


def test_error_when_service_cidr_missing(builder: EstateBuilder) -> None:
    aks = aks_in_vnet(builder)
    del aks.cluster["properties"]["networkProfile"]["serviceCidr"]
    assert _verdicts(builder)[aks.compute["id"]].status == "error"


def test_error_when_a_subnet_prefix_is_unreadable(builder: EstateBuilder) -> None:
    aks = aks_in_vnet(builder)
    builder.subnet(aks.vnet, "snet-odd", "not-a-prefix")
    v = _verdicts(builder)[aks.compute["id"]]
    assert v.status == "error" and "not-a-prefix" in v.message


def test_fail_wins_over_an_unreadable_prefix(builder: EstateBuilder) -> None:
    aks = aks_in_vnet(builder, service_cidr="10.0.0.0/16", dns_service_ip="10.0.0.10")
    builder.subnet(aks.vnet, "snet-odd", "not-a-prefix")
    v = _verdicts(builder)[aks.compute["id"]]
    assert v.status == "fail" and v.evidence["unknown"]


def test_error_when_agent_subnet_missing(builder: EstateBuilder) -> None:
    aks = aks_in_vnet(builder)
    aks.cluster["properties"]["agentPoolProfiles"][0]["vnetSubnetID"] = aks.vnet["id"] + "/subnets/snet-gone"
    v = _verdicts(builder)[aks.compute["id"]]
    assert v.status == "error" and "no such subnet" in v.message
