"""The six AKS checks (subject: AKS compute, always).

- aks-inbound-from-aml: inbound TCP 443 from every AzureMachineLearning tag prefix to the AKS subnet is allowed.
- aks-vnet-location: the AKS subnet's VNet is in the AKS cluster's region.
- aks-service-cidr: the service CIDR overlaps no subnet of the VNet.
- aks-dns-service-ip: the DNS service IP lies in the service CIDR and is neither its network address
  nor its first host address.
- aks-docker-bridge: the docker bridge CIDR overlaps neither a subnet of the VNet nor the service CIDR.
- aks-scoring-inbound: inbound TCP on the scoring port (443 when sslConfiguration.status is Enabled or
  Auto, else 80) to the AKS subnet is allowed from at least one public client.
Networking comes from the compute's aksNetworkingConfiguration; for an attached cluster without it,
from the managed cluster's networkProfile and its agent pool's vnetSubnetID.
"""

from __future__ import annotations

import pytest

from tests.acceptance.harness import expect, run
from tests.acceptance.scenarios import AKS_SUBNET, aks_scenario, inbound_allow
from tests.estates import security_rule

INBOUND = "aks-inbound-from-aml"
LOCATION = "aks-vnet-location"
SERVICE_CIDR = "aks-service-cidr"
DNS_IP = "aks-dns-service-ip"
DOCKER = "aks-docker-bridge"
SCORING = "aks-scoring-inbound"
ALL = (INBOUND, LOCATION, SERVICE_CIDR, DNS_IP, DOCKER, SCORING)

VIAS = ["config", "cluster"]


@pytest.mark.parametrize("via", VIAS)
def test_plain_pass(via: str) -> None:
    s = aks_scenario(via=via)
    expect(run(s.builder), {(check, s.compute_id): "pass" for check in ALL})


# -- aks-inbound-from-aml --------------------------------------------------------------------

INBOUND_CASES = {
    "aml-tag": ([inbound_allow("A", 100, "AzureMachineLearning", "443")], "pass"),
    "aml-regional-tag": ([inbound_allow("A", 100, "AzureMachineLearning.EastUS", "443")], "pass"),
    "aml-other-region-tag": ([inbound_allow("A", 100, "AzureMachineLearning.WestUS2", "443")], "fail"),
    "default-rules-only": ([], "fail"),
    "aml-port-80": ([inbound_allow("A", 100, "AzureMachineLearning", "80")], "fail"),
    "aml-udp": ([inbound_allow("A", 100, "AzureMachineLearning", "443", "Udp")], "fail"),
    "from-Internet": ([inbound_allow("A", 100, "Internet", "443")], "pass"),
    "deny-internet-above": ([security_rule("DenyInternet", 90, "Inbound", "Deny", "*", "Internet", "*", "*"),
                             inbound_allow("A", 100, "AzureMachineLearning", "443")], "fail"),
    "to-half-the-subnet": ([inbound_allow("A", 100, "AzureMachineLearning", "443", destination="10.0.4.0/23")], "fail"),
    "to-the-subnet": ([inbound_allow("A", 100, "AzureMachineLearning", "443", destination=AKS_SUBNET)], "pass"),
}


@pytest.mark.parametrize("via", VIAS)
@pytest.mark.parametrize(("rules", "status"), list(INBOUND_CASES.values()), ids=list(INBOUND_CASES))
def test_inbound_from_aml(rules: list[dict], status: str, via: str) -> None:
    s = aks_scenario(rules=rules, via=via)
    expect(run(s.builder), {(INBOUND, s.compute_id): status})


def test_no_nsg_allows_everything() -> None:
    s = aks_scenario(with_nsg=False)
    expect(run(s.builder), {(INBOUND, s.compute_id): "pass", (SCORING, s.compute_id): "pass"})


