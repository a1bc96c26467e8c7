"""Service-tag data: index once per run, resolve names to address sets lazily.

Input is what the service-tags API (and the weekly download) returns:
``{"changeNumber": ..., "values": [{"name": "BatchNodeManagement.EastUS",
"properties": {"region": "eastus", "addressPrefixes": [...]}}]}``. A full
file has ~3,000 tags and ~96,000 prefixes; building the index only files each
entry under its lower-cased name and region, and a tag's prefixes are parsed
the first time the tag is resolved, then cached.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .addresses import AddressSet, Family, parse_block
from .errors import ParseError, ServiceTagDataError, UnknownServiceTagError

MATCHED_BY_REGION = "region"
"""The only ``<tag>.<something>`` entry whose ``properties.region`` is the region."""
MATCHED_BY_REGION_AND_NAME = "region and name"
"""Several ``<tag>.*`` entries claim the region (``Storage.EastUS2`` and
``Storage.EastUS2Stage`` both say ``eastus2``); the one named ``<tag>.<region>`` was used."""
MATCHED_GLOBAL = "global"
"""No ``<tag>.*`` entry claims the region; the global ``<tag>`` entry was used."""
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
    """The entry's ``properties.region`` (``""`` for a global entry)."""
    matched_by: str
    """``"region"``, ``"region and name"``, ``"global"`` or ``"exact"`` (see module constants)."""
    prefixes: tuple[str, ...]
    """The entry's ``addressPrefixes`` as listed (restricted by :meth:`only`)."""
    addresses: AddressSet = field(compare=False)
    requested: str = ""
    """The tag the caller asked for, e.g. ``BatchNodeManagement``."""
    requested_region: str | None = None
    family_prefixes: tuple[tuple[str, ...], tuple[str, ...]] | None = field(default=None, compare=False, repr=False)
    """``prefixes`` split into (IPv4, IPv6), computed once when the entry is parsed."""
    passed_over: str | None = None
    """For a global fallback: the entry NAMED ``<tag>.<region>`` that was not used because its
    ``properties.region`` is another (``"BatchNodeManagement.FranceCentral (region centralfrance)"``)."""

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
            passed_over=self.passed_over,
        )

    @property
    def label(self) -> str:
        """How evidence names it: ``BatchNodeManagement.EastUS``, or for a fallback
        ``BatchNodeManagement (global; no BatchNodeManagement.* entry has region australiaeast)``."""
        if self.matched_by == MATCHED_GLOBAL and self.requested_region:
            text = f"{self.name} (global; no {self.requested}.* entry has region {self.requested_region}"
            if self.passed_over:
                text += f"; {self.passed_over} is another region's"
            return text + ")"
        return self.name


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
        self._regional_names: dict[str, list[str]] = {}
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
                key = entry["name"].lower()
                if key in self._entries:
                    continue
                self._entries[key] = entry
                properties = entry.get("properties")
                region = properties.get("region") if isinstance(properties, Mapping) else None
                if isinstance(region, str) and region and "." in key:
                    self._regional_names.setdefault(region_key(region), []).append(key)

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
        """``<tag>.<region>`` when the data has it, else the global ``<tag>``, as the catalog
        words it: the regional entry is a ``<tag>.<something>`` entry whose
        ``properties.region`` equals ``region`` (the ARM location; compared case-insensitively,
        spaces removed), whatever its name says.

        Real data needs both halves of that sentence. Several entries may claim a region
        (``Storage.EastUS2Stage`` also says ``eastus2``): the one whose name suffix is the
        region wins; if none is, the data is ambiguous (ServiceTagDataError). And a
        name is not a region: ``BatchNodeManagement.FranceCentral`` says region
        ``centralfrance``, so a ``francecentral`` VNet gets the global ``BatchNodeManagement``
        (the result's ``passed_over`` names the entry that was not used). Raises
        UnknownServiceTagError when neither a regional nor a global entry exists,
        ServiceTagDataError when the chosen entry is malformed.
        """
        tag_key = tag.lower()
        wanted_region = region_key(region)
        named_key = f"{tag_key}.{wanted_region}"
        claimants = [key for key in self._regional_names.get(wanted_region, ()) if key.startswith(tag_key + ".")]
        chosen_key: str | None = None
        matched_by = MATCHED_GLOBAL
        passed_over: str | None = None
        if len(claimants) == 1:
            chosen_key, matched_by = claimants[0], MATCHED_BY_REGION
        elif claimants:
            if named_key not in claimants:
                spelled = ", ".join(self._entries[key]["name"] for key in claimants)
                raise ServiceTagDataError(
                    f"several entries of {tag} claim region {region} and none is named {tag}.{region}: {spelled}"
                )
            chosen_key, matched_by = named_key, MATCHED_BY_REGION_AND_NAME
        else:
            if tag_key in self._entries:
                chosen_key = tag_key
            named = self._entries.get(named_key)
            if named is not None:
                properties = named.get("properties")
                its_region = properties.get("region") if isinstance(properties, Mapping) else None
                passed_over = f"{named['name']} (region {its_region or 'not given'})"
        if chosen_key is None:
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
            passed_over=passed_over,
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
