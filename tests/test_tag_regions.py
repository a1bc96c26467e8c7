"""Regional service tags are found by NAME, in every region where the name and `properties.region` differ.

The catalog's *tag prefixes*: for tag T and region R (the ARM location of the VNet), the entry named
`T.<R>` (the part after the dot compared with R case-insensitively) when it exists, else `T`; never
the entry's `properties.region`. In the 2025-11-09 download 12 regions carry an internal region name
(`BatchNodeManagement.GermanyWestCentral` says `germanywc`), and two "Stage" entries share a real
region with the entry named for it (`Storage.EastUS2Stage` says `eastus2`). The region lists below
are computed from that file, so a new download with more such regions is tested as it is.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import pytest

from amlaudit.checks.flows import (
    aks_inbound_from_aml,
    compute_batch_inbound,
    compute_forced_tunneling,
    compute_outbound_internet,
)
from tests.estates import EstateBuilder
from tests.flow_helpers import (
    AksCluster,
    Cluster,
    _full_download,
    allow_batch,
    deny_internet_inbound,
    full_download_subset,
    rule,
    split_prefix,
    verdict_of,
)
from tests.standin.fixtures import StartStandIn, arm_standin, standin_ca  # noqa: F401 - fixtures
from tests.test_collect_adversarial import assert_only_gets, scan_live, scan_offline


def _entries() -> dict[str, dict[str, Any]]:
    return {value["name"]: value for value in _full_download()["values"]}


def _differing() -> dict[str, str]:
    """Name suffix -> properties.region, for every suffix whose regional entries say another region."""
    found: dict[str, str] = {}
    for name, value in _entries().items():
        region = value["properties"].get("region") or ""
        if "." in name and region and name.split(".", 1)[1].lower() != region.lower():
            found[name.split(".", 1)[1]] = region
    return found


DIFFERING = _differing()
# Suffixes that are regions of their own (germanywestcentral), not twins of a real region (EastUS2Stage):
# a twin's region field is a location whose own entry is named for it.
TWINS = {suffix: region for suffix, region in DIFFERING.items() if f"Storage.{region}".lower() in
         {name.lower() for name in _entries()}}
OWN_REGIONS = sorted(suffix for suffix in DIFFERING if suffix not in TWINS)


def test_the_download_has_the_regions_the_catalog_speaks_of() -> None:
    assert len(DIFFERING) == 14
    assert DIFFERING["GermanyWestCentral"] == "germanywc" and DIFFERING["FranceCentral"] == "centralfrance"
    assert TWINS == {"EastUS2Stage": "eastus2", "NorthCentralUSStage": "northcentralus"}
    assert len(OWN_REGIONS) == 12


def _ipv4(name: str) -> list[str]:
    return [p for p in _entries()[name]["properties"]["addressPrefixes"] if ipaddress.ip_network(p).version == 4]


def _with_tags(builder: EstateBuilder, location: str, *names: str) -> None:
    builder.service_tags.append({"location": location, "body": full_download_subset(*names)})


# -- compute-batch-inbound ----------------------------------------------------------------------------------------


def _batch(builder: EstateBuilder, location: str, rules: list[dict[str, Any]], *tags: str):
    cluster = Cluster(builder, [*rules, deny_internet_inbound()], location=location, tags=False)
    _with_tags(builder, location, *tags)
    return verdict_of(compute_batch_inbound, builder, cluster.compute)


@pytest.mark.parametrize("suffix", OWN_REGIONS)
@pytest.mark.parametrize("spelled", ["tag", "prefixes"])
def test_batch_inbound_passes_on_exactly_the_entry_named_for_the_region(builder: EstateBuilder, suffix: str,
                                                                       spelled: str) -> None:
    entry = f"BatchNodeManagement.{suffix}"
    location = suffix.lower()  # the ARM location, e.g. germanywestcentral
    source = entry if spelled == "tag" else _ipv4(entry)
    v = _batch(builder, location, [allow_batch(source=source)], "BatchNodeManagement", entry)
    assert v.status == "pass", v.message
    assert v.evidence["service_tag"] == entry
    assert v.evidence["service_tag_prefixes"].startswith(
        f"{len(_ipv4(entry))} IPv4 prefixes ({entry}, the entry named for the VNet's region {location}")
    assert DIFFERING[suffix] not in v.message  # the internal region name plays no part


@pytest.mark.parametrize("suffix", OWN_REGIONS)
def test_batch_inbound_fails_when_half_of_one_regional_prefix_is_left_out(builder: EstateBuilder,
                                                                         suffix: str) -> None:
    entry = f"BatchNodeManagement.{suffix}"
    prefixes = _ipv4(entry)
    victim = next(p for p in prefixes if ipaddress.ip_network(p).prefixlen < 32)
    kept_half, missing_half = split_prefix(victim)
    allowed = [kept_half if p == victim else p for p in prefixes]
    v = _batch(builder, suffix.lower(), [allow_batch(source=allowed)], "BatchNodeManagement", entry)
    assert v.status == "fail"
    assert v.evidence["service_tag"] == entry
    denied = [p for p in v.evidence["flow"]["parts"] if p["access"] == "Deny"]
    assert [p["src"]["cidrs"] for p in denied] == [[missing_half]]


@pytest.mark.parametrize("suffix", OWN_REGIONS)
def test_batch_inbound_fails_when_the_global_tag_is_allowed_but_the_regional_prefixes_denied(
        builder: EstateBuilder, suffix: str) -> None:
    entry = f"BatchNodeManagement.{suffix}"
    deny_regional = rule("DenyRegionalBatch", 90, "Inbound", "Deny", "Tcp", entry, "*", "29876-29877")
    v = _batch(builder, suffix.lower(), [deny_regional, allow_batch(source="BatchNodeManagement")],
               "BatchNodeManagement", entry)
    assert v.status == "fail"
    assert "DenyRegionalBatch" in v.message


@pytest.mark.parametrize("suffix", OWN_REGIONS)
def test_batch_inbound_is_an_error_without_the_regional_and_the_global_entry(builder: EstateBuilder,
                                                                            suffix: str) -> None:
    # The data holds only an entry for another region: the VNet's own entry cannot be found.
    other = "BatchNodeManagement.EastUS"
    v = _batch(builder, suffix.lower(), [allow_batch(source="*")], other)
    assert v.status == "error"
    assert (f"neither an entry named BatchNodeManagement.{suffix.lower()} nor the global BatchNodeManagement is in "
            "the snapshot's service-tag data") in v.message


def test_batch_inbound_falls_back_to_the_global_entry_when_none_is_named_for_the_region(
        builder: EstateBuilder) -> None:
    # The internal region name is no location: a VNet "in" germanywc finds no entry named for it.
    v = _batch(builder, "germanywc", [allow_batch(source="BatchNodeManagement.GermanyWestCentral")],
               "BatchNodeManagement", "BatchNodeManagement.GermanyWestCentral")
    assert v.status == "fail"
    assert v.evidence["service_tag"] == "BatchNodeManagement"
    assert "global BatchNodeManagement: no entry is named BatchNodeManagement.germanywc" in \
        v.evidence["flow"]["parts"][0]["src"]["label"] + v.evidence["service_tag_prefixes"]


# -- compute-outbound-internet ------------------------------------------------------------------------------------


def _restricted(storage: str | list[str], registry: str | list[str]) -> list[dict[str, Any]]:
    """The document's restricted outbound set, then deny Internet."""
    return [rule("AllowStorageOutbound", 100, "Outbound", "Allow", "Tcp", "VirtualNetwork", storage, "443"),
            rule("AllowContainerRegistryOutbound", 110, "Outbound", "Allow", "Tcp", "VirtualNetwork", registry, "443"),
            rule("AllowAzureMachineLearningOutbound", 120, "Outbound", "Allow", "Tcp", "VirtualNetwork",
                 "AzureMachineLearning", "443"),
            rule("DenyInternetOutbound", 4000, "Outbound", "Deny", "*", "*", "Internet", "*")]