@pytest.mark.parametrize("how", ["absent", "403"])
def test_nsg_unreadable_is_an_error(how: str) -> None:
    s = aks_scenario()
    assert s.nsg is not None
    s.builder.drop(s.nsg)
    if how == "403":
        s.builder.collection_error(s.nsg["id"])
    expect(run(s.builder), {(INBOUND, s.compute_id): "error", (SCORING, s.compute_id): "error"})


def test_service_tags_absent_is_an_error() -> None:
    s = aks_scenario(tags=None)
    s.builder.service_tags = None
    expect(run(s.builder), {(INBOUND, s.compute_id): "error", (SCORING, s.compute_id): "error"})


# -- aks-vnet-location -----------------------------------------------------------------------


@pytest.mark.parametrize("via", VIAS)
def test_cluster_in_another_region_than_its_vnet_fails(via: str) -> None:
    s = aks_scenario(via=via, cluster_location="westus2")
    expect(run(s.builder), {(LOCATION, s.compute_id): "fail"})


@pytest.mark.parametrize("via", VIAS)
def test_vnet_unreadable_is_an_error(via: str) -> None:
    s = aks_scenario(via=via)
    s.builder.drop(s.vnet)
    s.builder.collection_error(s.vnet["id"])
    expect(run(s.builder), {(check, s.compute_id): "error" for check in (LOCATION, SERVICE_CIDR, DOCKER, INBOUND, SCORING)})


def test_attached_cluster_unreadable_is_an_error() -> None:
    s = aks_scenario(via="cluster")
    s.builder.drop(s.cluster)
    s.builder.collection_error(s.cluster["id"])
    expect(run(s.builder), {(check, s.compute_id): "error" for check in ALL})


# -- aks-service-cidr ------------------------------------------------------------------------


@pytest.mark.parametrize("via", VIAS)
@pytest.mark.parametrize(("service_cidr", "dns_ip", "status"), [
    ("10.2.0.0/16", "10.2.0.10", "pass"),
    ("10.0.0.0/16", "10.0.0.10", "fail"),          # the document's example value, on a 10.0.0.0/16 VNet
    ("10.0.4.0/24", "10.0.4.10", "fail"),          # inside the AKS subnet itself
    ("10.0.0.0/8", "10.0.0.10", "fail"),           # contains every subnet
    ("10.0.128.0/20", "10.0.128.10", "pass"),      # in the VNet's space but in no subnet: the row names subnets
])
def test_service_cidr(service_cidr: str, dns_ip: str, status: str, via: str) -> None:
    s = aks_scenario(via=via, service_cidr=service_cidr, dns_service_ip=dns_ip)
    expect(run(s.builder), {(SERVICE_CIDR, s.compute_id): status})


@pytest.mark.parametrize(("second_prefix", "status"), [("10.5.130.0/24", "fail"), ("10.5.0.0/24", "pass")])
def test_service_cidr_against_a_subnet_listed_by_address_prefixes(second_prefix: str, status: str) -> None:
    s = aks_scenario(vnet_prefixes=["10.0.0.0/16", "10.5.0.0/16"], service_cidr="10.5.128.0/20", dns_service_ip="10.5.128.10")
    s.builder.subnet(s.vnet, "data", ["10.0.8.0/24", second_prefix])
    expect(run(s.builder), {(SERVICE_CIDR, s.compute_id): status})


def test_compute_configuration_wins_over_the_cluster_profile() -> None:
    # aksNetworkingConfiguration says 10.2.0.0/16; the managed cluster's profile says 10.0.0.0/16 (overlapping).
    s = aks_scenario(via="config")
    s.cluster["properties"]["networkProfile"].update({"serviceCidr": "10.0.0.0/16", "dnsServiceIP": "10.0.0.1",
                                                      "dockerBridgeCidr": "10.0.4.0/24"})
    expect(run(s.builder), {(SERVICE_CIDR, s.compute_id): "pass", (DNS_IP, s.compute_id): "pass",
                            (DOCKER, s.compute_id): "pass"})


