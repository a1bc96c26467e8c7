"""Record one run: a row in `amlaudit_runs`, one row per finding in `amlaudit_findings`.

Rows are built as plain dicts and inserted with one executemany (the driver's bulk
path), not as ORM objects: a 1,000-workspace estate has 25,000 findings.

Evidence is kept for findings that need attention (`fail`, `error`, any status added
later), not for `pass` and `not_applicable`. Measured on the 1,000-workspace benchmark
estate: evidence of all findings is 21 MB a run, 18 MB of it on passes, while what a
reviewer looks up later ("why did this fail on March 3rd") is the 2.5 MB of the failures.
One finding's evidence above MAX_EVIDENCE_BYTES (the largest seen there is 10 KB) is
replaced by a marker saying how large it was, so one pathological plug-in cannot bloat
every row of the history.
"""

from __future__ import annotations

import getpass
import os
import socket
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import orjson
from sqlalchemy.engine import Connection

from amlaudit.auditor import __version__
from amlaudit.auditor.findings import AuditResult, Finding
from amlaudit.auditor.history.schema import findings, runs

MAX_EVIDENCE_BYTES = 32 * 1024
SETTLED_STATUSES = frozenset({"pass", "not_applicable"})


@dataclass(frozen=True, slots=True)
class RunFacts:
    """Who ran what, where and when; the outcome beside the findings."""

    started_at: datetime
    finished_at: datetime
    user_name: str
    host_name: str
    tool_version: str
    subscriptions: tuple[str, ...]
    fail_on: str
    exit_status: int


def run_facts(started_at: datetime, subscriptions: Iterable[str], fail_on: str, exit_status: int,
              finished_at: datetime | None = None) -> RunFacts:
    return RunFacts(
        started_at=started_at,
        finished_at=finished_at or datetime.now(timezone.utc),
        user_name=_user_name(),
        host_name=socket.gethostname() or "unknown",
        tool_version=__version__,
        subscriptions=tuple(subscriptions),
        fail_on=fail_on,
        exit_status=exit_status,
    )


def _user_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a container user with no passwd entry and no LOGNAME/USER
        return f"uid {os.getuid()}" if hasattr(os, "getuid") else "unknown"


def insert_run(connection: Connection, result: AuditResult, facts: RunFacts) -> int:
    """Insert the run and its findings on `connection` (the caller's transaction); return the run id."""
    key = connection.execute(runs.insert().values(run_row(result, facts))).inserted_primary_key
    assert key is not None  # a single-row insert always reports its key
    run_id = int(key[0])
    rows = finding_rows(run_id, result.findings)
    if rows:
        connection.execute(findings.insert(), rows)
    return run_id


def run_row(result: AuditResult, facts: RunFacts) -> dict[str, Any]:
    summary = result.summary
    return {
        "run_uid": uuid.uuid4().hex,
        "started_at": facts.started_at,
        "finished_at": facts.finished_at,
        "user_name": facts.user_name,
        "host_name": facts.host_name,
        "tool_version": facts.tool_version,
        "snapshot_source": result.snapshot_source,
        "snapshot_collected_at": result.snapshot_collected_at,
        "subscriptions": orjson.dumps(list(facts.subscriptions)).decode(),
        "fail_on": facts.fail_on,
        "exit_status": facts.exit_status,
        "n_fail": summary.get("fail", 0),
        "n_error": summary.get("error", 0),
        "n_pass": summary.get("pass", 0),
        "n_not_applicable": summary.get("not_applicable", 0),
        "n_findings": len(result.findings),
        "n_collection_errors": len(result.errors),
        "n_coverage_gaps": len(result.coverage_gaps),
    }


def finding_rows(run_id: int, items: Iterable[Finding]) -> list[dict[str, Any]]:
    return [
        {
            "run_id": run_id,
            "fingerprint": f.fingerprint,
            "check_id": f.check_id,
            "status": f.status,
            "severity": f.severity,
            "subject": f.resource_id,
            "message": f.message,
            "evidence": None if f.status in SETTLED_STATUSES else evidence_json(f.evidence),
            "annotations": _annotations_json(f),
        }
        for f in items
    ]


def evidence_json(evidence: dict[str, Any]) -> str:
    data = orjson.dumps(evidence, default=_json_default, option=orjson.OPT_NON_STR_KEYS)
    if len(data) > MAX_EVIDENCE_BYTES:
        data = orjson.dumps({"amlaudit_evidence_omitted": {"bytes": len(data), "limit": MAX_EVIDENCE_BYTES}})
    return data.decode()


def _annotations_json(finding: Finding) -> str | None:
    notes = {name: value for name in ("waiver", "baseline") if (value := getattr(finding, name)) is not None}
    return orjson.dumps(notes, default=_json_default).decode() if notes else None


def _json_default(value: object) -> object:
    # As findings.json shows them: a set has no order of its own, anything else as text.
    if isinstance(value, (set, frozenset)):
        return sorted(str(v) for v in value)
    return str(value)
