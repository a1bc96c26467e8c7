"""Subnet NSG then NIC NSG: the composition rows for an attached VirtualMachine compute.

- attached-compute-ssh: inbound TCP 22 from every AzureMachineLearning tag prefix to the machine's
  private IP is allowed through subnet NSG then NIC NSG (both must allow every part of the flow).
- compute-outbound-vnet: outbound TCP and UDP, every port, from the compute subnet to the VNet address
  space is allowed (outbound: NIC NSG then subnet NSG).
- compute-outbound-internet: outbound TCP 443 to every prefix of Storage.<region>,
  AzureContainerRegistry.<region> and AzureMachineLearning is allowed.
- attached-compute-ubuntu: decided by the image alone.

The VM's NIC has 10.0.3.4 in subnet 10.0.3.0/24 of VNet 10.0.0.0/16 (eastus). For eastus the tag
prefixes are AzureMachineLearning.EastUS (8 IPv4 + 1 IPv6; the subnet is IPv4 only).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.acceptance.harness import expect, run
from tests.acceptance.scenarios import vm_scenario
from tests.acceptance2.kit import allow_in, allow_out, cidrs, covers, deny_in, deny_out, ipv4, tag

SSH = "attached-compute-ssh"
UBUNTU = "attached-compute-ubuntu"
VNET = "compute-outbound-vnet"
INTERNET = "compute-outbound-internet"

AML_EASTUS_V4 = ipv4(tag("AzureMachineLearning.EastUS"))
assert len(AML_EASTUS_V4) == 9
FIRST_HALF, SECOND_HALF = AML_EASTUS_V4[:4], AML_EASTUS_V4[4:]
assert not covers(FIRST_HALF, AML_EASTUS_V4) and not covers(SECOND_HALF, AML_EASTUS_V4)

STORAGE_EASTUS_V4 = ipv4(tag("Storage.EastUS"))


def ssh_allow(name: str = "AllowAmlSsh", priority: int = 100, source: str | list[str] = "AzureMachineLearning",
              protocol: str = "*", destination: str | list[str] = "*") -> dict[str, Any]:
    return allow_in(name, priority, source, "22", protocol, destination)


SSH_CASES: dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]], str]] = {
    # (subnet NSG rules, NIC NSG rules, verdict)
    "each-nsg-admits-a-different-half": ([ssh_allow(source=cidrs(FIRST_HALF))], [ssh_allow(source=cidrs(SECOND_HALF))], "fail"),
    "subnet-admits-both-halves-in-two-rules": ([ssh_allow("A", 100, cidrs(FIRST_HALF)), ssh_allow("B", 110, cidrs(SECOND_HALF))],
                                               [ssh_allow()], "pass"),
    "subnet-tcp-only-nic-any-protocol": ([ssh_allow(protocol="Tcp")], [ssh_allow(protocol="*")], "pass"),
    "subnet-denies-internet-below-the-allow": ([ssh_allow(), deny_in("DenyInternet", 4000, "Internet")], [ssh_allow()], "pass"),
    "subnet-denies-internet-above-the-allow": ([deny_in("DenyInternet", 90, "Internet", "22", "Tcp"), ssh_allow()],
                                               [ssh_allow()], "fail"),
    "subnet-to-the-private-ip": ([ssh_allow(destination="10.0.3.4")], [ssh_allow()], "pass"),
    "subnet-to-another-ip": ([ssh_allow(destination="10.0.3.5")], [ssh_allow()], "fail"),
    "subnet-to-the-subnet-nic-to-the-ip": ([ssh_allow(destination="10.0.3.0/24")], [ssh_allow(destination="10.0.3.4/32")], "pass"),
    "nic-denies-one-aml-prefix-above": ([ssh_allow()], [deny_in("DenyOne", 90, str(AML_EASTUS_V4[0]), "22"), ssh_allow()], "fail"),
    "nic-denies-udp-22-above": ([ssh_allow()], [deny_in("DenyUdp", 90, "*", "22", "Udp"), ssh_allow()], "pass"),
    "nic-allows-from-internet": ([ssh_allow()], [allow_in("AllowInternetSsh", 100, "Internet", "22")], "pass"),
    "nic-allows-from-virtual-network-only": ([ssh_allow()], [allow_in("AllowVnetSsh", 100, "VirtualNetwork", "22")], "fail"),
    "nic-outbound-rules-only": ([ssh_allow()], [allow_out("AllowOut", 100, "*")], "fail"),
}


@pytest.mark.parametrize(("subnet_rules", "nic_rules", "status"), list(SSH_CASES.values()), ids=list(SSH_CASES))
def test_ssh_through_both_nsgs(subnet_rules: list[dict[str, Any]], nic_rules: list[dict[str, Any]], status: str) -> None:
    s = vm_scenario(subnet_rules=subnet_rules, nic_rules=nic_rules)
    expect(run(s.builder), {(SSH, s.compute_id): status, (UBUNTU, s.compute_id): "pass"})


@pytest.mark.parametrize(("rules", "status"), [([ssh_allow()], "pass"), ([], "fail")])
def test_one_nsg_on_both_the_subnet_and_the_nic(rules: list[dict[str, Any]], status: str) -> None:
    # The same NSG associated twice is evaluated twice: same answer each time.
    s = vm_scenario(subnet_rules=rules, nic_nsg=False)
    assert s.subnet_nsg is not None
    s.nic["properties"]["networkSecurityGroup"] = {"id": s.subnet_nsg["id"]}
    expect(run(s.builder), {(SSH, s.compute_id): status})


OUTBOUND_CASES: dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]], str, str]] = {
    # (subnet NSG outbound rules, NIC NSG outbound rules, compute-outbound-vnet, compute-outbound-internet)
    "nic-denies-storage-443": ([], [deny_out("DenyStorage", 100, "Storage.EastUS", "443", "Tcp")], "pass", "fail"),
    "subnet-denies-acr-443": ([deny_out("DenyAcr", 100, "AzureContainerRegistry.EastUS", "443", "Tcp")], [], "pass", "fail"),
    "nic-restricted-set": ([], [allow_out("AllowStorage", 100, "Storage.EastUS", "443", "Tcp"),
                               allow_out("AllowAcr", 110, "AzureContainerRegistry.EastUS", "443", "Tcp"),
                               allow_out("AllowAml", 120, "AzureMachineLearning", "443", "Tcp"),
                               deny_out("DenyInternet", 4000, "Internet")], "pass", "pass"),
    "nic-allows-everything-subnet-denies-vnet-tcp": ([deny_out("DenyVnetTcp", 100, "VirtualNetwork", "*", "Tcp")],
                                                     [allow_out("AllowAll", 100, "*")], "fail", "pass"),
    "nic-denies-all-but-vnet": ([], [allow_out("AllowVnet", 100, "VirtualNetwork"), deny_out("DenyAll", 200, "*")], "pass", "fail"),
    "subnet-denies-vnet-from-another-subnet": ([deny_out("DenyFromOther", 100, "VirtualNetwork", source="10.0.9.0/24")], [],
                                               "pass", "pass"),
    # Each NSG lets one protocol through to the VNet: together they let neither.
    "subnet-tcp-only-nic-udp-only": ([allow_out("AllowVnetTcp", 100, "VirtualNetwork", protocol="Tcp"),
                                      deny_out("DenyVnet", 200, "VirtualNetwork")],
                                     [allow_out("AllowVnetUdp", 100, "VirtualNetwork", protocol="Udp"),
                                      deny_out("DenyVnet", 200, "VirtualNetwork")], "fail", "pass"),
    "nic-denies-udp-53-to-one-host": ([], [deny_out("DenyDns", 100, "10.0.0.4", "53", "Udp")], "fail", "pass"),
    "nic-denies-storage-ipv4-prefixes-on-80": ([], [deny_out("DenyHttp", 100, cidrs(STORAGE_EASTUS_V4), "80", "Tcp")], "pass",
                                               "pass"),
}


@pytest.mark.parametrize(("subnet_rules", "nic_rules", "vnet_status", "internet_status"), list(OUTBOUND_CASES.values()),
                         ids=list(OUTBOUND_CASES))
def test_vm_outbound_through_both_nsgs(subnet_rules: list[dict[str, Any]], nic_rules: list[dict[str, Any]],
                                      vnet_status: str, internet_status: str) -> None:
    s = vm_scenario(subnet_rules=[ssh_allow(), *subnet_rules], nic_rules=[ssh_allow(), *nic_rules])
    expect(run(s.builder), {(VNET, s.compute_id): vnet_status, (INTERNET, s.compute_id): internet_status,
                            (SSH, s.compute_id): "pass"})


def test_nic_nsg_forbidden_while_the_subnet_nsg_allows() -> None:
    # The NIC NSG could not be read (403): every flow through it is undecidable; the image check is not.
    s = vm_scenario()
    assert s.nic_nsg is not None
    s.builder.drop(s.nic_nsg)
    s.builder.collection_error(s.nic_nsg["id"])
    expect(run(s.builder), {(SSH, s.compute_id): "error", (VNET, s.compute_id): "error",
                            (INTERNET, s.compute_id): "error", (UBUNTU, s.compute_id): "pass"})


def test_subnet_nsg_forbidden_while_the_nic_nsg_allows() -> None:
    s = vm_scenario()
    assert s.subnet_nsg is not None
    s.builder.drop(s.subnet_nsg)
    s.builder.collection_error(s.subnet_nsg["id"])
    expect(run(s.builder), {(SSH, s.compute_id): "error", (VNET, s.compute_id): "error",
                            (INTERNET, s.compute_id): "error", (UBUNTU, s.compute_id): "pass"})


def test_nic_nsg_denying_decides_even_when_the_subnet_nsg_is_fine() -> None:
    # Guard for the NIC being consulted at all: a NIC-level deny of everything inbound.
    s = vm_scenario(nic_rules=[deny_in("DenyAll", 100, "*")])
    expect(run(s.builder), {(SSH, s.compute_id): "fail"})


@pytest.mark.parametrize(("vnet_location", "source", "status"), [
    ("eastus", "AzureMachineLearning.EastUS", "pass"),
    ("westus2", "AzureMachineLearning.EastUS", "fail"),     # the VNet's region picks AzureMachineLearning.WestUS2
    ("westus2", "AzureMachineLearning.WestUS2", "pass"),
])
def test_ssh_tag_region_follows_the_vnet(vnet_location: str, source: str, status: str) -> None:
    s = vm_scenario(subnet_rules=[ssh_allow(source=source)], nic_rules=[ssh_allow(source=source)])
    s.vnet["location"] = vnet_location
    expect(run(s.builder), {(SSH, s.compute_id): status})


def test_nic_nsg_denies_while_the_subnet_nsg_allows_everything() -> None:
    # The subnet NSG allows SSH from AzureMachineLearning and leaves outbound at its defaults; the NIC NSG
    # denies SSH from the tag and UDP to the VNet. Both flows fail at the NIC; the image row is untouched.
    s = vm_scenario(nic_rules=[deny_in("DenyAmlSsh", 100, "AzureMachineLearning", "22", "*"),
                               deny_out("DenyVnetUdp", 100, "VirtualNetwork", protocol="Udp")])
    expect(run(s.builder), {(SSH, s.compute_id): "fail", (VNET, s.compute_id): "fail",
                            (INTERNET, s.compute_id): "pass", (UBUNTU, s.compute_id): "pass"})
