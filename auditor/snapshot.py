"""The snapshot file, `amlaudit.snapshot/v1`: read, validate, write.

A snapshot is what Resource Manager returned, kept as returned, plus what could
not be read. Validation checks the envelope and the fields the graph relies on
(every resource has a string `id` and `type`, lists are lists); the resource
bodies themselves stay plain dicts so nothing Azure sent is lost or renamed.
Readers ignore keys they don't know (`extra="allow"`), as the contract says.
"""

from __future__ import annotations

import gc
import gzip
import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError

from amlaudit.auditor.fsio import atomic_write

SNAPSHOT_FORMAT = "amlaudit.snapshot/v1"
_GZIP_MAGIC = b"\x1f\x8b"


class SnapshotError(Exception):
    """The snapshot cannot be used; the message is one line naming the problem."""


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class SubscriptionEntry(_Open):
    subscriptionId: str
    displayName: str | None = None
    tenantId: str | None = None


class ResourceHeader(_Open):
    """Only what the graph needs to place a resource; the body stays a dict."""

    model_config = ConfigDict(extra="ignore")
    id: str = Field(min_length=1)
    type: str = Field(min_length=1)
    name: str | None = None
    location: str | None = None
    properties: dict[str, Any] | None = None


class UsageName(_Open):
    value: str


class UsageEntry(_Open):
    # An entry without its numbers leaves that quota unknown (its check says error); it does
    # not make the whole snapshot unreadable.
    name: UsageName
    currentValue: float | None = None
    limit: float | None = None


class UsageBlock(_Open):
    subscription_id: str
    location: str
    value: list[UsageEntry]


class ServiceTagValue(_Open):
    name: str
    properties: dict[str, Any] = Field(default_factory=dict)


class ServiceTagBody(_Open):
    values: list[ServiceTagValue]


class ServiceTagBlock(_Open):
    location: str
    body: ServiceTagBody


class LockProperties(_Open):
    level: str


class LockEntry(_Open):
    id: str = Field(min_length=1)
    properties: LockProperties


class CollectionError(_Open):
    scope: str
    operation: str | None = None
    status: int | None = None
    code: str | None = None
    message: str | None = None


class SnapshotScope(_Open):
    """What a collection was asked for (amlaudit's collector writes it; other clients need not).
    `workspaces` as `RESOURCE_GROUP/NAME`: a scoped audit reports only what they use (see
    `amlaudit.auditor.scope`); empty means every workspace."""

    subscriptions: list[str] = Field(default_factory=list)
    workspaces: list[Annotated[str, StringConstraints(pattern=r"^[^/]+/[^/]+$")]] = Field(default_factory=list)


class Envelope(_Open):
    format: Literal["amlaudit.snapshot/v1"]
    collected_at: str | None = None
    subscriptions: list[SubscriptionEntry] = Field(default_factory=list)
    # Resources are validated separately (header only) so bodies are not copied.
    resources: list[dict[str, Any]]
    usages: list[UsageBlock] | None = None
    service_tags: list[ServiceTagBlock] | None = None
    locks: list[LockEntry] | None = None
    errors: list[CollectionError] = Field(default_factory=list)
    scope: SnapshotScope | None = None


_ENVELOPE_FIELDS_VALIDATED_ELSEWHERE = {"resources"}
_resource_headers = TypeAdapter(list[ResourceHeader])


@dataclass(slots=True)
class Snapshot:
    """A validated snapshot. `raw` is the document as read; the typed parts point into it.

    `usages`, `service_tags` and `locks` are None when the snapshot does not carry
    the key at all ("not collected"), which checks must report as `error`.
    """

    raw: dict[str, Any]
    resources: list[dict[str, Any]]
    subscriptions: list[SubscriptionEntry]
    usages: list[UsageBlock] | None
    service_tags: list[ServiceTagBlock] | None
    locks: list[LockEntry] | None
    errors: list[CollectionError]
    collected_at: str | None = None
    source: str = field(default="")
    scope_workspaces: tuple[str, ...] = ()
    """`scope.workspaces` of the collection (`RESOURCE_GROUP/NAME`); empty: every workspace."""


def first_validation_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "document"
    extra = len(exc.errors()) - 1
    more = f" (and {extra} more problem{'s' if extra != 1 else ''})" if extra else ""
    return f"{where}: {err['msg']}{more}"


