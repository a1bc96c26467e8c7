"""Builders for ARM-shaped NSG objects and the real service-tag data, for netpolicy tests."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from amlaudit.auditor.netpolicy import ServiceTagIndex

AZURE_SAMPLES = Path(__file__).resolve().parents[1] / "data" / "azure-samples"

RuleBuilder = Callable[..., dict[str, Any]]
NsgBuilder = Callable[..., dict[str, Any]]


def load_sample(relative: str) -> dict[str, Any]:
    path = AZURE_SAMPLES / relative
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return json.load(handle)


def build_rule(
    name: str,
    priority: int,
    direction: str = "Inbound",
    access: str = "Allow",
    protocol: str = "*",
    src: str | list[str] = "*",
    dst: str | list[str] = "*",
    src_ports: str | list[str] = "*",
    dst_ports: str | list[str] = "*",
    src_asgs: list[str] | None = None,
    dst_asgs: list[str] | None = None,
) -> dict[str, Any]:
    """An ARM security rule; list values go to the plural field with the singular ``""``,
    as ARM returns them."""
    properties: dict[str, Any] = {
        "protocol": protocol,
        "access": access,
        "priority": priority,
        "direction": direction,
        "provisioningState": "Succeeded",
    }
    for singular, plural, value in (
        ("sourceAddressPrefix", "sourceAddressPrefixes", src),
        ("destinationAddressPrefix", "destinationAddressPrefixes", dst),
        ("sourcePortRange", "sourcePortRanges", src_ports),
        ("destinationPortRange", "destinationPortRanges", dst_ports),
    ):
        if isinstance(value, list):
            properties[singular] = ""
            properties[plural] = value
        else:
            properties[singular] = value
            properties[plural] = []
    for key, groups in (("sourceApplicationSecurityGroups", src_asgs), ("destinationApplicationSecurityGroups", dst_asgs)):
        if groups is not None:
            properties[key] = [
                {"id": f"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/applicationSecurityGroups/{g}"}
                for g in groups
            ]
            properties.pop(key.replace("ApplicationSecurityGroups", "AddressPrefix"), None)
            properties[key.replace("ApplicationSecurityGroups", "AddressPrefixes")] = []
    return {
        "name": name,
        "id": f"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/nsg/securityRules/{name}",
        "properties": properties,
    }


def build_nsg(name: str, *rules: dict[str, Any], defaults: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    properties: dict[str, Any] = {"securityRules": list(rules)}
    if defaults is not None:
        properties["defaultSecurityRules"] = defaults
    return {
        "name": name,
        "id": f"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/{name}",
        "type": "Microsoft.Network/networkSecurityGroups",
        "location": "eastus",
        "properties": properties,
    }


@pytest.fixture
def rule() -> RuleBuilder:
    return build_rule


@pytest.fixture
def nsg() -> NsgBuilder:
    return build_nsg


@pytest.fixture(scope="session")
def tags() -> ServiceTagIndex:
    """The 2025-07-28 subset (Batch, AML, ACR, Storage; global and a few regions)."""
    return ServiceTagIndex([load_sample("service-tags/ServiceTags_Public_20250728.subset.json")])


@pytest.fixture(scope="session")
def tags_2020() -> ServiceTagIndex:
    """The 2020-02-24 subset: BatchNodeManagement.EastUS has 17 IPv4 prefixes there."""
    return ServiceTagIndex([load_sample("service-tags/ServiceTags_Public_20200224.subset.json")])


@pytest.fixture(scope="session")
def sample() -> Callable[[str], dict[str, Any]]:
    """Load a file under tests/data/azure-samples (``.gz`` transparently)."""
    return load_sample
