"""Service-tag resolution on the real service-tag files."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from auditor.netpolicy import (
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
    assert len(batch.prefixes) == 18
    global_batch = subset_index.get("BatchNodeManagement")
    assert global_batch is not None
    assert batch.addresses <= global_batch.addresses
    assert batch.addresses != global_batch.addresses


def test_global_entry_when_region_has_none(subset_index: ServiceTagIndex) -> None:
    batch = subset_index.regional_or_global("BatchNodeManagement", "australiaeast")
    assert batch.name == "BatchNodeManagement"
    assert batch.matched_by == "global"
    assert "global" in batch.label and "australiaeast" in batch.label
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


def test_region_field_with_stage_twin_is_resolved_by_name(full_index: ServiceTagIndex) -> None:
    # Storage.EastUS2Stage also says region "eastus2": the name decides.
    storage = full_index.regional_or_global("Storage", "eastus2")
    assert storage.name == "Storage.EastUS2"
    assert len(storage.prefixes) == 140


def test_region_matched_when_name_differs_from_region_field(full_index: ServiceTagIndex) -> None:
    # The entry for ARM location francecentral says region "centralfrance".
    storage = full_index.regional_or_global("Storage", "francecentral")
    assert storage.name == "Storage.FranceCentral"
    # and an entry found only through its region field
    by_region = full_index.regional_or_global("Storage", "centralfrance")
    assert by_region.name == "Storage.FranceCentral"
    assert by_region.matched_by == "region"


def test_rule_lookup_names_exactly_one_entry(full_index: ServiceTagIndex) -> None:
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


def test_two_entries_claiming_a_region_is_an_error() -> None:
    index = ServiceTagIndex(
        [
            {
                "values": [
                    {"name": "Svc.A", "properties": {"region": "eastus", "addressPrefixes": ["1.0.0.0/24"]}},
                    {"name": "Svc.B", "properties": {"region": "eastus", "addressPrefixes": ["2.0.0.0/24"]}},
                ]
            }
        ]
    )
    with pytest.raises(ServiceTagDataError):
        index.regional_or_global("Svc", "eastus")
