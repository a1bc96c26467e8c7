import pytest

from amlaudit.checks.aks import aks_dns_service_ip
from tests.aks_helpers import aks_in_vnet, networking_config, real_aks_compute_and_cluster, real_kubenet_cluster
from tests.estates import EstateBuilder


def _verdicts(b: EstateBuilder):
    return {v.resource_id: v for v in aks_dns_service_ip(b.estate())}


@pytest.mark.parametrize(("service_cidr", "dns"), [
    ("10.2.0.0/16", "10.2.0.10"),
    ("10.2.0.0/16", "10.2.255.255"),
    ("10.2.0.0/24", "10.2.0.2"),
])
def test_pass_inside_range_past_first_two_addresses(builder: EstateBuilder, service_cidr: str, dns: str) -> None:
    aks = aks_in_vnet(builder, service_cidr=service_cidr, dns_service_ip=dns)
    v = _verdicts(builder)[aks.compute["id"]]
    assert v.status == "pass"
    assert v.evidence["service_network"] == service_cidr


@pytest.mark.parametrize(("service_cidr", "dns", "why"), [
    ("10.2.0.0/16", "10.2.0.0", "network address"),
    ("10.2.0.0/16", "10.2.0.1", "first host address"),
    ("10.2.0.0/16", "10.3.0.10", "outside"),
    ("10.2.0.0/16", "fd00::10", "outside"),
    ("10.2.0.5/16", "10.2.0.1", "first host address"),  # host bits in the CIDR: the range is still 10.2.0.0/16
])
def test_fail(builder: EstateBuilder, service_cidr: str, dns: str, why: str) -> None:
    aks = aks_in_vnet(builder, service_cidr=service_cidr, dns_service_ip=dns)
    v = _verdicts(builder)[aks.compute["id"]]
    assert v.status == "fail"
    assert why in v.message


def test_judged_for_cluster_outside_customer_vnet(builder: EstateBuilder) -> None:
    compute = real_kubenet_cluster(builder)  # serviceCidr 10.0.0.0/16, dnsServiceIP 10.0.0.10
    v = _verdicts(builder)[compute["id"]]
    assert v.status == "pass"
    assert v.evidence["dns_service_ip"] == "10.0.0.10"


def test_compute_configuration_used(builder: EstateBuilder) -> None:
    aks = aks_in_vnet(builder)
    aks.compute["properties"]["properties"]["aksNetworkingConfiguration"] = networking_config(
        aks.aks_subnet["id"], service_cidr="10.3.0.0/16", dns_service_ip="10.3.0.1")
    assert _verdicts(builder)[aks.compute["id"]].status == "fail"


def test_error_on_malformed_address(builder: EstateBuilder) -> None:
    aks = aks_in_vnet(builder, dns_service_ip="10.2.0.300")
    v = _verdicts(builder)[aks.compute["id"]]
    assert v.status == "error" and "10.2.0.300" in v.message


def test_error_when_dns_service_ip_missing(builder: EstateBuilder) -> None:
    aks = aks_in_vnet(builder)
    del aks.cluster["properties"]["networkProfile"]["dnsServiceIP"]
    v = _verdicts(builder)[aks.compute["id"]]
    assert v.status == "error" and "dnsServiceIP" in v.message


def test_error_when_networking_unknown(builder: EstateBuilder) -> None:
    aks = aks_in_vnet(builder)
    builder.drop(aks.cluster)
    builder.collection_error(aks.cluster["id"], status=403)
    assert _verdicts(builder)[aks.compute["id"]].status == "error"


def test_error_when_compute_names_neither_configuration_nor_cluster(builder: EstateBuilder) -> None:
    compute = builder.aks_compute(builder.workspace(), "aks-broken", None)
    v = _verdicts(builder)[compute["id"]]
    assert v.status == "error" and "aksNetworkingConfiguration" in v.message


def test_real_samples_joined(builder: EstateBuilder) -> None:
    compute, cluster = real_aks_compute_and_cluster(builder)
    v = _verdicts(builder)[compute["id"]]
    assert v.status == "pass"
    assert v.evidence["networking_source"] == "managed cluster networkProfile"
    cluster["properties"]["networkProfile"]["dnsServiceIP"] = "10.0.0.1"
    assert _verdicts(builder)[compute["id"]].status == "fail"
