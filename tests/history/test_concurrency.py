"""Two scheduled runs at once: concurrent writers lose nothing, on SQLite and on PostgreSQL."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from amlaudit.auditor.history.store import open_store
from tests.history.helpers import demo_result
from tests.history.writers import write_runs

WRITERS = 3
RUNS_EACH = 4


def per_run_counts(url: str) -> list[tuple[str, int, int, int]]:
    """(writer, run id, findings stored, findings the run says it has) for every run."""
    store = open_store(url, create=False)
    with store.engine.connect() as connection:
        rows = connection.execute(sa.text(
            "SELECT r.user_name, r.id, count(f.id), r.n_findings FROM amlaudit_runs r"
            " LEFT JOIN amlaudit_findings f ON f.run_id = r.id GROUP BY r.user_name, r.id, r.n_findings ORDER BY r.id"
        )).all()
        uids = connection.execute(sa.text("SELECT count(DISTINCT run_uid) FROM amlaudit_runs")).scalar_one()
    store.dispose()
    assert uids == len(rows)
    return [(str(w), int(i), int(n), int(expected)) for w, i, n, expected in rows]


def test_writer_processes_starting_together_on_a_new_database_lose_nothing(history_url: str) -> None:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(WRITERS)
    processes = [context.Process(target=write_runs, args=(history_url, barrier, f"writer-{i}", RUNS_EACH, 0.05))
                 for i in range(WRITERS)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=300)
    assert [p.exitcode for p in processes] == [0] * WRITERS

    counts = per_run_counts(history_url)
    expected = len(demo_result().findings)
    assert len(counts) == WRITERS * RUNS_EACH
    assert all(stored == claimed == expected for _, _, stored, claimed in counts)
    by_writer = {w: sum(1 for writer, *_ in counts if writer == w) for w in {c[0] for c in counts}}
    assert by_writer == {f"writer-{i}": RUNS_EACH for i in range(WRITERS)}


def test_two_scans_launched_at_once(history_url: str, tmp_path: Path) -> None:
    """The real thing: two `amlaudit scan --history` processes, started together on a new database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "AMLAUDIT_"))}
    scans = [subprocess.Popen([sys.executable, "-m", "amlaudit.auditor.cli", "scan", "--demo", "--quiet",
                               "--out", str(tmp_path / f"out-{i}"), "--history", history_url],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) for i in range(2)]
    outcomes = [scan.communicate(timeout=300) for scan in scans]
    assert [scan.returncode for scan in scans] == [1, 1], outcomes
    counts = per_run_counts(history_url)
    assert len(counts) == 2
    assert all(stored == claimed == len(demo_result().findings) for _, _, stored, claimed in counts)
    # Each report charts the runs committed before its own, plus its own. SQLite serialises the two
    # write transactions, so the second report also shows the first run; on PostgreSQL both may
    # record at the same time, each seeing only itself.
    charted = sorted((tmp_path / f"out-{i}" / "report.html").read_text().count('<g class="run') for i in range(2))
    assert charted == [1, 2] if "://" not in history_url else charted in ([1, 1], [1, 2])


def test_a_reader_is_not_blocked_by_an_open_write(sqlite_url: str) -> None:
    from amlaudit.auditor.history import query
    from tests.history.helpers import facts, record

    store = open_store(sqlite_url, create=True)
    record(store, demo_result(), facts(0))
    with store.writing() as connection:  # a run being recorded, not yet committed
        from amlaudit.auditor.history.record import insert_run

        insert_run(connection, demo_result(), facts(1))
        reader = open_store(sqlite_url, create=False)
        with reader.reading() as read_connection:
            assert len(query.list_runs(read_connection)) == 1  # WAL: the committed state, at once
        reader.dispose()
    store.dispose()
