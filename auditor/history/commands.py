"""The history stage on the command line: `scan --history URL` and `amlaudit history`.

In `scan`, the database is opened (and migrated) before anything is collected, so a bad
URL, an unreachable server or a newer schema stops the run at once (exit 2). After the
audit, `recording` inserts the run and its findings in ONE transaction, reads the recent
runs back for the report's chart, and lets the CLI render and write the reports inside
that transaction: if rendering or writing fails the run is rolled back, so the history
never holds a run whose reports were not written, nor half a run.

SQLAlchemy and Alembic are imported only when a history is used.
"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from amlaudit.auditor.findings import AuditResult
from amlaudit.auditor.history.errors import HistoryError

if TYPE_CHECKING:
    from rich.console import Console

    from amlaudit.auditor.history.query import FailureCount, FindingAge, RunRow
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
                listed = query.list_runs(connection, last)
            else:
                failures = query.failures_per_check(connection, last, check_id) if view != "ages" else None
                ages = query.finding_ages(connection, last, check_id) if view != "failures" else None
    finally:
        store.dispose()
    if output_format == "csv":
        click.echo(_runs_csv(listed) if not trend else _trend_csv(failures, ages), nl=False)
        return 0
    from rich.console import Console

    console = Console(width=None if sys.stdout.isatty() else 200)
    if not trend:
        _print_runs(console, listed, store.display)
    if trend and failures is not None:
        _print_failures(console, failures)
    if trend and ages is not None:
        _print_ages(console, ages)
    return 0


# -- output -------------------------------------------------------------------------------

RUN_COLUMNS = ("run", "started", "finished", "user", "host", "version", "source", "subscriptions", "fail_on", "exit",
               "fail", "error", "pass", "not_applicable", "findings", "collection_errors", "coverage_gaps")
FAILURE_COLUMNS = ("check_id", "run", "started", "failures")
AGE_COLUMNS = ("check_id", "subject", "fingerprint", "state", "first_seen", "last_seen", "days_open", "runs_failed")


def _iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _csv_text(columns: Iterable[str], rows: Iterable[dict[str, object]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _runs_csv(listed: list[RunRow]) -> str:
    return _csv_text(RUN_COLUMNS, (
        {"run": r.run, "started": _iso(r.started), "finished": _iso(r.finished), "user": r.user, "host": r.host,
         "version": r.version, "source": r.source, "subscriptions": " ".join(r.subscriptions), "fail_on": r.fail_on,
         "exit": r.exit, "fail": r.fail, "error": r.error, "pass": r.passed, "not_applicable": r.not_applicable,
         "findings": r.findings, "collection_errors": r.collection_errors, "coverage_gaps": r.coverage_gaps}
        for r in listed))


def _trend_csv(failures: list[FailureCount] | None, ages: list[FindingAge] | None) -> str:
    """One CSV. The trend's two tables share it, told apart by a leading `table` column."""
    columns = ["table", *(FAILURE_COLUMNS if failures is not None else ()),
               *(c for c in AGE_COLUMNS if ages is not None and (failures is None or c not in FAILURE_COLUMNS))]
    rows: list[dict[str, object]] = [
        {"table": "failures", "check_id": f.check_id, "run": f.run, "started": _iso(f.started), "failures": f.failures}
        for f in failures or ()]
    rows += [{"table": "ages", "check_id": a.check_id, "subject": a.subject, "fingerprint": a.fingerprint, "state": a.state,
              "first_seen": _iso(a.first_seen), "last_seen": _iso(a.last_seen), "days_open": a.days_open,
              "runs_failed": a.runs_failed} for a in ages or ()]
    return _csv_text(columns, rows)


def _when(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _print_runs(console: Console, listed: list[RunRow], display: str) -> None:
    from rich.table import Table

    if not listed:
        console.print(f"no runs recorded in {display}")
        return
    table = Table(title=f"{_plural(len(listed), 'run')} in {display} (UTC)")
    for column, justify in (("run", "right"), ("started", "left"), ("took", "right"), ("by", "left"),
                            ("version", "left"), ("source", "left"), ("subs", "right"), ("fail", "right"),
                            ("error", "right"), ("pass", "right"), ("n/a", "right"), ("exit", "right")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for r in listed:
        took = (r.finished - r.started).total_seconds()
        table.add_row(str(r.run), _when(r.started), f"{took:.0f}s", f"{r.user}@{r.host}", r.version, r.source,
                      str(len(r.subscriptions)), *(str(n) for n in (r.fail, r.error, r.passed, r.not_applicable, r.exit)))
    console.print(table)


def _sparkline(values: list[int]) -> str:
    top = max(values, default=0)
    if not top:
        return _SPARK[0] * len(values)
    return "".join(_SPARK[round(v / top * (len(_SPARK) - 1))] for v in values)


def _print_failures(console: Console, failures: list[FailureCount]) -> None:
    from rich.table import Table

    if not failures:
        console.print("No failures in the runs considered.")
        return
    by_check: dict[str, list[FailureCount]] = {}
    for count in failures:
        by_check.setdefault(count.check_id, []).append(count)
    window = next(iter(by_check.values()))  # every check has one count per run of the window, in order
    shown = window[-_TABLE_RUNS:]
    table = Table(title=f"Failures per check over {_plural(len(window), 'run')}")
    table.add_column("check")
    for count in shown:
        table.add_column(f"#{count.run}\n{count.started:%m-%d}", justify="right")
    table.add_column(f"trend ({len(window)})")
    table.add_column("max", justify="right")
    for check_id, counts in by_check.items():
        series = [c.failures for c in counts]
        table.add_row(check_id, *(str(n) for n in series[-_TABLE_RUNS:]), _sparkline(series), str(max(series)))
    console.print(table)


def _print_ages(console: Console, ages: list[FindingAge]) -> None:
    from rich.table import Table

    if not ages:
        console.print("No finding failed in the runs considered.")
        return
    table = Table(title="Failing findings: open age (UTC)")
    for column, justify in (("check", "left"), ("subject", "left"), ("state", "left"), ("first seen", "left"),
                            ("last seen", "left"), ("days open", "right"), ("runs failed", "right")):
        table.add_column(column, justify=justify, overflow="fold")  # type: ignore[arg-type]
    for a in ages:
        table.add_row(a.check_id, a.subject or "(no subject)", a.state, _when(a.first_seen), _when(a.last_seen),
                      f"{a.days_open:.1f}", str(a.runs_failed))
    console.print(table)
