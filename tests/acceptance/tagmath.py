"""Service-tag arithmetic done independently of amlaudit, with the standard library only.

The catalog's "tag prefixes" rule: for tag T and region R (the VNet's ARM location) use the entry
named `T.<R>` (the part after the dot compared with R case-insensitively) when it exists, else `T`;
`properties.region` plays no part; an IPv4-only subnet is judged on the IPv4 prefixes.
"""

from __future__ import annotations

import gzip
import ipaddress
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from tests.estates import SERVICE_TAGS_SUBSET

SERVICE_TAGS_2020_SUBSET = SERVICE_TAGS_SUBSET.parent / "ServiceTags_Public_20200224.subset.json"


@lru_cache(maxsize=4)
def _tags_text(path: Path) -> str:
    if path.suffix == ".gz":
        return gzip.decompress(path.read_bytes()).decode()
    return path.read_text()


def tags_body(path: Path = SERVICE_TAGS_SUBSET) -> dict[str, Any]:
    """A fresh copy of a service-tags download (the body the service-tags API returns)."""
    return json.loads(_tags_text(path))


@lru_cache(maxsize=64)
def _entries(path: Path) -> tuple[tuple[str, str, tuple[str, ...]], ...]:
    body = json.loads(_tags_text(path))
    return tuple(
        (v["name"], v["properties"].get("region") or "", tuple(v["properties"]["addressPrefixes"])) for v in body["values"]
    )


def entry_ipv4(name: str, path: Path = SERVICE_TAGS_SUBSET) -> list[ipaddress.IPv4Network]:
    """The IPv4 prefixes of exactly the entry called `name`."""
    for entry_name, _, prefixes in _entries(path):
        if entry_name == name:
            return [n for n in (ipaddress.ip_network(p) for p in prefixes) if isinstance(n, ipaddress.IPv4Network)]
    raise KeyError(name)


def entry_has_ipv6(name: str, path: Path = SERVICE_TAGS_SUBSET) -> bool:
    for entry_name, _, prefixes in _entries(path):
        if entry_name == name:
            return any(":" in p for p in prefixes)
    raise KeyError(name)


def tag_prefixes_for_region(tag: str, region: str, path: Path = SERVICE_TAGS_SUBSET) -> tuple[str, list[ipaddress.IPv4Network]]:
    """The entry the catalog says to use for `tag` in `region`, and its IPv4 prefixes: the entry
    named `tag.region` (case-insensitively), else `tag`."""
    wanted = f"{tag}.{region}".lower()
    for entry_name, _, _ in _entries(path):
        if entry_name.lower() == wanted:
            return entry_name, entry_ipv4(entry_name, path)
    return tag, entry_ipv4(tag, path)


def covered(inner: list[ipaddress.IPv4Network], outer: list[ipaddress.IPv4Network]) -> bool:
    """Every address of `inner` lies in some network of `outer` (after collapsing `outer`)."""
    merged = list(ipaddress.collapse_addresses(outer))
    return all(any(n.subnet_of(m) for m in merged) for n in ipaddress.collapse_addresses(inner))


def cidr_strings(networks: list[ipaddress.IPv4Network]) -> list[str]:
    return [str(n) for n in networks]
