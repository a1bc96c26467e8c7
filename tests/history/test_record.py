"""`scan --history`: what a run records, and that a run is recorded whole or not at all."""

from __future__ import annotations

import dataclasses
import getpass
import json
import socket
from datetime import datetime, timezone
from pathlib import Path

import orjson
import pytest
import sqlalchemy as sa

from amlaudit.auditor import __version__
from amlaudit.auditor.cli import main
from amlaudit.auditor.history.errors import HistoryError
from amlaudit.auditor.history.record import MAX_EVIDENCE_BYTES, evidence_json, finding_rows
from amlaudit.auditor.history.schema import findings, runs
from amlaudit.auditor.history.store import open_store
from tests.history.helpers import count, demo_result, facts, finding, open_for_writing, record


def scan(capsys: pytest.CaptureFixture[str], out: Path, *extra: str) -> tuple[int, str, str]:
    status = main(["scan", "--demo", "--out", str(out), *extra])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def demo_subscription_ids() -> list[str]:
    import gzip
    from importlib import resources

    data = gzip.decompress(resources.files("amlaudit.fixtures").joinpath("demo.json.gz").read_bytes())
    return [s["subscriptionId"] for s in json.loads(data)["subscriptions"]]


def rows(url: str, table: sa.Table) -> list[dict[str, object]]:
    store = open_store(url, create=False)
    with store.engine.connect() as connection:
        found = [dict(r._mapping) for r in connection.execute(sa.select(table).order_by(table.c.id))]
    store.dispose()
    return found


