"""Service-tag data: index once per run, resolve names to address sets lazily.

Input is what the service-tags API (and the weekly download) returns:
``{"changeNumber": ..., "values": [{"name": "BatchNodeManagement.EastUS",
"properties": {"region": "eastus", "addressPrefixes": [...]}}]}``. A full
file has ~3,000 tags and ~96,000 prefixes; building the index only files each
entry under its lower-cased name, and a tag's prefixes are parsed the first
time the tag is resolved, then cached.

Regional entries are found by NAME (``T.<region>``), never by
``properties.region``: for 14 regions that field is an internal name
(``BatchNodeManagement.GermanyWestCentral`` says ``germanywc``), and
``eastus2`` is the region of both ``Storage.EastUS2`` and ``Storage.EastUS2Stage``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .addresses import AddressSet, Family, parse_block
from .errors import ParseError, ServiceTagDataError, UnknownServiceTagError

MATCHED_BY_NAME = "name"
"""The entry named ``<tag>.<region>`` (the part after the dot compared case-insensitively) was used."""
MATCHED_GLOBAL = "global"
"""No entry is named ``<tag>.<region>``; the global ``<tag>`` entry was used."""
MATCHED_EXACT = "exact"
"""The caller (an NSG rule, a route) named the entry itself."""


def region_key(region: str) -> str:
    """How regions compare: case-insensitive, spaces removed (``"East US"`` is ``eastus``)."""
    return region.lower().replace(" ", "")


@dataclass(frozen=True)
class ResolvedTag:
    """The addresses of one service-tag entry and how it was chosen."""

    name: str
    """The entry's name as the data spells it, e.g. ``BatchNodeManagement.EastUS``."""
    region: str
    """The entry's ``properties.region`` (``""`` for a global entry), as data only: it never
    chooses the entry (see the module docstring)."""
    matched_by: str
    """``"name"``, ``"global"`` or ``"exact"`` (see module constants)."""
    prefixes: tuple[str, ...]
    """The entry's ``addressPrefixes`` as listed (restricted by :meth:`only`)."""
    addresses: AddressSet = field(compare=False)
    requested: str = ""
    """The tag the caller asked for, e.g. ``BatchNodeManagement``."""
    requested_region: str | None = None
    """The region asked for (the VNet's ARM location), as the caller spelled it."""
    family_prefixes: tuple[tuple[str, ...], tuple[str, ...]] | None = field(default=None, compare=False, repr=False)
    """``prefixes`` split into (IPv4, IPv6), computed once when the entry is parsed."""

    def only(self, family: Family) -> ResolvedTag:
        """The same entry restricted to one family (prefixes and addresses)."""
        split = self.family_prefixes if self.family_prefixes is not None else _split_by_family(self.prefixes)
        kept = split[0] if family == 4 else split[1]
        return ResolvedTag(
            name=self.name,
            region=self.region,
            matched_by=self.matched_by,
            prefixes=kept,
            addresses=self.addresses.only(family),
            requested=self.requested,
            requested_region=self.requested_region,
            family_prefixes=(kept, ()) if family == 4 else ((), kept),
        )

    @property
    def label(self) -> str:
        """How evidence names it: ``BatchNodeManagement.EastUS``, or for a fallback
        ``BatchNodeManagement (global; no entry is named BatchNodeManagement.australiaeast)``."""
        if self.matched_by == MATCHED_GLOBAL and self.requested_region:
            return f"{self.name} (global; {self.why_chosen()})"
        return self.name

    def why_chosen(self) -> str:
        """Why this entry, in words: ``the entry named for the VNet's region germanywestcentral``,
        ``no entry is named BatchNodeManagement.australiaeast``, or ``the entry the rule names``."""
        if self.matched_by == MATCHED_BY_NAME:
            return f"the entry named for the VNet's region {self.requested_region}"
        if self.matched_by == MATCHED_GLOBAL and self.requested_region:
            return f"no entry is named {self.requested}.{region_key(self.requested_region)}"
        return "the entry named exactly"


