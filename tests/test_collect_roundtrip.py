"""Round trip: serving a fixture estate through the stand-in and collecting it live audits the same as the estate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from amlaudit.auditor.collect import CollectOptions, collect
from amlaudit.auditor.findings import AuditResult
from amlaudit.auditor.pipeline import audit_snapshot
from amlaudit.auditor.snapshot import parse_snapshot
from tests.standin.fixtures import StartStandIn, arm_standin, standin_ca  # noqa: F401 - fixtures

ESTATES = sorted((Path(__file__).resolve().parent.parent / "fixtures" / "estates").glob("*.json"))


def _comparable(result: AuditResult) -> dict[str, Any]:
    return {
        "findings": sorted((f.to_dict() for f in result.findings), key=lambda f: (f["check_id"], f["resource_id"].lower())),
        "errors": sorted(result.errors, key=lambda e: (e["scope"].lower(), e.get("operation") or "")),
        "gaps": result.coverage_gaps,
        "summary": result.summary,
    }


def test_there_are_fixture_estates() -> None:
    assert len(ESTATES) >= 4


@pytest.mark.parametrize("estate_file", ESTATES, ids=[p.stem for p in ESTATES])
def test_live_collection_audits_like_the_estate(arm_standin: StartStandIn, estate_file: Path) -> None:
    estate = json.loads(estate_file.read_text())
    expected = audit_snapshot(parse_snapshot(estate, estate_file.name))
    assert expected.findings, "no checks ran: the comparison would prove nothing"
    standin = arm_standin(estate, page_size=1)

    collected = collect(CollectOptions(arm_endpoint=standin.url, max_retries=1, retry_backoff=0.0))

    actual = audit_snapshot(parse_snapshot(collected, "live collection"))
    assert _comparable(actual) == _comparable(expected)
    assert {r.method for r in standin.requests} == {"GET"}
