"""Read the history back: the runs, failures per check over time, how long findings stay open.

Each function takes a connection and returns plain rows (dataclasses, times in UTC);
printing and CSV are the command's business. The counting is done by the database
(GROUP BY over the trend indexes); only the open-age walk runs in Python, over the
observations of the findings that failed.

No pandas here: `history --trend` has a 1 s budget as a whole command, and importing
pandas alone took 0.45-0.8 s of CPU on this machine (docs/history.md, "Performance").

Open age, per fingerprint that failed in the runs considered (its observations ordered
by run start):
- `last_seen`: the last run in which it failed;
- `first_seen`: the first failure of the streak that ends there. A streak is broken only
  by a run that observed the finding passing or not applicable; a run that could not
  verify it (`error`), or did not report it at all, neither ends nor extends the streak;
- `state`: `open` (its latest observation is a failure, in the latest run considered),
  `resolved` (observed passing or not applicable after the last failure), `unverified`
  (observed only as `error` since), `gone` (not reported by any run after its last
  failure: the subject was deleted, or the later runs audited another scope);
- `days_open`: from `first_seen` to the run that resolved it, or to its latest
  observation when unresolved.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from amlaudit.auditor.history.schema import findings, runs
from amlaudit.auditor.history.series import HistoryTrend, RunPoint

SETTLED = frozenset({"pass", "not_applicable"})
REPORT_RUNS = 30  # runs shown in the HTML report's chart
_STATE_ORDER = {"open": 0, "unverified": 1, "gone": 2, "resolved": 3}


@dataclass(frozen=True, slots=True)
class RunRow:
    run: int
    started: datetime
    finished: datetime
    user: str
    host: str
    version: str
    source: str
    subscriptions: tuple[str, ...]
    fail_on: str
    exit: int
    fail: int
    error: int
    passed: int
    not_applicable: int
    findings: int
    collection_errors: int
    coverage_gaps: int


@dataclass(frozen=True, slots=True)
class FailureCount:
    check_id: str
    run: int
    started: datetime
    failures: int


@dataclass(frozen=True, slots=True)
class FindingAge:
    check_id: str
    subject: str
    fingerprint: str
    state: str
    first_seen: datetime
    last_seen: datetime
    days_open: float
    runs_failed: int


def _utc(value: datetime) -> datetime:
    # SQLite hands back naive datetimes (stored as UTC), PostgreSQL aware ones.
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def _window(last: int | None) -> Any:
    """Ids of the last N runs by start time (all runs when N is None), as a subquery."""
    query = sa.select(runs.c.id).order_by(runs.c.started_at.desc(), runs.c.id.desc())
    return (query.limit(last) if last is not None else query).scalar_subquery()


def _window_runs(connection: Connection, last: int | None) -> list[tuple[int, datetime]]:
    """(run id, start) of the window, oldest first."""
    rows = connection.execute(sa.select(runs.c.id, runs.c.started_at).where(runs.c.id.in_(_window(last)))
                              .order_by(runs.c.started_at, runs.c.id)).all()
    return [(int(r.id), _utc(r.started_at)) for r in rows]


def run_count(connection: Connection) -> int:
    return int(connection.execute(sa.select(sa.func.count()).select_from(runs)).scalar_one())


def list_runs(connection: Connection, last: int | None = None) -> list[RunRow]:
    """One row per run, oldest first."""
    rows = connection.execute(sa.select(runs).where(runs.c.id.in_(_window(last)))
                              .order_by(runs.c.started_at, runs.c.id)).all()
    return [
        RunRow(run=int(r.id), started=_utc(r.started_at), finished=_utc(r.finished_at), user=r.user_name,
               host=r.host_name, version=r.tool_version, source=r.snapshot_source,
               subscriptions=_subscriptions(r.subscriptions), fail_on=r.fail_on, exit=int(r.exit_status),
               fail=int(r.n_fail), error=int(r.n_error), passed=int(r.n_pass),
               not_applicable=int(r.n_not_applicable), findings=int(r.n_findings),
               collection_errors=int(r.n_collection_errors), coverage_gaps=int(r.n_coverage_gaps))
        for r in rows
    ]


def _subscriptions(text: str) -> tuple[str, ...]:
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return (text,)
    return tuple(str(v) for v in value) if isinstance(value, list) else (str(value),)


def failures_per_check(connection: Connection, last: int | None = None, check_id: str | None = None) -> list[FailureCount]:
    """(check, run) -> failures for every check that failed somewhere in the window, zeros included.

    Ordered by check, then run start.
    """
    window = _window_runs(connection, last)
    query = (
        sa.select(findings.c.check_id, findings.c.run_id, sa.func.count().label("failures"))
        .where(findings.c.run_id.in_(_window(last)), findings.c.status == "fail")
        .group_by(findings.c.run_id, findings.c.check_id)
    )
    if check_id is not None:
        query = query.where(findings.c.check_id == check_id)
    counts: dict[str, dict[int, int]] = defaultdict(dict)
    for row in connection.execute(query):
        counts[row.check_id][int(row.run_id)] = int(row.failures)
    return [FailureCount(check, run_id, started, counts[check].get(run_id, 0))
            for check in sorted(counts) for run_id, started in window]


def finding_ages(connection: Connection, last: int | None = None, check_id: str | None = None) -> list[FindingAge]:
    """One row per fingerprint that failed in the window (see the module docstring).

    Open findings first (oldest first), then unverified, gone and resolved ones.
    """
    window = _window_runs(connection, last)
    if not window:
        return []
    position = {run_id: index for index, (run_id, _) in enumerate(window)}
    failing = sa.select(sa.func.max(findings.c.id)).where(findings.c.status == "fail").group_by(findings.c.fingerprint)
    if last is not None:
        failing = failing.where(findings.c.run_id.in_(_window(last)))
    if check_id is not None:
        failing = failing.where(findings.c.check_id == check_id)
    # What each finding is: its check and subject as its latest failure recorded them.
    named = {row.fingerprint: (row.check_id, row.subject) for row in connection.execute(
        sa.select(findings.c.fingerprint, findings.c.check_id, findings.c.subject).where(findings.c.id.in_(failing.scalar_subquery())))}
    if not named:
        return []
    # Every observation of those findings: three short columns read from the covering index
    # (fingerprint, run_id, status); runs outside the window are dropped here rather than in
    # SQL, where an IN over the window made SQLite probe the index once per (finding, run).
    observations: dict[str, list[tuple[int, str]]] = defaultdict(list)
    query = sa.select(findings.c.fingerprint, findings.c.run_id, findings.c.status).where(
        findings.c.fingerprint.in_(sa.select(findings.c.fingerprint).where(findings.c.id.in_(failing.scalar_subquery()))))
    for fingerprint, run_id, status in connection.execute(query):
        index = position.get(run_id)
        if index is not None:
            observations[fingerprint].append((index, status))
    ages = [_age(fingerprint, *named[fingerprint], sorted(seen), window) for fingerprint, seen in observations.items()]
    return sorted(ages, key=lambda a: (_STATE_ORDER[a.state], -a.days_open, a.check_id, a.subject))


def _age(fingerprint: str, check: str, subject: str, seen: list[tuple[int, str]],
         window: list[tuple[int, datetime]]) -> FindingAge:
    """Walk one finding's observations, (window position, status), oldest first."""
    streak_start: int | None = None  # the first failure since the last settled observation
    first_seen: int | None = None  # the streak start of the last failure
    last_fail: int | None = None
    resolved_at: int | None = None  # the first settled observation after the last failure
    runs_failed = 0
    for index, status in seen:
        if status == "fail":
            runs_failed += 1
            streak_start = index if streak_start is None else streak_start
            first_seen, last_fail, resolved_at = streak_start, index, None
        elif status in SETTLED:
            if last_fail is not None and resolved_at is None:
                resolved_at = index
            streak_start = None
    assert last_fail is not None and first_seen is not None  # only findings that failed are read
    latest_index, latest_status = seen[-1]
    if resolved_at is not None:
        state, end = "resolved", resolved_at
    elif latest_status == "fail":
        state, end = ("open" if latest_index == len(window) - 1 else "gone"), last_fail
    else:
        state, end = "unverified", latest_index
    started = window[first_seen][1]
    return FindingAge(check_id=check, subject=subject, fingerprint=fingerprint, state=state, first_seen=started,
                      last_seen=window[last_fail][1],
                      days_open=round((window[end][1] - started).total_seconds() / 86400, 1), runs_failed=runs_failed)


def report_trend(connection: Connection, current_run_id: int, last: int = REPORT_RUNS) -> HistoryTrend:
    """The report's chart data: the last runs' totals, oldest first."""
    rows = connection.execute(
        sa.select(runs.c.id, runs.c.started_at, runs.c.n_fail, runs.c.n_error, runs.c.n_findings)
        .order_by(runs.c.started_at.desc(), runs.c.id.desc()).limit(last)
    ).all()
    points = tuple(
        RunPoint(run_id=int(r.id), started_at=_utc(r.started_at), fail=int(r.n_fail), error=int(r.n_error),
                 findings=int(r.n_findings), current=int(r.id) == current_run_id)
        for r in reversed(rows)
    )
    return HistoryTrend(runs=points, total_runs=run_count(connection))