def _outbound(builder: EstateBuilder, location: str, rules: list[dict[str, Any]], *tags: str):
    cluster = Cluster(builder, rules, location=location, tags=False)
    _with_tags(builder, location, "AzureMachineLearning", "Storage", "AzureContainerRegistry", *tags)
    return verdict_of(compute_outbound_internet, builder, cluster.compute)


def _outcomes(v) -> dict[str, str]:
    found = {words.split(":", 1)[0]: "allowed" for words in v.evidence["allowed"]}
    found.update({d["service_tag"]: d["flow"]["outcome"] for d in v.evidence.get("not_allowed", [])})
    return found


@pytest.mark.parametrize("suffix", OWN_REGIONS)
@pytest.mark.parametrize("spelled", ["tag", "prefixes"])
def test_outbound_internet_passes_on_exactly_the_entries_named_for_the_region(builder: EstateBuilder, suffix: str,
                                                                             spelled: str) -> None:
    storage, registry = f"Storage.{suffix}", f"AzureContainerRegistry.{suffix}"
    rules = (_restricted(storage, registry) if spelled == "tag" else _restricted(_ipv4(storage), _ipv4(registry)))
    v = _outbound(builder, suffix.lower(), rules, storage, registry)
    assert v.status == "pass", v.message
    assert _outcomes(v) == dict.fromkeys([storage, registry, "AzureMachineLearning"], "allowed")