def _split_by_family(prefixes: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    v4 = tuple(prefix for prefix in prefixes if parse_block(prefix)[0] == 4)
    v6 = tuple(prefix for prefix in prefixes if parse_block(prefix)[0] == 6)
    return v4, v6


def _change_number(body: Mapping[str, Any]) -> int:
    # The download has an int, the live API a string.
    try:
        return int(body.get("changeNumber", 0))
    except (TypeError, ValueError):
        return 0


class ServiceTagIndex:
    """Service-tag entries by case-insensitive name, built once per run.

    When several bodies carry the same entry name (the API was listed once
    per location), the body with the highest ``changeNumber`` wins.
    """

    def __init__(self, bodies: Iterable[Mapping[str, Any]]) -> None:
        self._entries: dict[str, Mapping[str, Any]] = {}
        self._resolved: dict[str, ResolvedTag] = {}
        usable = [body for body in bodies if isinstance(body, Mapping)]
        usable.sort(key=_change_number, reverse=True)
        for body in usable:
            values = body.get("values")
            if not isinstance(values, list):
                continue
            for entry in values:
                if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
                    continue
                self._entries.setdefault(entry["name"].lower(), entry)

    @classmethod
    def from_snapshot(cls, service_tags: Iterable[Mapping[str, Any]]) -> ServiceTagIndex:
        """From the snapshot's ``service_tags`` list (``[{"location", "body"}]``)."""
        return cls(item["body"] for item in service_tags if isinstance(item, Mapping) and "body" in item)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, name: str) -> bool:
        return name.lower() in self._entries

    def names(self) -> list[str]:
        """Every entry name as the data spells it."""
        return [entry["name"] for entry in self._entries.values()]

    def get(self, name: str) -> ResolvedTag | None:
        """Exactly the entry ``name`` names (any case), or None when absent.

        Raises ServiceTagDataError when the entry exists but is malformed.
        """
        key = name.lower()
        cached = self._resolved.get(key)
        if cached is not None:
            return cached
        entry = self._entries.get(key)
        if entry is None:
            return None
        resolved = self._parse_entry(entry)
        self._resolved[key] = resolved
        return resolved

    def regional_or_global(self, tag: str, region: str) -> ResolvedTag:
        """The catalog's *tag prefixes* of `tag` for `region` (the ARM location of the VNet):
        the entry named ``<tag>.<region>`` when the data has one, else the global ``<tag>``.
        Names compare case-insensitively and the region's spaces are dropped, so
        ``BatchNodeManagement.GermanyWestCentral`` is the entry for ``germanywestcentral``
        whatever its ``properties.region`` says (``germanywc``), and ``eastus2`` gets
        ``Storage.EastUS2``, never ``Storage.EastUS2Stage``.

        Raises UnknownServiceTagError when neither entry exists, ServiceTagDataError when the
        chosen entry is malformed.
        """
        named_key = f"{tag.lower()}.{region_key(region)}"
        if named_key in self._entries:
            chosen_key, matched_by = named_key, MATCHED_BY_NAME
        elif tag.lower() in self._entries:
            chosen_key, matched_by = tag.lower(), MATCHED_GLOBAL
        else:
            raise UnknownServiceTagError(tag, region)
        resolved = self.get(chosen_key)
        assert resolved is not None  # chosen_key comes from self._entries
        return ResolvedTag(
            name=resolved.name,
            region=resolved.region,
            matched_by=matched_by,
            prefixes=resolved.prefixes,
            addresses=resolved.addresses,
            requested=tag,
            requested_region=region,
            family_prefixes=resolved.family_prefixes,
        )

    @staticmethod
    def _parse_entry(entry: Mapping[str, Any]) -> ResolvedTag:
        name = entry["name"]
        properties = entry.get("properties")
        if not isinstance(properties, Mapping):
            raise ServiceTagDataError(f"service tag {name} has no properties")
        prefixes = properties.get("addressPrefixes")
        if not isinstance(prefixes, list) or not all(isinstance(p, str) for p in prefixes):
            raise ServiceTagDataError(f"service tag {name} has no addressPrefixes list")
        try:
            addresses = AddressSet.parse(prefixes)
        except ParseError as problem:
            raise ServiceTagDataError(f"service tag {name}: {problem}") from None
        region = properties.get("region")
        return ResolvedTag(
            name=name,
            region=region if isinstance(region, str) else "",
            matched_by=MATCHED_EXACT,
            prefixes=tuple(prefixes),
            addresses=addresses,
            requested=name,
            family_prefixes=_split_by_family(tuple(prefixes)),
        )