def test_scan_records_the_run_with_who_where_when_and_every_finding(history_url: str, tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    before = datetime.now(timezone.utc)
    status, out, err = scan(capsys, tmp_path / "out", "--history", history_url)
    after = datetime.now(timezone.utc)
    assert status == 1, err
    assert "recorded as run #1 in the history (1 runs)" in out
    document = json.loads((tmp_path / "out" / "findings.json").read_text())

    [run] = rows(history_url, runs)
    started = run["started_at"].replace(tzinfo=run["started_at"].tzinfo or timezone.utc)  # type: ignore[union-attr]
    finished = run["finished_at"].replace(tzinfo=run["finished_at"].tzinfo or timezone.utc)  # type: ignore[union-attr]
    assert before.replace(microsecond=0) <= started <= finished <= after
    assert run["user_name"] == getpass.getuser()
    assert run["host_name"] == socket.gethostname()
    assert run["tool_version"] == __version__
    assert run["snapshot_source"] == "demo estate"
    subscriptions = json.loads(str(run["subscriptions"]))
    assert subscriptions == demo_subscription_ids()
    assert (run["exit_status"], run["fail_on"]) == (1, "low")
    summary = document["summary"]
    assert (run["n_fail"], run["n_error"], run["n_pass"], run["n_not_applicable"]) == (
        summary["fail"], summary["error"], summary["pass"], summary["not_applicable"])
    assert run["n_findings"] == len(document["findings"])
    assert run["n_collection_errors"] == len(document["errors"])
    assert run["n_coverage_gaps"] == len(document["coverage_gaps"])

    recorded = rows(history_url, findings)
    assert len(recorded) == len(document["findings"])
    for stored, written in zip(recorded, document["findings"], strict=True):
        assert (stored["fingerprint"], stored["check_id"], stored["status"], stored["severity"], stored["subject"],
                stored["message"]) == (written["fingerprint"], written["check_id"], written["status"],
                                       written["severity"], written["resource_id"], written["message"])
        if written["status"] in ("fail", "error"):
            assert json.loads(str(stored["evidence"])) == written["evidence"]
        else:
            assert stored["evidence"] is None
        assert stored["annotations"] is None


def test_the_config_file_names_the_history_and_the_flag_wins(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "run.toml"
    config.write_text(f'history = "{tmp_path / "from-config.db"}"\n')
    assert scan(capsys, tmp_path / "out", "--config", str(config))[0] == 1
    assert (tmp_path / "from-config.db").exists()
    assert scan(capsys, tmp_path / "out", "--config", str(config), "--history", str(tmp_path / "flag.db"))[0] == 1
    assert count(open_store(str(tmp_path / "from-config.db"), create=False), "amlaudit_runs") == 1
    assert count(open_store(str(tmp_path / "flag.db"), create=False), "amlaudit_runs") == 1


def test_the_environment_names_the_history(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AMLAUDIT_HISTORY", str(tmp_path / "env.db"))
    assert scan(capsys, tmp_path / "out")[0] == 1
    assert count(open_store(str(tmp_path / "env.db"), create=False), "amlaudit_runs") == 1


def test_without_history_nothing_is_recorded_and_the_report_has_no_chart(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = scan(capsys, tmp_path / "out", "--format", "json,html")
    assert status == 1
    assert "recorded as run" not in out
    assert 'id="history"' not in (tmp_path / "out" / "report.html").read_text()
    assert list(tmp_path.glob("*.db")) == []


def test_sqlite_parent_folders_are_created(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "var" / "lib" / "amlaudit" / "audits.db"
    assert scan(capsys, tmp_path / "out", "--history", str(target))[0] == 1
    assert target.exists()


def test_reports_that_cannot_be_written_leave_no_run_recorded(history_url: str, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert scan(capsys, tmp_path / "out", "--history", history_url)[0] == 1
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the output folder should be")
    status, _, err = scan(capsys, blocked, "--history", history_url)
    assert status == 2, err
    assert "Traceback" not in err
    store = open_store(history_url, create=False)
    assert count(store, "amlaudit_runs") == 1  # the first run only: the failed one was rolled back
    assert count(store, "amlaudit_findings") == len(demo_result().findings)
    store.dispose()


def test_a_write_that_fails_midway_leaves_nothing_and_no_reports(history_url: str, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str],
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from amlaudit.auditor.history import record as record_module

    real_rows = record_module.finding_rows

    def rows_with_a_bad_one(run_id: int, items: object) -> list[dict[str, object]]:
        built = real_rows(run_id, items)  # type: ignore[arg-type]
        built[len(built) // 2]["check_id"] = None  # NOT NULL: the database refuses this row mid-batch
        return built

    monkeypatch.setattr(record_module, "finding_rows", rows_with_a_bad_one)
    status, _, err = scan(capsys, tmp_path / "out", "--history", history_url)
    assert status == 2
    assert err.startswith("amlaudit: error: history ") and "cannot record the run" in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()  # recorded before rendering: nothing was written
    store = open_store(history_url, create=False)
    assert count(store, "amlaudit_runs") == 0
    assert count(store, "amlaudit_findings") == 0
    store.dispose()


def test_two_runs_get_their_own_ids_and_findings(history_url: str) -> None:
    store = open_for_writing(history_url)
    first = record(store, demo_result(), facts(0))
    second = record(store, demo_result(), facts(1))
    assert first != second
    n = len(demo_result().findings)
    assert count(store, "amlaudit_findings", f"WHERE run_id = {first}") == n
    assert count(store, "amlaudit_findings", f"WHERE run_id = {second}") == n
    store.dispose()


def test_evidence_is_kept_for_findings_needing_attention_only() -> None:
    rows_ = finding_rows(7, [finding("c", "/s/a", "fail", {"port": 22}), finding("c", "/s/b", "error", {"why": "403"}),
                             finding("c", "/s/c", "pass", {"rule": "x"}), finding("c", "/s/d", "not_applicable"),
                             finding("c", "/s/e", "suppressed", {"new": "status"})])
    assert [r["evidence"] for r in rows_] == ['{"port":22}', '{"why":"403"}', None, None, '{"new":"status"}']
    assert {r["run_id"] for r in rows_} == {7}


def test_oversized_evidence_is_replaced_by_a_marker_saying_how_large() -> None:
    big = {"prefixes": [f"10.{i // 256}.{i % 256}.0/24" for i in range(5000)]}
    stored = orjson.loads(evidence_json(big))
    size = len(orjson.dumps(big))
    assert size > MAX_EVIDENCE_BYTES
    assert stored == {"amlaudit_evidence_omitted": {"bytes": size, "limit": MAX_EVIDENCE_BYTES}}
    small = {"a": 1}
    assert orjson.loads(evidence_json(small)) == small


def test_evidence_with_sets_is_stored_as_findings_json_shows_it() -> None:
    assert orjson.loads(evidence_json({"ports": {443, 22}, "addr": Path("/x")})) == {"ports": ["22", "443"], "addr": "/x"}


def test_waiver_and_baseline_annotations_are_recorded() -> None:
    waived = dataclasses.replace(finding("c", "/s/a", "fail"), baseline="new",
                                 waiver={"check": "c", "reason": "CHG-1", "owner": "o", "expires": "2027-03-31", "resource": "/s/a"})
    [row] = finding_rows(1, [waived])
    assert orjson.loads(str(row["annotations"])) == {"waiver": waived.waiver, "baseline": "new"}


def test_a_closed_engine_error_is_a_history_error(sqlite_url: str) -> None:
    store = open_for_writing(sqlite_url)
    with pytest.raises(HistoryError, match="cannot record"):
        with store.writing() as connection, store.errors_as("cannot record"):
            connection.execute(sa.text("INSERT INTO amlaudit_runs (id) VALUES (1)"))
    assert count(store, "amlaudit_runs") == 0
    store.dispose()
