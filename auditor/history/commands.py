"""The history stage on the command line: `scan --history URL` and `amlaudit history`.

In `scan`, the database is opened (and migrated) before anything is collected, so a bad
URL, an unreachable server or a newer schema stops the run at once (exit 2). After the
audit, `recording` inserts the run and its findings in ONE transaction, reads the recent
runs back for the report's chart, and lets the CLI render and write the reports inside
that transaction: if rendering or writing fails the run is rolled back, so the history
never holds a run whose reports were not written, nor half a run.

SQLAlchemy, Alembic and pandas are imported only when a history is used.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from amlaudit.auditor.findings import AuditResult
from amlaudit.auditor.history.errors import HistoryError

if TYPE_CHECKING:
    import pandas as pd

    from amlaudit.auditor.history.record import RunFacts
    from amlaudit.auditor.history.store import HistoryStore

F = TypeVar("F", bound=Callable[..., Any])
HISTORY_ENV = "AMLAUDIT_HISTORY"
_SPARK = "▁▂▃▄▅▆▇█"
_TABLE_RUNS = 8  # runs shown as columns of the per-check table; CSV has them all


def history_option(command: F) -> F:
    return click.option(
        "--history", "history_url", envvar=HISTORY_ENV, metavar="URL",
        help="Record the run in this history database: a file path (SQLite) or postgresql://USER@HOST/DB. "
             f"Also {HISTORY_ENV} or `history` in --config.",
    )(command)


def open_for_scan(url: str | None) -> HistoryStore | None:
    """The store a scan records into (created and migrated as needed), or None without --history."""
    if not url:
        return None
    from amlaudit.auditor.history.store import open_store

    return open_store(url, create=True)


@contextmanager
def recording(store: HistoryStore | None, result: AuditResult, facts: RunFacts | None) -> Iterator[AuditResult]:
    """Record the run, yield the result with its `history` trend, commit when the block succeeds."""
    if store is None or facts is None:
        yield result
        return
    from amlaudit.auditor.history.query import report_trend
    from amlaudit.auditor.history.record import insert_run

    try:
        with store.writing() as connection:
            with store.errors_as("cannot record the run"):
                run_id = insert_run(connection, result, facts)
                trend = report_trend(connection, run_id)
            yield replace(result, history=trend)
    finally:
        store.dispose()


def scan_facts(store: HistoryStore | None, started_at: datetime, subscriptions: list[str], fail_on: str,
               exit_status: int) -> RunFacts | None:
    if store is None:
        return None
    from amlaudit.auditor.history.record import run_facts

    return run_facts(started_at, subscriptions, fail_on, exit_status)


# -- amlaudit history ---------------------------------------------------------------------


@click.command(name="history")
@history_option
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), help="TOML run config (its `history` key).")
@click.option("--trend", is_flag=True, help="Failures per check over time and the open age of each failing finding.")
@click.option("--last", type=click.IntRange(1), help="Only the last N runs [default: all].")
@click.option("--check", "check_id", help="--trend: only this check.")
@click.option("--view", type=click.Choice(["all", "failures", "ages"]), default="all", show_default=True,
              help="--trend: which of the two tables.")
@click.option("--format", "output_format", type=click.Choice(["table", "csv"]), default="table", show_default=True)
def history(history_url: str | None, config_path: Path | None, trend: bool, last: int | None, check_id: str | None,
            view: str, output_format: str) -> int:
    """List recorded runs, or (--trend) how failures and findings evolved."""
    from amlaudit.auditor.config import load_config

    url = history_url or load_config(config_path).history
    if not url:
        raise HistoryError(f"no history database: pass --history URL (or set {HISTORY_ENV}, or `history` in --config)")
    if not trend and (check_id or view != "all"):
        raise HistoryError("--check and --view apply to --trend")
    from amlaudit.auditor.history import query
    from amlaudit.auditor.history.store import open_store

    store = open_store(url, create=False)
    try:
        with store.reading() as connection, store.errors_as("cannot read"):
            if not trend:
                tables = {"runs": query.list_runs(connection, last)}
            else:
                tables = {}
                if view in ("all", "failures"):
                    tables["failures"] = query.failures_per_check(connection, last, check_id)
                if view in ("all", "ages"):
                    tables["ages"] = query.finding_ages(connection, last, check_id)
    finally:
        store.dispose()
    if output_format == "csv":
        click.echo(_csv(tables), nl=False)
    else:
        _print_tables(tables, store.display)
    return 0


def _iso(values: pd.Series) -> pd.Series:
    return values.dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def _csv(tables: dict[str, pd.DataFrame]) -> str:
    """One CSV. The trend's two tables share it, told apart by a leading `table` column."""
    import pandas as pd

    frames = []
    for name, frame in tables.items():
        frame = frame.copy()
        for column in ("started", "finished", "first_seen", "last_seen"):
            if column in frame and len(frame):
                frame[column] = _iso(frame[column])
        for column in ("run", "failures", "runs_failed", "exit"):
            if column in frame:
                frame[column] = frame[column].astype("Int64")
        if name == "runs":
            frame["subscriptions"] = frame["subscriptions"].map(_subscription_list).map(" ".join)
            return str(frame.to_csv(index=False, lineterminator="\n"))
        frame.insert(0, "table", name)
        frames.append(frame)
    columns = list(dict.fromkeys(c for frame in frames for c in frame.columns))
    combined = pd.concat([f for f in frames if len(f)], ignore_index=True) if any(len(f) for f in frames) else pd.DataFrame()
    return str(combined.reindex(columns=columns).to_csv(index=False, lineterminator="\n"))


