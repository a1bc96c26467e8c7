"""`amlaudit history`: the runs table, `--trend` as tables and as CSV, options and bad input."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest

from amlaudit.auditor.cli import main
from tests.history.helpers import facts, finding, open_for_writing, record, result_of

SVR, KVR = "storage-vnet-rule", "keyvault-vnet-rule"
SUB_A, SUB_B = "/subscriptions/s/resourceGroups/rg/providers/x/a", "/subscriptions/s/resourceGroups/rg/providers/x/b"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.fixture
def three_runs(history_url: str) -> str:
    store = open_for_writing(history_url)
    record(store, result_of(finding(SVR, SUB_A, "fail"), finding(SVR, SUB_B, "fail"), finding(KVR, SUB_A, "pass")), facts(0))
    record(store, result_of(finding(SVR, SUB_A, "fail"), finding(SVR, SUB_B, "pass"), finding(KVR, SUB_A, "fail")), facts(1))
    record(store, result_of(finding(SVR, SUB_A, "fail"), finding(SVR, SUB_B, "pass"), finding(KVR, SUB_A, "error")),
           facts(2, exit_status=3, subscriptions=("sub-a", "sub-b")))
    store.dispose()
    return history_url


def test_runs_table(three_runs: str, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "history", "--history", three_runs)
    assert status == 0, err
    assert "3 runs in" in out
    lines = [line for line in out.splitlines() if "tester@ci-host" in line]
    assert len(lines) == 3
    assert "2026-01-03 02:00" in lines[2] and "42s" in lines[2]


def test_runs_as_csv_round_trip_through_pandas(three_runs: str, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "history", "--history", three_runs, "--format", "csv")
    assert status == 0
    frame = pd.read_csv(io.StringIO(out))
    assert list(frame.columns)[:4] == ["run", "started", "finished", "user"]
    assert list(frame["run"]) == [1, 2, 3]
    assert list(frame["fail"]) == [2, 2, 1]
    assert list(frame["exit"]) == [1, 1, 3]
    assert list(frame["started"]) == ["2026-01-01T02:00:00Z", "2026-01-02T02:00:00Z", "2026-01-03T02:00:00Z"]
    assert frame["subscriptions"].iloc[2] == "sub-a sub-b"


def test_last_n_runs(three_runs: str, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "history", "--history", three_runs, "--format", "csv", "--last", "2")
    assert status == 0
    assert list(pd.read_csv(io.StringIO(out))["run"]) == [2, 3]


def test_trend_tables(three_runs: str, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "history", "--history", three_runs, "--trend")
    assert status == 0, err
    assert "Failures per check over 3 runs" in out
    storage_row = next(line for line in out.splitlines() if line.startswith("│ storage-vnet-rule") and "█" in line)
    assert [cell.strip() for cell in storage_row.split("│")[2:5]] == ["2", "1", "1"]
    assert "open age" in out
    assert "resolved" in out and "unverified" in out


def test_trend_csv_is_one_table_told_apart_by_its_first_column(three_runs: str, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "history", "--history", three_runs, "--trend", "--format", "csv")
    assert status == 0
    frame = pd.read_csv(io.StringIO(out))
    assert frame.columns[0] == "table"
    failures = frame[frame["table"] == "failures"]
    per_check = {c: [int(v) for v in rows["failures"]] for c, rows in failures.groupby("check_id")}
    assert per_check == {SVR: [2, 1, 1], KVR: [0, 1, 0]}
    ages = frame[frame["table"] == "ages"].set_index(["check_id", "subject"])
    assert ages.loc[(SVR, SUB_A), "state"] == "open"
    assert ages.loc[(SVR, SUB_A), "first_seen"] == "2026-01-01T02:00:00Z"
    assert ages.loc[(SVR, SUB_A), "days_open"] == 2.0
    assert ages.loc[(SVR, SUB_B), "state"] == "resolved"
    assert ages.loc[(KVR, SUB_A), "state"] == "unverified"
    assert int(ages.loc[(SVR, SUB_A), "runs_failed"]) == 3


@pytest.mark.parametrize(("view", "columns"), [("failures", ["table", "check_id", "run", "started", "failures"]),
                                               ("ages", ["table", "check_id", "subject", "fingerprint", "state", "first_seen",
                                                         "last_seen", "days_open", "runs_failed"])])
def test_trend_csv_one_view(three_runs: str, capsys: pytest.CaptureFixture[str], view: str, columns: list[str]) -> None:
    status, out, _ = run(capsys, "history", "--history", three_runs, "--trend", "--view", view, "--format", "csv")
    assert status == 0
    frame = pd.read_csv(io.StringIO(out))
    assert list(frame.columns) == columns
    assert set(frame["table"]) == {view}


def test_trend_for_one_check(three_runs: str, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "history", "--history", three_runs, "--trend", "--check", KVR, "--format", "csv")
    assert status == 0
    assert set(pd.read_csv(io.StringIO(out))["check_id"]) == {KVR}


def test_an_empty_history(sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    open_for_writing(sqlite_url).dispose()
    status, out, _ = run(capsys, "history", "--history", sqlite_url)
    assert (status, out.strip()) == (0, f"no runs recorded in {sqlite_url}")
    status, out, _ = run(capsys, "history", "--history", sqlite_url, "--trend")
    assert status == 0
    assert "No failures in the runs considered." in out
    status, out, _ = run(capsys, "history", "--history", sqlite_url, "--trend", "--format", "csv")
    assert status == 0
    assert out.strip() == "table,check_id,run,started,failures,subject,fingerprint,state,first_seen,last_seen,days_open,runs_failed"


def test_the_history_comes_from_the_config_file(three_runs: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "run.toml"
    config.write_text(f"history = {three_runs!r}\n".replace("'", '"'))
    status, out, _ = run(capsys, "history", "--config", str(config), "--format", "csv")
    assert status == 0
    assert len(pd.read_csv(io.StringIO(out))) == 3


@pytest.mark.parametrize(("argv", "message"), [
    (["history"], "no history database: pass --history URL"),
    (["history", "--history", "x.db", "--check", "storage-vnet-rule"], "--check and --view apply to --trend"),
    (["history", "--history", "x.db", "--last", "0"], "--last"),
    (["history", "--history", "x.db", "--format", "xml"], "--format"),
])
def test_bad_invocations_exit_2_with_one_line(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(capsys, *argv)
    assert status == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1
