"""Opening a history database: URLs, schema migrations, and every way it can fail (one line, no password)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from amlaudit.auditor.cli import main
from amlaudit.auditor.history import migrate, schema
from amlaudit.auditor.history.errors import HistoryError
from amlaudit.auditor.history.store import make_engine, open_store
from amlaudit.auditor.history.urls import parse_history_url
from tests.history.conftest import with_database
from tests.history.helpers import count, demo_result, facts, open_for_writing, record

SECRET = "s3cr3t-Pa55word"


def one_line_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    status = main(list(argv))
    out, err = capsys.readouterr()
    assert status == 2, (out, err)
    assert "Traceback" not in err
    lines = err.strip("\n").split("\n")
    assert len(lines) == 1, err
    assert lines[0].startswith("amlaudit: error: ")
    return lines[0]


# -- URLs ---------------------------------------------------------------------------------


def test_a_plain_path_is_an_sqlite_file_resolved_to_an_absolute_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    target = parse_history_url("audits.db")
    assert target.backend == "sqlite"
    assert target.sqlite_path == tmp_path / "audits.db"
    assert target.url.database == str(tmp_path / "audits.db")
    assert parse_history_url(f"sqlite:///{tmp_path}/x.db").sqlite_path == tmp_path / "x.db"


@pytest.mark.parametrize("spelling", ["postgresql://u:pw@db.internal:5433/audits", "postgres://u:pw@db.internal:5433/audits",
                                      "postgresql+psycopg://u:pw@db.internal:5433/audits"])
def test_postgresql_urls_use_psycopg_3_and_mask_the_password(spelling: str) -> None:
    target = parse_history_url(spelling)
    assert target.backend == "postgresql"
    assert target.url.drivername == "postgresql+psycopg"
    assert target.url.password == "pw"
    assert target.display == "postgresql+psycopg://u:***@db.internal:5433/audits"


@pytest.mark.parametrize(("text", "expected"), [
    ("", "empty database URL"),
    ("sqlite://", "in-memory"),
    ("sqlite:///:memory:", "in-memory"),
    ("mysql://u:pw@h/db", "unsupported database 'mysql'"),
    ("postgresql+psycopg2://u:pw@h/db", "unsupported database"),
    ("postgresql://u:pw@h:5432", "no database name"),
])
def test_unusable_urls_are_refused(text: str, expected: str) -> None:
    with pytest.raises(HistoryError, match=expected):
        parse_history_url(text)


def test_a_url_that_does_not_parse_is_never_echoed() -> None:
    with pytest.raises(HistoryError) as caught:
        parse_history_url(f"postgresql://admin:{SECRET}@db.internal:notaport/audits")
    assert SECRET not in str(caught.value)
    assert "not a valid database URL" in str(caught.value)


# -- schema and migrations ------------------------------------------------------------------


def test_head_revision_constant_matches_the_shipped_scripts() -> None:
    scripts = ScriptDirectory.from_config(migrate.alembic_config())
    assert scripts.get_heads() == [migrate.HEAD_REVISION]
    assert migrate.known_revisions() == {"0001", "0002"}


def test_a_new_database_is_migrated_to_head_and_matches_the_schema_module(history_url: str) -> None:
    store = open_for_writing(history_url)
    with store.engine.connect() as connection:
        assert migrate.current_revisions(connection) == [migrate.HEAD_REVISION]
        context = MigrationContext.configure(connection, opts={"version_table": schema.VERSION_TABLE})
        differences = [d for d in compare_metadata(context, schema.metadata)]
    assert differences == []
    store.dispose()


def test_a_sqlite_database_is_in_wal_mode_with_foreign_keys(sqlite_url: str) -> None:
    store = open_for_writing(sqlite_url)
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 60_000
    store.dispose()


def test_a_database_at_an_older_revision_is_upgraded_on_use_and_keeps_its_runs(history_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    # A database written by a version of amlaudit that knew only revision 0001 (no trend indexes).
    engine = make_engine(parse_history_url(history_url))
    with engine.begin() as connection:
        command.upgrade(migrate.alembic_config(connection), "0001")
    with engine.begin() as connection:
        connection.execute(sa.text(
            "INSERT INTO amlaudit_runs (run_uid, started_at, finished_at, user_name, host_name, tool_version, snapshot_source,"
            " subscriptions, fail_on, exit_status, n_fail, n_error, n_pass, n_not_applicable, n_findings,"
            " n_collection_errors, n_coverage_gaps) VALUES ('old-run', :t, :t, 'u', 'h', '0.0.9', 'old.json', '[]', 'low',"
            " 1, 1, 0, 0, 0, 1, 0, 0)"), {"t": facts().started_at})
        connection.execute(sa.text(
            "INSERT INTO amlaudit_findings (run_id, fingerprint, check_id, status, severity, subject, message)"
            " VALUES (1, 'fp-old', 'storage-vnet-rule', 'fail', 'high', '/subscriptions/x/sa', 'old failure')"))
        assert not sa.inspect(connection).get_indexes("amlaudit_findings")
    engine.dispose()

    status = main(["history", "--history", history_url, "--format", "csv"])
    out, err = capsys.readouterr()
    assert status == 0, err
    assert "0.0.9" in out and "old.json" in out
    with engine.connect() as connection:
        assert migrate.current_revisions(connection) == ["0002"]
        names = {index["name"] for index in sa.inspect(connection).get_indexes("amlaudit_findings")}
    assert names == {"ix_amlaudit_findings_run_status_check", "ix_amlaudit_findings_fingerprint_run"}
    engine.dispose()


def test_a_database_newer_than_the_code_is_refused_and_left_untouched(history_url: str, capsys: pytest.CaptureFixture[str],
                                                                      tmp_path: Path) -> None:
    store = open_for_writing(history_url)
    with store.engine.begin() as connection:
        connection.execute(sa.text(f"UPDATE {schema.VERSION_TABLE} SET version_num = '0099_future'"))
    store.dispose()
    for argv in (["history", "--history", history_url],
                 ["scan", "--demo", "--out", str(tmp_path / "out"), "--history", history_url]):
        line = one_line_error(capsys, *argv)
        assert "schema revision '0099_future' is newer than this amlaudit knows" in line
    assert not (tmp_path / "out").exists()  # the scan stopped before auditing anything
    engine = make_engine(parse_history_url(history_url))
    with engine.connect() as connection:
        assert migrate.current_revisions(connection) == ["0099_future"]
    engine.dispose()


def test_reading_a_missing_sqlite_file_is_an_error_and_creates_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "typo.db"
    line = one_line_error(capsys, "history", "--history", str(missing))
    assert "no such history database" in line
    assert not missing.exists()


def test_a_file_that_is_not_a_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bogus = tmp_path / "notes.db"
    bogus.write_text("these are not the pages of a database\n" * 100)
    line = one_line_error(capsys, "scan", "--demo", "--out", str(tmp_path / "out"), "--history", str(bogus))
    assert "notes.db: cannot open: file is not a database" in line
    assert bogus.read_text().startswith("these are not")


def test_a_directory_is_not_a_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = one_line_error(capsys, "history", "--history", str(tmp_path))
    assert "is a directory" in line


def test_an_sqlite_database_of_another_application_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    with sqlite3.connect(path) as other:
        other.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY, note TEXT)")
        other.execute("INSERT INTO runs (note) VALUES ('theirs')")
    store = open_for_writing(str(path))
    record(store, demo_result(), facts())
    assert count(store, "runs") == 1  # amlaudit's tables carry their own prefix
    assert count(store, "amlaudit_runs") == 1
    store.dispose()


# -- servers that cannot be used --------------------------------------------------------------


def test_wrong_password_is_one_line_without_the_password(postgres_url: str, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    target = parse_history_url(postgres_url)
    wrong = target.url.set(password=SECRET).render_as_string(hide_password=False)
    for argv in (["scan", "--demo", "--out", str(tmp_path / "out"), "--history", wrong], ["history", "--history", wrong]):
        line = one_line_error(capsys, *argv)
        assert "password authentication failed" in line
        assert SECRET not in line
        assert "***" in line
    assert not (tmp_path / "out").exists()


def test_unreachable_server_is_one_line_without_the_password(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    import socket

    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    line = one_line_error(capsys, "scan", "--demo", "--out", str(tmp_path / "out"),
                          "--history", f"postgresql://auditor:{SECRET}@127.0.0.1:{port}/audits")
    assert f"127.0.0.1:{port}/audits: cannot open" in line
    assert "Connection refused" in line
    assert SECRET not in line


def test_missing_database_on_the_server(postgres_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    url = with_database(postgres_url, "no_such_database_here")
    line = one_line_error(capsys, "history", "--history", url)
    assert 'database "no_such_database_here" does not exist' in line
    assert parse_history_url(url).url.password not in line


def test_no_password_leaks_through_the_console_script(postgres_url: str, tmp_path: Path) -> None:
    import subprocess
    import sys

    target = parse_history_url(postgres_url)
    wrong = target.url.set(password=SECRET).render_as_string(hide_password=False)
    completed = subprocess.run([sys.executable, "-m", "amlaudit.auditor.cli", "history", "--history", wrong],
                               capture_output=True, text=True, timeout=120, check=False)
    assert completed.returncode == 2
    assert SECRET not in completed.stdout + completed.stderr
    assert "Traceback" not in completed.stderr
    assert len(completed.stderr.strip().splitlines()) == 1


def test_open_store_needs_no_alembic_ini(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no alembic.ini anywhere near
    store = open_store(str(tmp_path / "a.db"), create=True)
    assert count(store, "amlaudit_runs") == 0
    store.dispose()
    assert not (tmp_path / "alembic.ini").exists()