@pytest.mark.parametrize("suffix", OWN_REGIONS)
def test_outbound_internet_fails_when_half_of_one_regional_storage_prefix_is_left_out(builder: EstateBuilder,
                                                                                     suffix: str) -> None:
    storage, registry = f"Storage.{suffix}", f"AzureContainerRegistry.{suffix}"
    prefixes = _ipv4(storage)
    victim = next(p for p in prefixes if ipaddress.ip_network(p).prefixlen < 32)
    kept_half, missing_half = split_prefix(victim)
    v = _outbound(builder, suffix.lower(), _restricted([kept_half if p == victim else p for p in prefixes], registry),
                  storage, registry)
    assert v.status == "fail"
    assert _outcomes(v) == {storage: "partly allowed", registry: "allowed", "AzureMachineLearning": "allowed"}
    (detail,) = v.evidence["not_allowed"]
    denied = [part for part in detail["flow"]["parts"] if part["access"] == "Deny"]
    assert [part["dst"]["cidrs"] for part in denied] == [[missing_half]]


@pytest.mark.parametrize("suffix", OWN_REGIONS)
def test_outbound_internet_is_an_error_without_the_regional_and_the_global_registry_entry(
        builder: EstateBuilder, suffix: str) -> None:
    storage = f"Storage.{suffix}"
    cluster = Cluster(builder, _restricted(storage, "AzureContainerRegistry"), location=suffix.lower(), tags=False)
    _with_tags(builder, suffix.lower(), "AzureMachineLearning", "Storage", storage)
    v = verdict_of(compute_outbound_internet, builder, cluster.compute)
    assert v.status == "error"
    assert (f"neither an entry named AzureContainerRegistry.{suffix.lower()} nor the global AzureContainerRegistry "
            "is in the snapshot's service-tag data") in v.message


@pytest.mark.parametrize(("suffix", "region"), sorted(TWINS.items()))
def test_outbound_internet_in_a_region_with_a_stage_twin_uses_the_entry_named_for_it(
        builder: EstateBuilder, suffix: str, region: str) -> None:
    # Storage.EastUS2Stage says region eastus2 too; a VNet in eastus2 is judged on Storage.EastUS2.
    named = next(name for name in _entries() if name.lower() == f"storage.{region}")
    registry = next(name for name in _entries() if name.lower() == f"azurecontainerregistry.{region}")
    twin = f"Storage.{suffix}"
    tags = (named, registry, twin)
    assert _entries()[named]["properties"]["region"] == _entries()[twin]["properties"]["region"] == region
    passed = _outbound(builder, region, _restricted(named, registry), *tags)
    assert passed.status == "pass", passed.message
    assert _outcomes(passed)[named] == "allowed"
    # Allowing the twin instead leaves Storage.<region> out (they are different ranges).
    assert not set(_ipv4(named)) <= set(_ipv4(twin))
    other = EstateBuilder()
    failed = _outbound(other, region, _restricted(twin, registry), *tags)
    assert failed.status == "fail"
    assert _outcomes(failed)[named] == "denied"


# -- compute-forced-tunneling and aks-inbound-from-aml use the same lookup ----------------------------------------


