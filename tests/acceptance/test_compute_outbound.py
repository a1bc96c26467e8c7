"""compute-outbound-vnet and compute-outbound-internet (subject: AmlCompute or VirtualMachine compute, always).

- compute-outbound-vnet: outbound TCP and UDP, every port, from the compute subnet to the VNet
  address space is allowed.
- compute-outbound-internet: outbound TCP 443 to every prefix of Storage.<region>,
  AzureContainerRegistry.<region> and AzureMachineLearning is allowed (default rules, or the
  restricted set the document describes).
Outbound is evaluated through the NIC NSG then the subnet NSG; a subnet with no NSG allows everything.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.acceptance.harness import expect, run
from tests.acceptance.scenarios import aml_scenario, batch_allow_rule, set_rules, vm_scenario
from tests.acceptance.tagmath import cidr_strings, covered, entry_ipv4
from tests.estates import SERVICE_TAGS_FULL_GZ, security_rule

VNET = "compute-outbound-vnet"
INTERNET = "compute-outbound-internet"

STORAGE_EASTUS = entry_ipv4("Storage.EastUS")
ACR_EASTUS = entry_ipv4("AzureContainerRegistry.EastUS")
AML_GLOBAL = entry_ipv4("AzureMachineLearning")
assert covered(entry_ipv4("AzureMachineLearning.EastUS"), AML_GLOBAL)  # either reading of "AzureMachineLearning" agrees below


def outbound(name: str, priority: int, access: str, destination: str | list[str], ports: str | list[str] = "*",
             protocol: str = "*", source: str | list[str] = "*") -> dict[str, Any]:
    return security_rule(name, priority, "Outbound", access, protocol, source, destination, ports)


def restricted_set(storage: str | list[str] = "Storage.EastUS", acr: str | list[str] | None = "AzureContainerRegistry.EastUS",
                   aml: str | list[str] = "AzureMachineLearning", storage_protocol: str = "Tcp",
                   storage_ports: str = "443") -> list[dict[str, Any]]:
    """The document's 'Limiting outbound connectivity': allow the three tags, deny the Internet."""
    rules = [outbound("AllowStorage", 100, "Allow", storage, storage_ports, storage_protocol)]
    if acr is not None:
        rules.append(outbound("AllowContainerRegistry", 110, "Allow", acr, "443", "Tcp"))
    rules.append(outbound("AllowAzureMachineLearning", 120, "Allow", aml, "443", "Tcp"))
    rules.append(outbound("DenyInternet", 200, "Deny", "Internet"))
    return rules


# -- compute-outbound-vnet -------------------------------------------------------------------

VNET_CASES = {
    "default-rules": ([], "pass"),
    "deny-udp-to-vnet": ([outbound("DenyUdp", 100, "Deny", "VirtualNetwork", protocol="Udp")], "fail"),
    "deny-dns-to-one-subnet": ([outbound("DenyDns", 100, "Deny", "10.0.2.0/24", "53", "Tcp")], "fail"),
    "deny-icmp-to-vnet": ([outbound("DenyIcmp", 100, "Deny", "VirtualNetwork", protocol="Icmp")], "pass"),
    "deny-internet": ([outbound("DenyInternet", 100, "Deny", "Internet")], "pass"),
    "deny-all": ([outbound("DenyAll", 4000, "Deny", "*")], "fail"),
    "deny-all-below-vnet-allow": ([outbound("AllowVnet", 3000, "Allow", "VirtualNetwork"),
                                   outbound("DenyAll", 4000, "Deny", "*")], "pass"),
    "deny-all-below-tcp-only-allow": ([outbound("AllowVnetTcp", 3000, "Allow", "VirtualNetwork", protocol="Tcp"),
                                       outbound("DenyAll", 4000, "Deny", "*")], "fail"),
    "deny-from-half-the-subnet": ([outbound("DenyHalf", 100, "Deny", "*", source="10.0.1.0/25")], "fail"),
    "deny-from-another-subnet": ([outbound("DenyOther", 100, "Deny", "*", source="10.0.2.0/24")], "pass"),
    "deny-high-ports-to-vnet": ([outbound("DenyHigh", 100, "Deny", "10.0.0.0/16", "1024-65535", "Tcp")], "fail"),
}


