"""Read the history back: the runs, failures per check over time, how long findings stay open.

Each function takes a connection and returns a pandas DataFrame (or the report's
`HistoryTrend`); printing and CSV are the command's business. Times are UTC.

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

from datetime import datetime, timezone
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from amlaudit.auditor.history.schema import findings, runs
from amlaudit.auditor.history.series import HistoryTrend, RunPoint

SETTLED = ("pass", "not_applicable")
REPORT_RUNS = 30  # runs shown in the HTML report's chart

RUN_COLUMNS = ["run", "started", "finished", "user", "host", "version", "source", "subscriptions", "fail_on",
               "exit", "fail", "error", "pass", "not_applicable", "findings", "collection_errors", "coverage_gaps"]
FAILURE_COLUMNS = ["check_id", "run", "started", "failures"]
AGE_COLUMNS = ["check_id", "subject", "fingerprint", "state", "first_seen", "last_seen", "days_open", "runs_failed"]


def _window(last: int | None) -> sa.Select[Any]:
    """Ids of the last N runs by start time (all runs when N is None)."""
    query = sa.select(runs.c.id).order_by(runs.c.started_at.desc(), runs.c.id.desc())
    return query.limit(last) if last is not None else query


def _utc(values: pd.Series) -> pd.Series:
    # SQLite hands back naive datetimes (stored as UTC), PostgreSQL aware ones.
    return pd.to_datetime(values, utc=True)


def run_count(connection: Connection) -> int:
    return int(connection.execute(sa.select(sa.func.count()).select_from(runs)).scalar_one())


def list_runs(connection: Connection, last: int | None = None) -> pd.DataFrame:
    """One row per run, oldest first."""
    query = sa.select(
        runs.c.id.label("run"), runs.c.started_at.label("started"), runs.c.finished_at.label("finished"),
        runs.c.user_name.label("user"), runs.c.host_name.label("host"), runs.c.tool_version.label("version"),
        runs.c.snapshot_source.label("source"), runs.c.subscriptions, runs.c.fail_on,
        runs.c.exit_status.label("exit"), runs.c.n_fail.label("fail"), runs.c.n_error.label("error"),
        runs.c.n_pass.label("pass"), runs.c.n_not_applicable.label("not_applicable"),
        runs.c.n_findings.label("findings"), runs.c.n_collection_errors.label("collection_errors"),
        runs.c.n_coverage_gaps.label("coverage_gaps"),
    ).where(runs.c.id.in_(_window(last).scalar_subquery())).order_by(runs.c.started_at, runs.c.id)
    frame = pd.read_sql(query, connection)
    frame["started"] = _utc(frame["started"])
    frame["finished"] = _utc(frame["finished"])
    return frame[RUN_COLUMNS]


def failures_per_check(connection: Connection, last: int | None = None, check_id: str | None = None) -> pd.DataFrame:
    """(check, run) -> failures, for every check that failed somewhere in the window; zeros included."""
    window = _window(last).scalar_subquery()
    window_runs = pd.read_sql(
        sa.select(runs.c.id.label("run"), runs.c.started_at.label("started")).where(runs.c.id.in_(window)), connection)
    counts_query = (
        sa.select(findings.c.run_id.label("run"), findings.c.check_id, sa.func.count().label("failures"))
        .where(findings.c.run_id.in_(window), findings.c.status == "fail")
        .group_by(findings.c.run_id, findings.c.check_id)
    )
    if check_id is not None:
        counts_query = counts_query.where(findings.c.check_id == check_id)
    counts = pd.read_sql(counts_query, connection)
    if counts.empty or window_runs.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in FAILURE_COLUMNS})
    window_runs["started"] = _utc(window_runs["started"])
    grid = pd.MultiIndex.from_product([sorted(counts["check_id"].unique()), window_runs["run"]], names=["check_id", "run"])
    table = (counts.set_index(["check_id", "run"])["failures"].reindex(grid, fill_value=0).reset_index()
             .merge(window_runs, on="run"))
    table["failures"] = table["failures"].astype("int64")
    return table.sort_values(["check_id", "started", "run"], kind="stable")[FAILURE_COLUMNS].reset_index(drop=True)


def finding_ages(connection: Connection, last: int | None = None, check_id: str | None = None) -> pd.DataFrame:
    """One row per fingerprint that failed in the window (see the module docstring)."""
    window = _window(last).scalar_subquery()
    failed = sa.select(findings.c.fingerprint).where(findings.c.run_id.in_(window), findings.c.status == "fail")
    if check_id is not None:
        failed = failed.where(findings.c.check_id == check_id)
    observations = pd.read_sql(
        sa.select(findings.c.fingerprint, findings.c.run_id.label("run"), findings.c.status, findings.c.check_id,
                  findings.c.subject, runs.c.started_at.label("started"))
        .join(runs, runs.c.id == findings.c.run_id)
        .where(findings.c.run_id.in_(window), findings.c.fingerprint.in_(failed.distinct().scalar_subquery())),
        connection,
    )
    if observations.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in AGE_COLUMNS})
    observations["started"] = _utc(observations["started"])
    latest_run = pd.read_sql(sa.select(runs.c.id, runs.c.started_at).where(runs.c.id.in_(window))
                             .order_by(runs.c.started_at.desc(), runs.c.id.desc()).limit(1), connection)
    return _ages(observations, int(latest_run["id"].iloc[0]))


def _ages(obs: pd.DataFrame, latest_run_id: int) -> pd.DataFrame:
    obs = obs.sort_values(["fingerprint", "started", "run"], kind="stable").reset_index(drop=True)
    obs["settled"] = obs["status"].isin(SETTLED)
    obs["failed"] = obs["status"] == "fail"
    by_fp = obs.groupby("fingerprint", sort=False)
    obs["pos"] = by_fp.cumcount()
    obs["streak"] = by_fp["settled"].cumsum()  # failures between two settled observations share a value

    fails = obs[obs["failed"]]
    last_fail = fails.groupby("fingerprint", sort=False).tail(1).set_index("fingerprint")
    fails = fails.join(last_fail[["streak"]].rename(columns={"streak": "last_streak"}), on="fingerprint")
    current_streak = fails[fails["streak"] == fails["last_streak"]]
    first_seen = current_streak.groupby("fingerprint")["started"].min()
    runs_failed = fails.groupby("fingerprint").size()

    after = obs.join(last_fail[["pos"]].rename(columns={"pos": "last_fail_pos"}), on="fingerprint")
    after = after[after["pos"] > after["last_fail_pos"]]
    resolved_at = after[after["settled"]].groupby("fingerprint")["started"].min()
    latest = obs.groupby("fingerprint", sort=False).tail(1).set_index("fingerprint")

    ages = pd.DataFrame({
        "check_id": last_fail["check_id"],
        "subject": last_fail["subject"],
        "fingerprint": last_fail.index,
        "first_seen": first_seen.reindex(last_fail.index),
        "last_seen": last_fail["started"],
        "runs_failed": runs_failed.reindex(last_fail.index).astype("int64"),
        "resolved_at": resolved_at.reindex(last_fail.index),
        "latest_status": latest["status"].reindex(last_fail.index),
        "latest_run": latest["run"].reindex(last_fail.index),
        "latest_at": latest["started"].reindex(last_fail.index),
    })
    ages["state"] = "unverified"
    ages.loc[ages["latest_status"] == "fail", "state"] = "gone"
    ages.loc[(ages["latest_status"] == "fail") & (ages["latest_run"] == latest_run_id), "state"] = "open"
    ages.loc[ages["resolved_at"].notna(), "state"] = "resolved"
    end = ages["resolved_at"].fillna(ages["latest_at"])
    ages["days_open"] = ((end - ages["first_seen"]).dt.total_seconds() / 86400).round(1)
    order = ages["state"].map({"open": 0, "unverified": 1, "gone": 2, "resolved": 3})
    ages = ages.assign(_order=order).sort_values(["_order", "days_open", "check_id", "subject"],
                                                 ascending=[True, False, True, True], kind="stable")
    return ages[AGE_COLUMNS].reset_index(drop=True)


def report_trend(connection: Connection, current_run_id: int, last: int = REPORT_RUNS) -> HistoryTrend:
    """The report's chart data: the last runs' totals, oldest first."""
    rows = connection.execute(
        sa.select(runs.c.id, runs.c.started_at, runs.c.n_fail, runs.c.n_error, runs.c.n_findings)
        .order_by(runs.c.started_at.desc(), runs.c.id.desc()).limit(last)
    ).all()
    points = tuple(
        RunPoint(run_id=int(r.id), started_at=_as_utc(r.started_at), fail=int(r.n_fail), error=int(r.n_error),
                 findings=int(r.n_findings), current=int(r.id) == current_run_id)
        for r in reversed(rows)
    )
    return HistoryTrend(runs=points, total_runs=run_count(connection))


def _as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
