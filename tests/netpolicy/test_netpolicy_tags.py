"""Service-tag resolution on the real service-tag files."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from amlaudit.auditor.netpolicy import (
    AddressSet,
    ServiceTagDataError,
    ServiceTagIndex,
    UnknownServiceTagError,
)

SERVICE_TAGS = Path(__file__).resolve().parents[1] / "data" / "azure-samples" / "service-tags"


def load(name: str) -> dict[str, Any]:
    path = SERVICE_TAGS / name
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return json.load(handle)


@pytest.fixture(scope="module")
def full_index() -> ServiceTagIndex:
    return ServiceTagIndex([load("ServiceTags_Public_20251109.json.gz")])


@pytest.fixture(scope="module")
def subset_index() -> ServiceTagIndex:
    return ServiceTagIndex([load("ServiceTags_Public_20250728.subset.json")])


def test_full_file_is_indexed_case_insensitively(full_index: ServiceTagIndex) -> None:
    assert len(full_index) == 3041
    assert "batchnodemanagement.eastus" in full_index
    azure_cloud = full_index.get("AZURECLOUD")
    assert azure_cloud is not None and azure_cloud.name == "AzureCloud"
    assert len(azure_cloud.prefixes) == 13155


def test_regional_entry_is_preferred_over_global(subset_index: ServiceTagIndex) -> None:
    batch = subset_index.regional_or_global("BatchNodeManagement", "eastus")
    assert batch.name == "BatchNodeManagement.EastUS"
    assert batch.matched_by == "name"
    assert batch.why_chosen() == "the entry named for the VNet's region eastus"
    assert len(batch.prefixes) == 18
    global_batch = subset_index.get("BatchNodeManagement")
    assert global_batch is not None
    assert batch.addresses <= global_batch.addresses
    assert batch.addresses != global_batch.addresses


def test_global_entry_when_region_has_none(subset_index: ServiceTagIndex) -> None:
    batch = subset_index.regional_or_global("BatchNodeManagement", "australiaeast")
    assert batch.name == "BatchNodeManagement"
    assert batch.matched_by == "global"
    assert batch.label == "BatchNodeManagement (global; no entry is named BatchNodeManagement.australiaeast)"
    assert len(batch.prefixes) == 450


def test_unknown_tag_is_distinct_from_empty(subset_index: ServiceTagIndex) -> None:
    with pytest.raises(UnknownServiceTagError) as raised:
        subset_index.regional_or_global("AzureCosmosDB", "eastus")
    assert raised.value.tag == "AzureCosmosDB"
    assert subset_index.get("AzureCosmosDB") is None


def test_ipv6_prefixes_present_and_family_restriction(subset_index: ServiceTagIndex) -> None:
    batch = subset_index.regional_or_global("BatchNodeManagement", "eastus")
    assert batch.addresses.families == (4, 6)
    ipv6_prefixes = [prefix for prefix in batch.prefixes if ":" in prefix]
    assert ipv6_prefixes  # the real data carries IPv6 prefixes
    ipv4_only = batch.only(4)
    assert ipv4_only.addresses.families == (4,)
    assert len(ipv4_only.prefixes) == len(batch.prefixes) - len(ipv6_prefixes)
    assert ipv4_only.addresses == AddressSet.parse([p for p in batch.prefixes if ":" not in p])
    assert ipv4_only.name == batch.name


def test_a_stage_twin_sharing_the_region_field_is_never_used(full_index: ServiceTagIndex) -> None:
    # Storage.EastUS2Stage also says region "eastus2"; the name decides, so eastus2 gets Storage.EastUS2.
    assert full_index.get("Storage.EastUS2Stage").region == "eastus2"  # type: ignore[union-attr]
    storage = full_index.regional_or_global("Storage", "eastus2")
    assert storage.name == "Storage.EastUS2"
    assert storage.matched_by == "name"
    assert len(storage.prefixes) == 140


def test_an_entry_named_for_the_region_is_used_whatever_its_region_field_says(full_index: ServiceTagIndex) -> None:
    # BatchNodeManagement.FranceCentral says "centralfrance": the name is what counts.
    named = full_index.get("BatchNodeManagement.FranceCentral")
    assert named is not None and named.region == "centralfrance"
    batch = full_index.regional_or_global("BatchNodeManagement", "francecentral")
    assert (batch.name, batch.matched_by) == ("BatchNodeManagement.FranceCentral", "name")
    assert batch.addresses == named.addresses
    assert batch.label == "BatchNodeManagement.FranceCentral"
    # The internal region name is not a location: nothing is named Storage.centralfrance.
    by_region_field = full_index.regional_or_global("Storage", "centralfrance")
    assert (by_region_field.name, by_region_field.matched_by) == ("Storage", "global")


def test_regions_compare_without_case_or_spaces(subset_index: ServiceTagIndex) -> None:
    assert subset_index.regional_or_global("batchnodemanagement", "East US").name == "BatchNodeManagement.EastUS"


def _index(*entries: tuple[str, str, str]) -> ServiceTagIndex:
    """An index of (name, region, prefix) entries."""
    return ServiceTagIndex([{"values": [{"name": name, "properties": {"region": region, "addressPrefixes": [prefix]}}
                                        for name, region, prefix in entries]}])


def test_an_entry_named_otherwise_is_not_found_by_its_region_field() -> None:
    index = _index(("Svc", "", "9.0.0.0/8"), ("Svc.Paris", "francecentral", "1.0.0.0/24"))
    found = index.regional_or_global("Svc", "FranceCentral")
    assert (found.name, found.matched_by) == ("Svc", "global")
    assert found.why_chosen() == "no entry is named Svc.francecentral"


def test_another_tag_named_for_the_region_is_not_taken() -> None:
    index = _index(("Svc", "", "9.0.0.0/8"), ("SvcExtra.EastUS", "eastus", "1.0.0.0/24"))
    assert index.regional_or_global("Svc", "eastus").name == "Svc"


def test_a_longer_name_starting_with_the_region_is_not_taken() -> None:
    index = _index(("Svc", "", "9.0.0.0/8"), ("Svc.EastUS2Stage", "eastus2", "2.0.0.0/24"))
    assert index.regional_or_global("Svc", "eastus2").name == "Svc"


def test_a_named_entry_of_another_region_without_a_global_entry_is_unknown() -> None:
    index = _index(("Svc.FranceCentral", "centralfrance", "1.0.0.0/24"))
    with pytest.raises(UnknownServiceTagError) as raised:
        index.regional_or_global("Svc", "germanywestcentral")
    assert str(raised.value) == ("neither an entry named Svc.germanywestcentral nor the global Svc is in the "
                                 "service-tag data")


def test_rule_lookup_names_exactly_one_entry(full_index: ServiceTagIndex) -> None:
    # A rule naming an entry gets exactly that entry, whatever region it says.
    france = full_index.get("BatchNodeManagement.FranceCentral")
    assert france is not None and france.name == "BatchNodeManagement.FranceCentral" and france.matched_by == "exact"
    regional = full_index.get("storage.eastus")
    global_storage = full_index.get("Storage")
    assert regional is not None and global_storage is not None
    assert regional.name == "Storage.EastUS"
    assert regional.addresses <= global_storage.addresses
    assert regional.addresses != global_storage.addresses


def test_newest_body_wins_and_live_api_change_numbers_are_strings() -> None:
    older = {"changeNumber": "5", "values": [{"name": "X", "properties": {"addressPrefixes": ["1.0.0.0/24"]}}]}
    newer = {"changeNumber": "12", "values": [{"name": "X", "properties": {"addressPrefixes": ["2.0.0.0/24"]}}]}
    index = ServiceTagIndex([older, newer])
    resolved = index.get("x")
    assert resolved is not None and resolved.addresses == AddressSet.parse("2.0.0.0/24")


def test_snapshot_shape_is_accepted() -> None:
    body = load("ServiceTags_Public_20200224.subset.json")
    index = ServiceTagIndex.from_snapshot([{"location": "eastus", "body": body}, {"location": "westus"}])
    assert index.regional_or_global("Storage", "eastus").name == "Storage.EastUS"


def test_malformed_entry_fails_closed() -> None:
    index = ServiceTagIndex(
        [{"values": [{"name": "Broken", "properties": {"addressPrefixes": ["10.0.0.0/99"]}}, {"name": "NoPrefixes", "properties": {}}]}]
    )
    with pytest.raises(ServiceTagDataError):
        index.get("Broken")
    with pytest.raises(ServiceTagDataError):
        index.regional_or_global("NoPrefixes", "eastus")


def test_entries_claiming_the_region_without_its_name_are_ignored() -> None:
    # Two entries say region eastus but neither is named Svc.EastUS: the global entry applies.
    index = _index(("Svc", "", "9.0.0.0/8"), ("Svc.A", "eastus", "1.0.0.0/24"), ("Svc.B", "eastus", "2.0.0.0/24"))
    found = index.regional_or_global("Svc", "eastus")
    assert (found.name, found.matched_by) == ("Svc", "global")


def test_of_two_entries_claiming_a_region_the_one_named_for_it_is_used() -> None:
    index = _index(("Svc.EastUS2", "eastus2", "1.0.0.0/24"), ("Svc.EastUS2Stage", "eastus2", "2.0.0.0/24"))
    found = index.regional_or_global("Svc", "eastus2")
    assert (found.name, found.matched_by) == ("Svc.EastUS2", "name")
    assert found.addresses == AddressSet.parse("1.0.0.0/24")


def _differing_entries() -> list[tuple[str, str, str]]:
    """(tag, name suffix, properties.region) of every regional entry of the 2025-11-09 download
    whose name suffix is not its region field."""
    return sorted((value["name"].split(".", 1)[0], value["name"].split(".", 1)[1], value["properties"]["region"])
                  for value in load("ServiceTags_Public_20251109.json.gz")["values"]
                  if "." in value["name"] and value["properties"].get("region")
                  and value["name"].split(".", 1)[1].lower() != value["properties"]["region"].lower())


def test_every_entry_whose_region_field_differs_from_its_name_is_found_by_name(full_index: ServiceTagIndex) -> None:
    differing = _differing_entries()
    suffixes = {suffix for _, suffix, _ in differing}
    assert len(suffixes) == 14  # 12 regions with internal names, and the EastUS2Stage / NorthCentralUSStage twins
    assert {"GermanyWestCentral", "FranceCentral", "SwitzerlandNorth", "EastUS2Stage"} <= suffixes
    for tag, suffix, _ in differing:
        found = full_index.regional_or_global(tag, suffix.lower())
        assert (found.name, found.matched_by) == (f"{tag}.{suffix}", "name"), (tag, suffix)