def test_attached_cluster_profile_is_used() -> None:
    s = aks_scenario(via="cluster", service_cidr="10.0.4.0/24", dns_service_ip="10.0.4.10")
    assert "aksNetworkingConfiguration" not in s.compute["properties"]["properties"]
    expect(run(s.builder), {(SERVICE_CIDR, s.compute_id): "fail"})


# -- aks-dns-service-ip ----------------------------------------------------------------------


@pytest.mark.parametrize("via", VIAS)
@pytest.mark.parametrize(("dns_ip", "status"), [
    ("10.2.0.10", "pass"),
    ("10.2.0.2", "pass"),
    ("10.2.0.0", "fail"),        # network address
    ("10.2.0.1", "fail"),        # first host address
    ("10.3.0.10", "fail"),       # outside the service CIDR
    ("10.2.255.254", "pass"),
])
def test_dns_service_ip(dns_ip: str, status: str, via: str) -> None:
    s = aks_scenario(via=via, dns_service_ip=dns_ip)
    expect(run(s.builder), {(DNS_IP, s.compute_id): status})


def test_dns_service_ip_in_a_small_service_cidr() -> None:
    s = aks_scenario(service_cidr="10.2.0.16/28", dns_service_ip="10.2.0.17")  # 10.2.0.17 is the first host of .16/28
    expect(run(s.builder), {(DNS_IP, s.compute_id): "fail"})


def test_dns_service_ip_missing_is_an_error() -> None:
    s = aks_scenario(via="cluster")
    del s.cluster["properties"]["networkProfile"]["dnsServiceIP"]
    expect(run(s.builder), {(DNS_IP, s.compute_id): "error"})


# -- aks-docker-bridge -----------------------------------------------------------------------


@pytest.mark.parametrize("via", VIAS)
@pytest.mark.parametrize(("docker", "service_cidr", "dns_ip", "extra_subnet", "status"), [
    ("172.17.0.1/16", "10.2.0.0/16", "10.2.0.10", None, "pass"),
    ("172.17.0.1/16", "10.2.0.0/16", "10.2.0.10", "172.17.5.0/24", "fail"),    # host bits set; network 172.17.0.0/16
    ("172.17.0.1/16", "172.17.0.0/16", "172.17.0.10", None, "fail"),           # overlaps the service CIDR
    ("172.17.0.1/16", "172.16.0.0/12", "172.16.0.10", None, "fail"),           # inside a wider service CIDR
    ("172.17.0.1/16", "10.2.0.0/16", "10.2.0.10", "172.18.0.0/24", "pass"),
    ("10.0.4.1/24", "10.2.0.0/16", "10.2.0.10", None, "fail"),                 # inside the AKS subnet
])
def test_docker_bridge(docker: str, service_cidr: str, dns_ip: str, extra_subnet: str | None, status: str, via: str) -> None:
    s = aks_scenario(via=via, docker_bridge_cidr=docker, service_cidr=service_cidr, dns_service_ip=dns_ip,
                     vnet_prefixes=["10.0.0.0/16", "172.17.0.0/16", "172.18.0.0/16"])
    if extra_subnet is not None:
        s.builder.subnet(s.vnet, "extra", extra_subnet)
    expect(run(s.builder), {(DOCKER, s.compute_id): status})


# -- aks-scoring-inbound ---------------------------------------------------------------------

AML_443 = inbound_allow("AllowAzureMachineLearning", 100, "AzureMachineLearning", "443")