def _subscription_list(text: str) -> list[str]:
    import orjson

    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return [text]
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _print_tables(tables: dict[str, pd.DataFrame], display: str) -> None:
    from rich.console import Console

    console = Console(width=None if sys.stdout.isatty() else 200)
    if "runs" in tables:
        _print_runs(console, tables["runs"], display)
    if "failures" in tables:
        _print_failures(console, tables["failures"])
    if "ages" in tables:
        _print_ages(console, tables["ages"])


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value is not None and value == value else ""


def _print_runs(console: Any, runs: pd.DataFrame, display: str) -> None:
    from rich.table import Table

    if runs.empty:
        console.print(f"no runs recorded in {display}")
        return
    table = Table(title=f"{len(runs)} run{'s' if len(runs) != 1 else ''} in {display} (UTC)")
    for column, justify in (("run", "right"), ("started", "left"), ("took", "right"), ("by", "left"),
                            ("version", "left"), ("source", "left"), ("subs", "right"), ("fail", "right"),
                            ("error", "right"), ("pass", "right"), ("n/a", "right"), ("exit", "right")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for row in runs.to_dict("records"):
        took = (row["finished"] - row["started"]).total_seconds()
        table.add_row(str(row["run"]), _when(row["started"]), f"{took:.0f}s", f"{row['user']}@{row['host']}",
                      row["version"], row["source"], str(len(_subscription_list(row["subscriptions"]))),
                      *(str(row[c]) for c in ("fail", "error", "pass", "not_applicable", "exit")))
    console.print(table)


def _sparkline(values: list[int]) -> str:
    top = max(values) if values else 0
    if not top:
        return _SPARK[0] * len(values)
    return "".join(_SPARK[round(v / top * (len(_SPARK) - 1))] for v in values)


def _print_failures(console: Any, failures: pd.DataFrame) -> None:
    from rich.table import Table

    if failures.empty:
        console.print("No failures in the runs considered.")
        return
    run_order = failures.drop_duplicates("run").sort_values(["started", "run"])
    shown = run_order.tail(_TABLE_RUNS)
    table = Table(title=f"Failures per check over {len(run_order)} run{'s' if len(run_order) != 1 else ''}")
    table.add_column("check")
    for run in shown.itertuples(index=False):
        table.add_column(f"#{run.run}\n{run.started:%m-%d}", justify="right")
    table.add_column(f"trend ({len(run_order)})")
    table.add_column("max", justify="right")
    for check_id, rows in failures.groupby("check_id", sort=True):
        by_run = dict(zip(rows["run"], rows["failures"]))
        series = [int(by_run.get(run, 0)) for run in run_order["run"]]
        table.add_row(str(check_id), *(str(by_run.get(run, 0)) for run in shown["run"]), _sparkline(series), str(max(series)))
    console.print(table)


def _print_ages(console: Any, ages: pd.DataFrame) -> None:
    from rich.table import Table

    if ages.empty:
        console.print("No finding failed in the runs considered.")
        return
    table = Table(title="Failing findings: open age (UTC)")
    for column, justify in (("check", "left"), ("subject", "left"), ("state", "left"), ("first seen", "left"),
                            ("last seen", "left"), ("days open", "right"), ("runs failed", "right")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for row in ages.itertuples(index=False):
        table.add_row(row.check_id, row.subject or "(no subject)", row.state, _when(row.first_seen),
                      _when(row.last_seen), f"{row.days_open:.1f}", str(row.runs_failed))
    console.print(table)