@pytest.mark.parametrize("suffix", ["GermanyWestCentral", "SwitzerlandNorth"])
def test_forced_tunneling_routes_the_entry_named_for_the_region(builder: EstateBuilder, suffix: str) -> None:
    entry = f"BatchNodeManagement.{suffix}"
    routes = [("default-to-firewall", "0.0.0.0/0", "VirtualAppliance"),
              *[(f"batch-{i}", prefix, "Internet") for i, prefix in enumerate(_ipv4(entry))]]
    cluster = Cluster(builder, [], location=suffix.lower(), routes=routes, tags=False)
    _with_tags(builder, suffix.lower(), "BatchNodeManagement", entry)
    v = verdict_of(compute_forced_tunneling, builder, cluster.compute)
    assert v.status == "pass", v.message
    assert v.evidence["service_tag"] == entry


@pytest.mark.parametrize(("source", "status"), [("AzureMachineLearning.NorwayEast", "pass"),
                                                ("AzureMachineLearning.NorwayWest", "fail")])
def test_aks_inbound_from_aml_judges_the_entry_named_for_the_region(builder: EstateBuilder, source: str,
                                                                   status: str) -> None:
    allow = rule("AllowAmlHttps", 100, "Inbound", "Allow", "Tcp", source, "*", "443")
    aks = AksCluster(builder, [allow, deny_internet_inbound()], location="norwayeast", tags=False)
    _with_tags(builder, "norwayeast", "AzureMachineLearning", "AzureMachineLearning.NorwayEast",
               "AzureMachineLearning.NorwayWest")
    v = verdict_of(aks_inbound_from_aml, builder, aks.compute)
    assert v.status == status, v.message
    assert v.evidence["service_tag"] == "AzureMachineLearning.NorwayEast"


# -- live, through the HTTPS stand-in ------------------------------------------------------------------------------


def _germany_estate(batch_source: str) -> dict[str, Any]:
    """A workspace in germanywestcentral whose compute subnet's NSG allows exactly the regional entries, and
    whose storage firewall admits the subnet through a Microsoft.Storage.Global endpoint."""
    builder = EstateBuilder(location="germanywestcentral")
    vnet = builder.vnet(location="germanywestcentral")
    rules = [allow_batch(source=batch_source), deny_internet_inbound(),
             *_restricted("Storage.GermanyWestCentral", "AzureContainerRegistry.GermanyWestCentral")]
    subnet = builder.subnet(vnet, "snet-train", "10.0.1.0/24", nsg=builder.nsg("nsg-train", rules=rules),
                            service_endpoints=("Microsoft.Storage.Global", "Microsoft.KeyVault"))
    storage = builder.storage_account("stmlgwc", "Deny", subnets=[subnet])
    workspace = builder.workspace("mlw-gwc", storage=storage, key_vault=builder.key_vault("kv-ml-gwc"))
    builder.aml_compute(workspace, "cpu", subnet, location="germanywestcentral")
    builder.network_usages("germanywestcentral")
    _with_tags(builder, "germanywestcentral", "AzureMachineLearning", "BatchNodeManagement", "Storage",
               "AzureContainerRegistry", "BatchNodeManagement.GermanyWestCentral", "BatchNodeManagement.GermanyNorth",
               "Storage.GermanyWestCentral", "AzureContainerRegistry.GermanyWestCentral")
    return builder.document()


@pytest.mark.parametrize(("batch_source", "batch_status"), [("BatchNodeManagement.GermanyWestCentral", "pass"),
                                                            ("BatchNodeManagement.GermanyNorth", "fail")])
def test_a_live_scan_finds_the_regional_entries_by_name(batch_source: str, batch_status: str,
                                                        arm_standin: StartStandIn, tmp_path: Path,
                                                        tmp_path_factory: pytest.TempPathFactory) -> None:
    estate = _germany_estate(batch_source)
    standin = arm_standin(estate)

    live = scan_live(standin, tmp_path)

    statuses = {check: status for check, _, status, _ in live.findings}
    assert statuses["compute-batch-inbound"] == batch_status
    assert statuses["compute-outbound-internet"] == "pass"
    assert statuses["storage-vnet-rule"] == "pass"  # through the Microsoft.Storage.Global endpoint
    (batch,) = [message for check, _, _, message in live.findings if check == "compute-batch-inbound"]
    assert "BatchNodeManagement.GermanyWestCentral" in batch and "germanywc" not in batch
    assert live.findings == scan_offline(estate, tmp_path_factory).findings
    assert_only_gets(standin)