SCORING_CASES = {
    "enabled-443-from-internet": ("Enabled", [AML_443, inbound_allow("S", 110, "Internet", "443")], "pass"),
    "auto-443-from-internet": ("Auto", [AML_443, inbound_allow("S", 110, "Internet", "443")], "pass"),
    "disabled-443-only": ("Disabled", [AML_443, inbound_allow("S", 110, "Internet", "443")], "fail"),
    "disabled-80-from-internet": ("Disabled", [AML_443, inbound_allow("S", 110, "Internet", "80")], "pass"),
    "enabled-80-only": ("Enabled", [AML_443, inbound_allow("S", 110, "Internet", "80")], "fail"),
    "enabled-aml-only": ("Enabled", [AML_443], "fail"),
    "enabled-batch-only": ("Enabled", [AML_443, inbound_allow("S", 110, "BatchNodeManagement", "443")], "fail"),
    "enabled-vnet-only": ("Enabled", [AML_443, inbound_allow("S", 110, "VirtualNetwork", "443")], "fail"),
    "enabled-one-public-ip": ("Enabled", [AML_443, inbound_allow("S", 110, "84.17.32.5/32", "443")], "pass"),
    "enabled-udp-only": ("Enabled", [AML_443, inbound_allow("S", 110, "Internet", "443", "Udp")], "fail"),
    "enabled-to-another-subnet": ("Enabled", [AML_443, inbound_allow("S", 110, "Internet", "443", destination="10.0.9.0/24")],
                                  "fail"),
}


@pytest.mark.parametrize(("ssl", "rules", "status"), list(SCORING_CASES.values()), ids=list(SCORING_CASES))
def test_scoring_inbound(ssl: str, rules: list[dict], status: str) -> None:
    s = aks_scenario(rules=rules, ssl_status=ssl)
    expect(run(s.builder), {(SCORING, s.compute_id): status})


def test_scoring_port_open_to_one_address_of_the_subnet_only() -> None:
    # "allowed" is the NSG decision for every address of the flow (public client -> AKS subnet, TCP 443).
    # Arguable: a scoring endpoint is one load-balancer address, so the document's intent may be met.
    s = aks_scenario(rules=[AML_443, inbound_allow("S", 110, "Internet", "443", destination="10.0.4.4")])
    expect(run(s.builder), {(SCORING, s.compute_id): "fail"})


@pytest.mark.parametrize(("port", "status"), [("80", "pass"), ("443", "fail")])
def test_scoring_port_without_ssl_configuration_is_80(port: str, status: str) -> None:
    # "443 when sslConfiguration.status is Enabled or Auto, else 80".
    s = aks_scenario(rules=[AML_443, inbound_allow("S", 110, "Internet", port)])
    del s.compute["properties"]["properties"]["sslConfiguration"]
    expect(run(s.builder), {(SCORING, s.compute_id): status})


def test_cluster_without_docker_bridge() -> None:
    # AKS API 2024-07-01 no longer returns dockerBridgeCidr (see ManagedClustersGet): nothing can overlap.
    # The row has no "applies when", so vacuous "pass" is the literal verdict; "not applicable" is fair too.
    s = aks_scenario(via="cluster", docker_bridge_cidr=None)
    expect(run(s.builder), {(DOCKER, s.compute_id): {"pass", "not_applicable"}, (SERVICE_CIDR, s.compute_id): "pass"})


def test_service_cidr_overlapping_a_subnet_of_another_vnet_passes() -> None:
    s = aks_scenario()
    elsewhere = s.builder.vnet("vnet-elsewhere", prefixes=["10.2.0.0/16"])
    s.builder.subnet(elsewhere, "apps", "10.2.0.0/24")
    expect(run(s.builder), {(SERVICE_CIDR, s.compute_id): "pass"})


@pytest.mark.parametrize(("source", "status"), [("AzureMachineLearning.EastUS", "fail"),
                                                ("AzureMachineLearning.WestUS2", "pass")])
def test_region_is_the_vnet_region_not_the_workspace_region(source: str, status: str) -> None:
    # Workspace in eastus; the cluster and its VNet in westus2: AzureMachineLearning.WestUS2 applies.
    s = aks_scenario(rules=[inbound_allow("A", 100, source, "443")], cluster_location="westus2")
    s.vnet["location"] = "westus2"
    expect(run(s.builder), {(INBOUND, s.compute_id): status, (LOCATION, s.compute_id): "pass"})
