import gzip
import json
from pathlib import Path

import pytest

from amlaudit.auditor.snapshot import SnapshotError, load_snapshot, parse_snapshot, write_snapshot
from tests.estates import EstateBuilder


def _doc() -> dict:
    b = EstateBuilder()
    b.workspace(storage=b.storage_account(), key_vault=b.key_vault())
    b.network_usages()
    b.real_service_tags()
    return b.document()


def test_round_trip_plain_and_gzip(tmp_path: Path) -> None:
    doc = _doc()
    for name in ("s.json", "s.json.gz"):
        path = write_snapshot(doc, tmp_path / name)
        loaded = load_snapshot(path)
        assert loaded.raw == doc
        assert len(loaded.resources) == 3
        assert loaded.usages is not None and loaded.usages[0].value[1].name.value == "NetworkSecurityGroups"
    assert (tmp_path / "s.json.gz").read_bytes()[:2] == b"\x1f\x8b"


def test_gzip_detected_by_content_not_name(tmp_path: Path) -> None:
    path = tmp_path / "snapshot.json"
    path.write_bytes(gzip.compress(json.dumps(_doc()).encode()))
    assert load_snapshot(path).raw["format"] == "amlaudit.snapshot/v1"


def test_unknown_keys_are_ignored_and_missing_sections_mean_not_collected() -> None:
    doc = _doc()
    doc["future_section"] = {"x": 1}
    doc["resources"][0]["brandNewField"] = True
    del doc["usages"], doc["locks"]
    snap = parse_snapshot(doc)
    assert snap.usages is None and snap.locks is None and snap.service_tags is not None


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d.update(format="amlaudit.snapshot/v2"), "format is 'amlaudit.snapshot/v2'"),
        (lambda d: d.pop("format"), "format is None"),
        (lambda d: d.update(resources="x"), "resources"),
        (lambda d: d["resources"][0].pop("id"), "resources.0.id"),
        (lambda d: d["resources"][1].update(id=42), "resources.1.id"),
        (lambda d: d["resources"][0].update(type=""), "resources.0.type"),
        (lambda d: d.update(errors=[{"status": 403}]), "errors.0.scope"),
        (lambda d: d["usages"][0]["value"][0].pop("name"), "usages.0.value.0.name"),
        (lambda d: d.update(locks=[{"id": "/subscriptions/x/providers/Microsoft.Authorization/locks/l"}]), "locks.0.properties"),
    ],
)
def test_invalid_documents_name_the_problem(mutate, expected: str) -> None:
    doc = _doc()
    mutate(doc)
    with pytest.raises(SnapshotError) as info:
        parse_snapshot(doc, "s.json")
    message = str(info.value)
    assert expected in message and "\n" not in message


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "empty"),
        (b'{"format": "amlaudit.snapshot/v1", "resources": [', "not valid JSON"),
        (b"hello", "not valid JSON"),
        (b"\x1f\x8b\x08\x00garbage", "corrupt gzip"),
        (b"[1, 2]", "top level is list"),
    ],
)
def test_unreadable_files(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "s.json"
    path.write_bytes(content)
    with pytest.raises(SnapshotError, match=expected):
        load_snapshot(path)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(SnapshotError, match="no such file"):
        load_snapshot(tmp_path / "missing.json")
    with pytest.raises(SnapshotError, match="directory"):
        load_snapshot(tmp_path)


def test_write_refuses_invalid_and_keeps_previous(tmp_path: Path) -> None:
    path = write_snapshot(_doc(), tmp_path / "s.json")
    before = path.read_bytes()
    with pytest.raises(SnapshotError):
        write_snapshot({"format": "amlaudit.snapshot/v1", "resources": "x"}, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["s.json"]


def test_a_usage_without_its_numbers_leaves_that_quota_unknown() -> None:
    doc = _doc()
    doc["usages"][0]["value"][1].pop("limit")  # NetworkSecurityGroups
    snap = parse_snapshot(doc)
    from amlaudit.auditor.graph import build_estate

    usages = build_estate(snap).usages_for(snap.usages[0].subscription_id, snap.usages[0].location)
    assert usages is not None and usages.get("NetworkSecurityGroups") is None and usages.get("LoadBalancers") is not None