@pytest.mark.parametrize(("outbound_rules", "status"), list(VNET_CASES.values()), ids=list(VNET_CASES))
def test_outbound_vnet_rules(outbound_rules: list[dict[str, Any]], status: str) -> None:
    s = aml_scenario(rules=[batch_allow_rule(), *outbound_rules])
    expect(run(s.builder), {(VNET, s.compute_id): status})


@pytest.mark.parametrize(("destination", "status"), [("10.1.0.0/16", "fail"), ("10.50.0.0/16", "pass")])
def test_second_address_space_counts_and_peered_space_does_not(destination: str, status: str) -> None:
    # The VNet spans 10.0.0.0/16 and 10.1.0.0/16 and peers with a hub at 10.50.0.0/16:
    # the flow's destination is the VNet's own address space.
    s = aml_scenario(rules=[batch_allow_rule(), outbound("DenySome", 100, "Deny", destination)])
    s.vnet["properties"]["addressSpace"]["addressPrefixes"] = ["10.0.0.0/16", "10.1.0.0/16"]
    hub = f"/subscriptions/{s.builder.subscription}/resourceGroups/rg-hub/providers/Microsoft.Network/virtualNetworks/vnet-hub"
    s.vnet["properties"]["virtualNetworkPeerings"] = [{
        "name": "to-hub", "id": f"{s.vnet['id']}/virtualNetworkPeerings/to-hub",
        "properties": {"provisioningState": "Succeeded", "peeringState": "Connected", "allowVirtualNetworkAccess": True,
                       "allowForwardedTraffic": False, "allowGatewayTransit": False, "useRemoteGateways": False,
                       "remoteVirtualNetwork": {"id": hub},
                       "remoteAddressSpace": {"addressPrefixes": ["10.50.0.0/16"]}}}]
    expect(run(s.builder), {(VNET, s.compute_id): status})


def test_no_subnet_nsg_allows_everything() -> None:
    s = aml_scenario(with_nsg=False)
    expect(run(s.builder), {(VNET, s.compute_id): "pass", (INTERNET, s.compute_id): "pass"})


@pytest.mark.parametrize("how", ["absent", "403"])
def test_nsg_unreadable_is_an_error(how: str) -> None:
    s = aml_scenario()
    assert s.nsg is not None
    s.builder.drop(s.nsg)
    if how == "403":
        s.builder.collection_error(s.nsg["id"])
    expect(run(s.builder), {(VNET, s.compute_id): "error", (INTERNET, s.compute_id): "error"})


def test_vm_nic_nsg_denying_vnet_fails() -> None:
    s = vm_scenario()
    assert s.nic_nsg is not None
    set_rules(s.nic_nsg, [outbound("DenyVnetUdp", 100, "Deny", "VirtualNetwork", protocol="Udp")])
    expect(run(s.builder), {(VNET, s.compute_id): "fail", (INTERNET, s.compute_id): "pass"})


def test_vm_subnet_nsg_denying_vnet_fails() -> None:
    s = vm_scenario()
    assert s.subnet_nsg is not None
    set_rules(s.subnet_nsg, [outbound("DenyVnet", 100, "Deny", "VirtualNetwork")])
    expect(run(s.builder), {(VNET, s.compute_id): "fail"})


def test_vm_nic_nsg_unreadable_is_an_error() -> None:
    s = vm_scenario()
    assert s.nic_nsg is not None
    s.builder.drop(s.nic_nsg)
    expect(run(s.builder), {(VNET, s.compute_id): "error", (INTERNET, s.compute_id): "error"})


# -- compute-outbound-internet ---------------------------------------------------------------