def parse_snapshot(document: Any, source: str = "snapshot") -> Snapshot:
    """Validate a decoded snapshot document; raise SnapshotError with one line on any problem."""
    if not isinstance(document, dict):
        raise SnapshotError(f"{source}: not an amlaudit snapshot (top level is {type(document).__name__}, expected an object)")
    fmt = document.get("format")
    if fmt != SNAPSHOT_FORMAT:
        raise SnapshotError(f"{source}: format is {fmt!r}, expected {SNAPSHOT_FORMAT!r}")
    try:
        envelope = Envelope.model_validate(document)
    except ValidationError as exc:
        raise SnapshotError(f"{source}: invalid snapshot: {first_validation_error(exc)}") from None
    try:
        _resource_headers.validate_python(envelope.resources)
    except ValidationError as exc:
        raise SnapshotError(f"{source}: invalid snapshot: resources.{first_validation_error(exc)}") from None
    return Snapshot(
        raw=document,
        resources=document["resources"],
        subscriptions=envelope.subscriptions,
        usages=envelope.usages,
        service_tags=envelope.service_tags,
        locks=envelope.locks,
        errors=envelope.errors,
        collected_at=envelope.collected_at,
        source=source,
        scope_workspaces=tuple(envelope.scope.workspaces) if envelope.scope is not None else (),
    )


# From this size on, a decoded document is worth keeping out of the cyclic collector's sight.
_FREEZE_FROM_BYTES = 32 * 1024 * 1024


def _decode_json(data: bytes) -> Any:
    """orjson.loads, without the cyclic garbage collector re-scanning a large decoded document.

    JSON cannot express a reference cycle, so the collector can never free any part of the
    document, yet each of its full passes re-traversed the whole tree: on the 1,000-workspace
    benchmark estate (138 MB) that cost 1.9 s of CPU while decoding and about 0.8 s more in
    the later phases (benchmarks/README.md). A large document is therefore decoded with the
    collector paused and then frozen (`gc.freeze`: moved to the permanent generation, which
    only the cyclic collector ignores; reference counting still frees it when dropped).
    Collecting first keeps earlier cyclic garbage from being frozen along with it.
    """
    if len(data) < _FREEZE_FROM_BYTES:
        return orjson.loads(data)
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    try:
        document = orjson.loads(data)
        gc.freeze()
    finally:
        if enabled:
            gc.enable()
    return document


def decode_json_bytes(data: bytes, source: str, error: type[Exception] = SnapshotError) -> Any:
    """JSON, gzip-compressed or not (detected by its magic bytes, not the file name); `error` with one line."""
    if data[:2] == _GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise error(f"{source}: corrupt gzip data ({exc})") from None
    if not data.strip():
        raise error(f"{source}: file is empty")
    try:
        return _decode_json(data)
    except orjson.JSONDecodeError as exc:
        raise error(f"{source}: not valid JSON ({exc})") from None


def read_input_bytes(path: str | os.PathLike[str], what: str, error: type[Exception] = SnapshotError) -> bytes:
    """The bytes of an input file (`what` names it in the one-line `error`)."""
    p = Path(path)
    try:
        return p.read_bytes()
    except FileNotFoundError:
        raise error(f"{p}: no such file") from None
    except IsADirectoryError:
        raise error(f"{p}: is a directory, expected {what}") from None
    except OSError as exc:
        raise error(f"{p}: cannot read ({exc.strerror or exc})") from None


def read_snapshot_bytes(data: bytes, source: str = "snapshot") -> Snapshot:
    """Decode (gzip detected by its magic bytes, not the file name) and validate."""
    return parse_snapshot(decode_json_bytes(data, source), source)


def load_snapshot(path: str | os.PathLike[str]) -> Snapshot:
    """Read a snapshot file (`.json` or `.json.gz`)."""
    return read_snapshot_bytes(read_input_bytes(path, "a snapshot file"), str(Path(path)))


def dump_snapshot_bytes(document: dict[str, Any], compress: bool) -> bytes:
    data = orjson.dumps(document, option=orjson.OPT_INDENT_2 if not compress else 0)
    if compress:
        # mtime=0 keeps the bytes identical for identical snapshots.
        return gzip.compress(data, compresslevel=6, mtime=0)
    return data


def write_snapshot(document: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """Validate then write atomically; gzip when the name ends in `.gz`."""
    parse_snapshot(document, str(path))
    target = Path(path)
    atomic_write(target, dump_snapshot_bytes(document, compress=target.name.endswith(".gz")))
    return target
