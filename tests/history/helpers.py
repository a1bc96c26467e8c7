"""Shared test helpers: the demo audit, runs recorded through the product's own functions."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from functools import cache
from importlib import resources

import sqlalchemy as sa

from amlaudit.auditor.findings import AuditResult, Finding
from amlaudit.auditor.history.record import RunFacts, insert_run
from amlaudit.auditor.history.store import HistoryStore, open_store
from amlaudit.auditor.pipeline import audit_snapshot
from amlaudit.auditor.snapshot import read_snapshot_bytes

DAY0 = datetime(2026, 1, 1, 2, 0, tzinfo=timezone.utc)


@cache
def demo_result() -> AuditResult:
    data = resources.files("amlaudit.fixtures").joinpath("demo.json.gz").read_bytes()
    return audit_snapshot(read_snapshot_bytes(data, "demo estate"))


def facts(day: float = 0, exit_status: int = 1, subscriptions: tuple[str, ...] = ("sub-a",)) -> RunFacts:
    started = DAY0 + timedelta(days=day)
    return RunFacts(started_at=started, finished_at=started + timedelta(seconds=42), user_name="tester",
                    host_name="ci-host", tool_version="0.1.0", subscriptions=subscriptions, fail_on="low",
                    exit_status=exit_status)


def finding(check_id: str, subject: str, status: str, evidence: Mapping[str, object] | None = None) -> Finding:
    from amlaudit.auditor.findings import fingerprint

    return Finding(check_id=check_id, status=status, severity="high", resource_id=subject, title=f"{check_id} title",  # type: ignore[arg-type]
                   message=f"{check_id} says {status}", evidence=dict(evidence or {"why": status}), remediation="fix it",
                   reference="https://example.invalid/doc", fingerprint=fingerprint(check_id, subject))


def result_of(*items: Finding) -> AuditResult:
    return dataclasses.replace(demo_result(), findings=list(items), errors=[], gaps=[])


def record(store: HistoryStore, result: AuditResult, run_facts: RunFacts) -> int:
    with store.writing() as connection:
        return insert_run(connection, result, run_facts)


def open_for_writing(url: str) -> HistoryStore:
    return open_store(url, create=True)


def count(store: HistoryStore, table: str, where: str = "") -> int:
    with store.engine.connect() as connection:
        return int(connection.execute(sa.text(f"SELECT count(*) FROM {table} {where}")).scalar_one())