INTERNET_CASES = {
    "default-rules": ([], "pass"),
    "deny-internet": ([outbound("DenyInternet", 100, "Deny", "Internet")], "fail"),
    "deny-internet-lower-case": ([outbound("DenyInternet", 100, "Deny", "internet")], "fail"),
    "deny-0.0.0.0/0": ([outbound("DenyAll", 100, "Deny", "0.0.0.0/0")], "fail"),
    "deny-port-80-only": ([outbound("DenyHttp", 100, "Deny", "Internet", "80", "Tcp")], "pass"),
    "deny-udp-443-only": ([outbound("DenyQuic", 100, "Deny", "Internet", "443", "Udp")], "pass"),
    "deny-443-to-storage": ([outbound("DenyStorage", 100, "Deny", "Storage.EastUS", "443", "Tcp")], "fail"),
    "deny-443-to-regional-aml": ([outbound("DenyAml", 100, "Deny", "AzureMachineLearning.EastUS", "443", "Tcp")], "fail"),
    "deny-one-acr-prefix": ([outbound("DenyAcr", 100, "Deny", str(ACR_EASTUS[0]), "443", "Tcp")], "fail"),
    "restricted-set": (restricted_set(), "pass"),
    "restricted-set-as-prefixes": (restricted_set(cidr_strings(STORAGE_EASTUS), cidr_strings(ACR_EASTUS),
                                                  cidr_strings(AML_GLOBAL)), "pass"),
    "restricted-set-without-acr": (restricted_set(acr=None), "fail"),
    "restricted-set-storage-udp": (restricted_set(storage_protocol="Udp"), "fail"),
    "restricted-set-storage-port-80": (restricted_set(storage_ports="80"), "fail"),
    "restricted-set-storage-other-region": (restricted_set(storage="Storage.WestUS2"), "fail"),
    "restricted-set-half-storage": (restricted_set(storage=cidr_strings(STORAGE_EASTUS[: len(STORAGE_EASTUS) // 2])), "fail"),
    "deny-all-below-443-to-internet": ([outbound("AllowHttps", 90, "Allow", "Internet", "443", "Tcp"),
                                        outbound("DenyAll", 100, "Deny", "*")], "pass"),
}


@pytest.mark.parametrize(("outbound_rules", "status"), list(INTERNET_CASES.values()), ids=list(INTERNET_CASES))
def test_outbound_internet_rules(outbound_rules: list[dict[str, Any]], status: str) -> None:
    s = aml_scenario(rules=[batch_allow_rule(), *outbound_rules])
    expect(run(s.builder), {(INTERNET, s.compute_id): status})


def test_region_with_no_storage_entry_is_an_error() -> None:
    # The 2025-07 subset has no Storage.NorthEurope and no global Storage entry.
    s = aml_scenario(location="northeurope")
    expect(run(s.builder), {(INTERNET, s.compute_id): "error"})


def test_region_from_the_full_download() -> None:
    s = aml_scenario(location="northeurope", tags=SERVICE_TAGS_FULL_GZ,
                     rules=[batch_allow_rule(), *restricted_set("Storage.NorthEurope", "AzureContainerRegistry.NorthEurope")])
    expect(run(s.builder), {(INTERNET, s.compute_id): "pass"})


def test_restricted_set_with_global_tags_from_the_full_download() -> None:
    s = aml_scenario(tags=SERVICE_TAGS_FULL_GZ, rules=[batch_allow_rule(), *restricted_set("Storage", "AzureContainerRegistry")])
    expect(run(s.builder), {(INTERNET, s.compute_id): "pass"})


def test_service_tags_absent_is_an_error() -> None:
    s = aml_scenario(tags=None)
    s.builder.service_tags = None
    expect(run(s.builder), {(INTERNET, s.compute_id): "error"})


def test_vm_nic_nsg_denying_internet_fails() -> None:
    s = vm_scenario()
    assert s.nic_nsg is not None
    set_rules(s.nic_nsg, [outbound("DenyInternet", 100, "Deny", "Internet")])
    expect(run(s.builder), {(INTERNET, s.compute_id): "fail", (VNET, s.compute_id): "pass"})


def test_restricted_set_with_only_the_regional_aml_tag_fails() -> None:
    # The row writes Storage.<region> and AzureContainerRegistry.<region> but plain AzureMachineLearning:
    # the global tag, 321 IPv4 prefixes more than AzureMachineLearning.EastUS.
    assert not covered(AML_GLOBAL, entry_ipv4("AzureMachineLearning.EastUS"))
    s = aml_scenario(rules=[batch_allow_rule(), *restricted_set(aml="AzureMachineLearning.EastUS")])
    expect(run(s.builder), {(INTERNET, s.compute_id): "fail"})


def test_allow_naming_a_tag_missing_from_the_download_is_an_error() -> None:
    # The 2025-07 subset has no global Storage entry: whether the allow covers Storage.EastUS is unknown.
    s = aml_scenario(rules=[batch_allow_rule(), *restricted_set(storage="Storage")])
    expect(run(s.builder), {(INTERNET, s.compute_id): "error"})
