"""compute-outbound-vnet and compute-outbound-internet for AmlCompute: the document's restricted set
and its near misses, dual stack, peering.

- compute-outbound-vnet: outbound TCP and UDP, every port, from the compute subnet to the VNet address
  space is allowed. "The VNet address space" is the VNet's own addressSpace; peered spaces are not
  part of it (they are part of the VirtualNetwork *tag*, which is a different thing).
- compute-outbound-internet: outbound TCP 443 to every prefix of Storage.<region>,
  AzureContainerRegistry.<region> and AzureMachineLearning is allowed. The row writes plain
  AzureMachineLearning (no region): the global entry.

The document's restricted set ("Limiting outbound connectivity"): deny outbound Internet, allow
Storage.<region>, AzureContainerRegistry.<region>, AzureMachineLearning.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.acceptance.harness import expect, run
from tests.acceptance.scenarios import add_tags, aml_scenario, batch_allow_rule
from tests.acceptance2.kit import (
    TAGS_FULL,
    allow_out,
    cidrs,
    covers,
    deny_out,
    ipv4,
    ipv6,
    make_dual_stack,
    peer,
    tag,
)

VNET = "compute-outbound-vnet"
INTERNET = "compute-outbound-internet"

STORAGE_EASTUS = tag("Storage.EastUS")
ACR_EASTUS = tag("AzureContainerRegistry.EastUS")
AML_GLOBAL = tag("AzureMachineLearning")
assert ipv6(STORAGE_EASTUS) and ipv6(ACR_EASTUS) and ipv6(AML_GLOBAL)


def restricted_set(storage: str | list[str] = "Storage.EastUS", acr: str | list[str] = "AzureContainerRegistry.EastUS",
                   aml: str | list[str] = "AzureMachineLearning", aml_ports: str | list[str] = "443",
                   aml_protocol: str = "Tcp", acr_ports: str | list[str] = "443", deny_priority: int = 4000,
                   deny_destination: str = "Internet") -> list[dict[str, Any]]:
    return [
        allow_out("AllowStorageOutbound", 100, storage, "443", "Tcp"),
        allow_out("AllowContainerRegistryOutbound", 110, acr, acr_ports, "Tcp"),
        allow_out("AllowAzureMachineLearningOutbound", 120, aml, aml_ports, aml_protocol),
        deny_out("DenyInternetOutbound", deny_priority, deny_destination),
    ]


CASES: dict[str, tuple[list[dict[str, Any]], str, str]] = {
    # (outbound rules, compute-outbound-vnet, compute-outbound-internet)
    "defaults-only": ([], "pass", "pass"),
    "restricted-set-deny-at-4000": (restricted_set(), "pass", "pass"),
    "restricted-set-aml-on-port-80-only": (restricted_set(aml_ports="80"), "pass", "fail"),
    "restricted-set-aml-on-443-and-80-plural": (restricted_set(aml_ports=["80", "443"]), "pass", "pass"),
    "restricted-set-aml-any-protocol": (restricted_set(aml_protocol="*"), "pass", "pass"),
    "restricted-set-aml-udp": (restricted_set(aml_protocol="Udp"), "pass", "fail"),
    "restricted-set-acr-range-400-500": (restricted_set(acr_ports="400-500"), "pass", "pass"),
    "restricted-set-acr-range-444-500": (restricted_set(acr_ports="444-500"), "pass", "fail"),
    # The deny sits above the allows: the allows are never reached.
    "restricted-set-deny-first": (restricted_set(deny_priority=90), "pass", "fail"),
    # Denying * instead of Internet also shuts the VNet out (AllowVnetOutBound is at 65000).
    "restricted-set-deny-all": (restricted_set(deny_destination="*"), "fail", "pass"),
    "restricted-set-deny-all-with-vnet-allow": (restricted_set(deny_destination="*")
                                                + [allow_out("AllowVnet", 3000, "VirtualNetwork")], "pass", "pass"),
    "restricted-set-as-ipv4-prefix-lists": (restricted_set(cidrs(ipv4(STORAGE_EASTUS)), cidrs(ipv4(ACR_EASTUS)),
                                                           cidrs(ipv4(AML_GLOBAL))), "pass", "pass"),
    # The document's screenshot writes the rules with source VirtualNetwork: the compute subnet is in it.
    "restricted-set-from-virtual-network": ([{**r, "properties": {**r["properties"], "sourceAddressPrefix": "VirtualNetwork"}}
                                             for r in restricted_set()], "pass", "pass"),
    # The allows written for a sibling subnet only; the deny applies to everyone.
    "restricted-set-allows-for-another-subnet": ([{**r, "properties": {**r["properties"], "sourceAddressPrefix": "10.0.2.0/24"}}
                                                  for r in restricted_set()[:3]] + restricted_set()[3:], "pass", "fail"),
    # -- compute-outbound-vnet ---------------------------------------------------------------------------
    "deny-vnet-udp-only": ([deny_out("DenyVnetUdp", 100, "VirtualNetwork", protocol="Udp")], "fail", "pass"),
    "deny-vnet-esp-only": ([deny_out("DenyVnetEsp", 100, "VirtualNetwork", protocol="Esp")], "pass", "pass"),
    "deny-vnet-low-source-ports": ([deny_out("DenyLowSrc", 100, "10.0.0.0/16", protocol="Tcp", source_ports="0-1023")],
                                   "fail", "pass"),
    "deny-vnet-one-port-in-plural": ([deny_out("DenySome", 100, "VirtualNetwork", ["3389", "5985-5986"], "Tcp")],
                                     "fail", "pass"),
    "deny-own-subnet-only": ([deny_out("DenySelf", 100, "10.0.1.0/24")], "fail", "pass"),
    "allow-vnet-tcp-and-udp-then-deny-all": ([allow_out("AllowVnetTcp", 100, "10.0.0.0/16", protocol="Tcp"),
                                              allow_out("AllowVnetUdp", 110, "10.0.0.0/16", protocol="Udp"),
                                              deny_out("DenyAll", 200, "*")], "pass", "fail"),
}


@pytest.mark.parametrize(("rules", "vnet_status", "internet_status"), list(CASES.values()), ids=list(CASES))
def test_outbound(rules: list[dict[str, Any]], vnet_status: str, internet_status: str) -> None:
    s = aml_scenario(rules=[batch_allow_rule(), *rules])
    expect(run(s.builder), {(VNET, s.compute_id): vnet_status, (INTERNET, s.compute_id): internet_status})


# -- peered spaces are not "the VNet address space" ---------------------------------------------------------


@pytest.mark.parametrize(("rules", "status"), [
    ([allow_out("AllowOwnSpace", 100, "10.0.0.0/16"), deny_out("DenyPeered", 110, "10.50.0.0/16"),
      deny_out("DenyAll", 4000, "*")], "pass"),
    ([allow_out("AllowVnetTag", 100, "VirtualNetwork"), deny_out("DenyAll", 4000, "*")], "pass"),
    ([allow_out("AllowPeeredOnly", 100, "10.50.0.0/16"), deny_out("DenyAll", 4000, "*")], "fail"),
])
def test_peered_space_is_not_required(rules: list[dict[str, Any]], status: str) -> None:
    s = aml_scenario(rules=[batch_allow_rule(), *rules])
    peer(s.vnet, "vnet-hub", ["10.50.0.0/16"])
    expect(run(s.builder), {(VNET, s.compute_id): status})


# -- dual stack ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("dual_stack", "rules", "vnet_status", "internet_status"), [
    # Storage.EastUS has IPv6 prefixes; allowing its IPv4 prefixes only is enough for an IPv4-only subnet.
    (False, restricted_set(storage=cidrs(ipv4(STORAGE_EASTUS))), "pass", "pass"),
    (True, restricted_set(storage=cidrs(ipv4(STORAGE_EASTUS))), "pass", "fail"),
    (True, restricted_set(storage=cidrs(ipv4(STORAGE_EASTUS)))
     + [allow_out("AllowStorageV6", 101, cidrs(ipv6(STORAGE_EASTUS)), "443", "Tcp")], "pass", "pass"),
    (True, restricted_set(), "pass", "pass"),
    # Denying the tags' IPv6 prefixes matters only when the subnet has IPv6 addresses.
    (False, [deny_out("DenyAmlV6", 100, cidrs(ipv6(AML_GLOBAL)), "443", "Tcp")], "pass", "pass"),
    (True, [deny_out("DenyAmlV6", 100, cidrs(ipv6(AML_GLOBAL)), "443", "Tcp")], "pass", "fail"),
    # The VNet's IPv6 space is part of its address space.
    (True, [deny_out("DenyVnetV6", 100, "ace:cab:deca::/48")], "fail", "pass"),
])
def test_dual_stack(dual_stack: bool, rules: list[dict[str, Any]], vnet_status: str, internet_status: str) -> None:
    s = aml_scenario(rules=[batch_allow_rule(), *rules])
    if dual_stack:
        make_dual_stack(s.vnet, s.subnet)
    expect(run(s.builder), {(VNET, s.compute_id): vnet_status, (INTERNET, s.compute_id): internet_status})


# -- which Storage entry for eastus2 --------------------------------------------------------------------------


def test_eastus2_storage_is_the_entry_named_for_the_region() -> None:
    # The full download has two entries with region "eastus2": Storage.EastUS2 and Storage.EastUS2Stage,
    # and the Stage entry holds 137.116.2.64/27, which Storage.EastUS2 does not. The document's
    # restricted set allows "Storage.Region_Name ex. Storage.EastUS", i.e. Storage.EastUS2 here; reading
    # "Storage.<region>" as the entry of that name passes it, as the catalog now says: the entry is
    # found by name, never by properties.region.
    assert not covers(tag("Storage.EastUS2", TAGS_FULL), tag("Storage.EastUS2Stage", TAGS_FULL))
    s = aml_scenario(location="eastus2", tags=None,
                     rules=[batch_allow_rule(), *restricted_set("Storage.EastUS2", "AzureContainerRegistry.EastUS2")])
    add_tags(s.builder, "eastus2", TAGS_FULL)
    expect(run(s.builder), {(INTERNET, s.compute_id): "pass"})


def test_eastus2_restricted_set_missing_acr_fails() -> None:
    # Guard for the case above: on the same estate, leaving ACR out fails.
    s = aml_scenario(location="eastus2", tags=None,
                     rules=[batch_allow_rule(), *restricted_set("Storage.EastUS2", "AzureContainerRegistry.EastUS")])
    add_tags(s.builder, "eastus2", TAGS_FULL)
    assert not covers(tag("AzureContainerRegistry.EastUS", TAGS_FULL), tag("AzureContainerRegistry.EastUS2", TAGS_FULL))
    expect(run(s.builder), {(INTERNET, s.compute_id): "fail"})
