"""Who is a "public client": compute-remote-login and aks-scoring-inbound, plus aks-inbound-from-aml.

- public clients: globally reachable addresses (the IANA registries' column that Python's ipaddress
  is_global follows) outside the VNet's own networks (its space, peered VNets' spaces, on-premises
  spaces of its site-to-site connections) and outside every prefix of the global
  AzureMachineLearning and BatchNodeManagement tags.
- compute-remote-login (AmlCompute; applies when the compute subnet has an NSG): TCP 22 is not allowed
  inbound from any public client, unless remoteLoginPortPublicAccess is Enabled.
- aks-scoring-inbound (AKS): inbound TCP on the scoring port (443 when sslConfiguration.status is
  Enabled or Auto, else 80) to the AKS subnet is allowed from at least one public client.
- aks-inbound-from-aml (AKS): inbound TCP 443 from every AzureMachineLearning tag prefix to the AKS
  subnet is allowed.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from tests.acceptance.harness import expect, run
from tests.acceptance.scenarios import aks_scenario, aml_scenario, batch_allow_rule
from tests.acceptance2.kit import (
    allow_in,
    cidrs,
    deny_in,
    ipv4,
    ipv6,
    make_dual_stack,
    overlaps,
    peer,
    set_subnet_prefixes,
    tag,
)

REMOTE_LOGIN = "compute-remote-login"
SCORING = "aks-scoring-inbound"
AML_INBOUND = "aks-inbound-from-aml"

AML_GLOBAL = tag("AzureMachineLearning")
BATCH_GLOBAL = tag("BatchNodeManagement")
SERVICE = AML_GLOBAL + BATCH_GLOBAL
STORAGE_EASTUS = tag("Storage.EastUS")
AML_EASTUS = tag("AzureMachineLearning.EastUS")
# Storage addresses are neither AzureMachineLearning nor BatchNodeManagement: they are public clients.
assert not overlaps(STORAGE_EASTUS, SERVICE)
# 168.63.129.0/24 holds the platform address and 255 addresses that are plain Internet.
assert not overlaps([ipaddress.ip_network("168.63.129.0/24")], SERVICE)


def ssh(source: str | list[str], priority: int = 100, **kwargs: Any) -> dict[str, Any]:
    return allow_in(f"AllowSsh{priority}", priority, source, kwargs.pop("ports", "22"), **kwargs)


REMOTE_LOGIN_CASES: dict[str, tuple[list[dict[str, Any]], str]] = {
    "from-global-aml-ipv4-prefixes": ([ssh(cidrs(ipv4(AML_GLOBAL)))], "pass"),
    "from-global-aml-and-batch-prefixes": ([ssh(cidrs(ipv4(AML_GLOBAL))), ssh(cidrs(ipv4(BATCH_GLOBAL)), 110)], "pass"),
    "from-regional-aml-tag": ([ssh("AzureMachineLearning.EastUS")], "pass"),
    "from-storage-tag": ([ssh("Storage.EastUS")], "fail"),
    "from-platform-address": ([ssh("168.63.129.16/32")], "pass"),
    "from-platform-address-bare": ([ssh("168.63.129.16")], "pass"),
    "from-platform-slash-24": ([ssh("168.63.129.0/24")], "fail"),
    "from-aml-plus-one-public-ip": ([ssh(cidrs(ipv4(AML_GLOBAL))), ssh("81.2.69.20", 110)], "fail"),
    "ssh-in-plural-ports-from-internet": ([ssh("Internet", ports=["3389", "22"])], "fail"),
    "ssh-from-internet-high-source-ports-only": ([ssh("Internet", source_ports="1024-65535")], "fail"),
    "internet-denied-above-allow-all": ([deny_in("DenyInternetSsh", 90, "Internet", "22", "Tcp"), ssh("*")], "pass"),
    "internet-denied-except-udp": ([deny_in("DenyInternetTcp", 90, "Internet", "*", "Tcp"), ssh("*", protocol="*")], "pass"),
    "allow-all-ports-from-storage": ([allow_in("AllowStorageAll", 100, "Storage.EastUS", "*", "*")], "fail"),
    "ssh-allowed-to-another-subnet-only": ([ssh("Internet", destination="10.0.2.0/24")], "pass"),
}


@pytest.mark.parametrize(("rules", "status"), list(REMOTE_LOGIN_CASES.values()), ids=list(REMOTE_LOGIN_CASES))
def test_remote_login(rules: list[dict[str, Any]], status: str) -> None:
    s = aml_scenario(rules=[batch_allow_rule(200), *rules])
    expect(run(s.builder), {(REMOTE_LOGIN, s.compute_id): status})


# A VNet may use a globally routable range as its address space; such a peer's space is an own
# network, not public clients.
PEER_SPACE = "81.2.64.0/20"
assert not overlaps([ipaddress.ip_network(PEER_SPACE)], SERVICE)


@pytest.mark.parametrize(("peered", "status"), [(True, "pass"), (False, "fail")])
def test_remote_login_from_a_peered_range(peered: bool, status: str) -> None:
    # 81.2.64.0/20 is an own network (not a public client) only while it is a peered VNet's space.
    s = aml_scenario(rules=[batch_allow_rule(200), ssh(PEER_SPACE)])
    if peered:
        peer(s.vnet, "vnet-hub", [PEER_SPACE])
    expect(run(s.builder), {(REMOTE_LOGIN, s.compute_id): status})


@pytest.mark.parametrize(("dual_stack", "rules", "status"), [
    (True, [ssh("::/0")], "fail"),
    (True, [ssh(cidrs(ipv6(AML_GLOBAL))), ssh(cidrs(ipv6(BATCH_GLOBAL)), 110)], "pass"),
    # An IPv6-only allow cannot reach an IPv4-only subnet: no public client gets to TCP 22.
    (False, [ssh("::/0")], "pass"),
])
def test_remote_login_ipv6_sources(dual_stack: bool, rules: list[dict[str, Any]], status: str) -> None:
    s = aml_scenario(rules=[batch_allow_rule(200), *rules])
    if dual_stack:
        make_dual_stack(s.vnet, s.subnet)
    expect(run(s.builder), {(REMOTE_LOGIN, s.compute_id): status})


def test_remote_login_applies_without_node_public_ip() -> None:
    # The row has no exemption for enableNodePublicIp: false (that one is compute-batch-inbound's).
    s = aml_scenario(rules=[batch_allow_rule(200), ssh("Internet")], enable_node_public_ip=False)
    expect(run(s.builder), {(REMOTE_LOGIN, s.compute_id): "fail", ("compute-batch-inbound", s.compute_id): "not_applicable"})


# -- aks-scoring-inbound --------------------------------------------------------------------------------

AML_443 = allow_in("AllowAzureMachineLearning", 100, "AzureMachineLearning", "443")


def scoring(source: str | list[str], port: str = "443", priority: int = 110, **kwargs: Any) -> dict[str, Any]:
    return allow_in(f"AllowScoring{priority}", priority, source, port, **kwargs)


SCORING_CASES: dict[str, tuple[str, list[dict[str, Any]], str]] = {
    # (sslConfiguration.status, rules, verdict)
    "internet-denied-above": ("Enabled", [AML_443, deny_in("DenyInternet443", 105, "Internet", "443", "Tcp"),
                                          scoring("Internet")], "fail"),
    "one-public-ip-denied-above": ("Enabled", [AML_443, deny_in("DenyOne", 105, "81.2.69.20", "443", "Tcp"),
                                               scoring("Internet")], "pass"),
    "internet-denied-but-one-ip-allowed-first": ("Enabled", [AML_443, scoring("81.2.69.20", priority=104),
                                                             deny_in("DenyInternet443", 105, "Internet", "443", "Tcp")], "pass"),
    "from-storage-tag": ("Enabled", [AML_443, scoring("Storage.EastUS")], "pass"),
    "from-aml-and-batch-prefixes-only": ("Enabled", [scoring(cidrs(ipv4(AML_GLOBAL)), priority=100),
                                                     scoring(cidrs(ipv4(BATCH_GLOBAL)), priority=110)], "fail"),
    "from-aml-prefixes-plus-one-public-ip": ("Enabled", [scoring(cidrs(ipv4(AML_GLOBAL)), priority=100),
                                                         scoring("81.2.69.20/32", priority=110)], "pass"),
    "from-platform-address": ("Enabled", [AML_443, scoring("AzureLoadBalancer")], "fail"),
    # 192.168.0.0/16 is not globally reachable: no public client is among those allowed.
    "from-on-premises-range": ("Enabled", [AML_443, scoring("192.168.0.0/16")], "fail"),
    "from-shared-address-space": ("Enabled", [AML_443, scoring("100.64.0.0/10")], "fail"),
    "from-a-public-block": ("Enabled", [AML_443, scoring("84.17.32.0/24")], "pass"),
    "auto-port-80-only": ("Auto", [AML_443, scoring("Internet", "80")], "fail"),
    "any-source-to-the-subnet": ("Enabled", [scoring("*", destination="10.0.4.0/22")], "pass"),
}


@pytest.mark.parametrize(("ssl", "rules", "status"), list(SCORING_CASES.values()), ids=list(SCORING_CASES))
def test_scoring(ssl: str, rules: list[dict[str, Any]], status: str) -> None:
    s = aks_scenario(rules=rules, ssl_status=ssl)
    expect(run(s.builder), {(SCORING, s.compute_id): status})




@pytest.mark.parametrize(("port", "status"), [("80", "pass"), ("443", "fail")])
def test_scoring_port_when_ssl_configuration_has_no_status(port: str, status: str) -> None:
    # "443 when sslConfiguration.status is Enabled or Auto, else 80": no status is not Enabled or Auto.
    s = aks_scenario(rules=[AML_443, scoring("Internet", port)])
    s.compute["properties"]["properties"]["sslConfiguration"] = {"cert": "", "key": "", "cname": ""}
    expect(run(s.builder), {(SCORING, s.compute_id): status})


@pytest.mark.parametrize(("port", "status"), [("80", "pass"), ("443", "fail")])
def test_scoring_port_when_ssl_configuration_is_absent(port: str, status: str) -> None:
    # The contrast for the case above: with no sslConfiguration at all amlaudit reads port 80.
    s = aks_scenario(rules=[AML_443, scoring("Internet", port)])
    del s.compute["properties"]["properties"]["sslConfiguration"]
    expect(run(s.builder), {(SCORING, s.compute_id): status})


@pytest.mark.parametrize(("peered", "status"), [(True, "fail"), (False, "pass")])
def test_scoring_from_a_peered_range(peered: bool, status: str) -> None:
    s = aks_scenario(rules=[AML_443, scoring(PEER_SPACE)])
    if peered:
        peer(s.vnet, "vnet-hub", [PEER_SPACE])
    expect(run(s.builder), {(SCORING, s.compute_id): status})


# -- aks-inbound-from-aml: dual stack and split subnets ---------------------------------------------------


@pytest.mark.parametrize("via", ["config", "cluster"])
@pytest.mark.parametrize(("rules", "status"), [
    ([AML_443], "pass"),
    ([allow_in("AllowAmlV4", 100, cidrs(ipv4(AML_EASTUS)), "443")], "fail"),   # AzureMachineLearning.EastUS has an IPv6 prefix
    ([allow_in("AllowAmlV4", 100, cidrs(ipv4(AML_EASTUS)), "443"),
      allow_in("AllowAmlV6", 110, cidrs(ipv6(AML_EASTUS)), "443")], "pass"),
])
def test_aks_inbound_dual_stack(rules: list[dict[str, Any]], status: str, via: str) -> None:
    s = aks_scenario(rules=rules, via=via)
    make_dual_stack(s.vnet, s.subnet)
    expect(run(s.builder), {(AML_INBOUND, s.compute_id): status})


@pytest.mark.parametrize(("destination", "status"), [("10.0.4.0/22", "fail"), (["10.0.4.0/22", "10.0.12.0/24"], "pass")])
def test_aks_inbound_to_a_subnet_with_two_prefixes(destination: str | list[str], status: str) -> None:
    s = aks_scenario(rules=[allow_in("AllowAml", 100, "AzureMachineLearning", "443", destination=destination)])
    set_subnet_prefixes(s.subnet, ["10.0.4.0/22", "10.0.12.0/24"])
    expect(run(s.builder), {(AML_INBOUND, s.compute_id): status})


def test_aks_inbound_unaffected_by_a_storage_deny() -> None:
    # No Storage.EastUS address is an AzureMachineLearning.EastUS address.
    assert not overlaps(STORAGE_EASTUS, AML_EASTUS)
    s = aks_scenario(rules=[deny_in("DenyStorage", 90, "Storage.EastUS", "443", "Tcp"), AML_443])
    expect(run(s.builder), {(AML_INBOUND, s.compute_id): "pass"})


# -- "public clients" uses the *global* service tags, whatever the region ----------------------------------


@pytest.mark.parametrize(("source", "status"), [
    ("BatchNodeManagement.WestUS2", "pass"),       # another region's Batch addresses are still the service's own
    ("AzureMachineLearning.WestEurope", "pass"),
    ("AzureContainerRegistry.EastUS", "fail"),     # a service, but not one the row exempts
])
def test_remote_login_from_other_service_tags(source: str, status: str) -> None:
    assert overlaps(tag("AzureContainerRegistry.EastUS"), SERVICE) is False
    s = aml_scenario(rules=[batch_allow_rule(200), ssh(source)])
    expect(run(s.builder), {(REMOTE_LOGIN, s.compute_id): status})


@pytest.mark.parametrize(("source", "status"), [("BatchNodeManagement.WestUS2", "fail"), ("AzureContainerRegistry.EastUS", "pass")])
def test_scoring_from_other_service_tags(source: str, status: str) -> None:
    s = aks_scenario(rules=[AML_443, scoring(source)])
    expect(run(s.builder), {(SCORING, s.compute_id): status})


# -- a tag missing from the download (AzureCloud is not in the 2025-07 subset) --------------------------------


def test_remote_login_allow_from_an_unknown_tag_is_an_error() -> None:
    # AzureCloud may or may not hold addresses outside the service tags: undecidable from this download.
    s = aml_scenario(rules=[batch_allow_rule(200), ssh("AzureCloud")])
    expect(run(s.builder), {(REMOTE_LOGIN, s.compute_id): "error"})


def test_scoring_decided_without_the_unknown_tag() -> None:
    # Internet is open on 443 anyway: at least one public client is allowed whatever AzureCloud holds.
    s = aks_scenario(rules=[AML_443, scoring("AzureCloud", priority=105), scoring("Internet")])
    expect(run(s.builder), {(SCORING, s.compute_id): "pass"})


def test_scoring_from_ipv6_only_on_an_ipv4_subnet_fails() -> None:
    # No IPv6 client reaches an IPv4-only subnet, so no public client is allowed.
    s = aks_scenario(rules=[AML_443, scoring("::/0")])
    expect(run(s.builder), {(SCORING, s.compute_id): "fail"})


@pytest.mark.parametrize(("source", "status"), [("AzureMachineLearning", "pass"), ("AzureMachineLearning.WestEurope", "fail")])
def test_aks_inbound_in_a_region_without_a_regional_entry(source: str, status: str) -> None:
    # The 2025-07 subset has no AzureMachineLearning entry for northeurope: the global tag applies.
    s = aks_scenario(rules=[allow_in("AllowAml", 100, source, "443")], cluster_location="northeurope")
    s.vnet["location"] = "northeurope"
    expect(run(s.builder), {(AML_INBOUND, s.compute_id): status})


@pytest.mark.parametrize(("source", "status"), [
    ("169.254.0.0/16", "pass"),   # link-local: not globally reachable
    ("127.0.0.0/8", "pass"),      # loopback
    ("198.18.0.0/15", "pass"),    # benchmarking
    ("240.0.0.0/4", "pass"),      # reserved
    ("172.32.0.0/16", "fail"),    # just past 172.16.0.0/12: globally reachable
    ("100.128.0.0/16", "fail"),   # just past 100.64.0.0/10
    ("192.0.3.0/24", "fail"),     # just past TEST-NET-1
])
def test_special_purpose_ranges_are_not_public_clients(source: str, status: str) -> None:
    # The IANA special-purpose registries' "globally reachable" column, as ipaddress.is_global reads it.
    s = aml_scenario(rules=[batch_allow_rule(200), ssh(source)])
    expect(run(s.builder), {(REMOTE_LOGIN, s.compute_id): status})


@pytest.mark.parametrize(("source", "status"), [("fd00:1::/48", "pass"), ("2001:db8::/32", "pass"), ("2a00:1450::/32", "fail")])
def test_special_purpose_ipv6_ranges_are_not_public_clients(source: str, status: str) -> None:
    s = aml_scenario(rules=[batch_allow_rule(200), ssh(source)])
    make_dual_stack(s.vnet, s.subnet)
    expect(run(s.builder), {(REMOTE_LOGIN, s.compute_id): status})
