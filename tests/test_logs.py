"""`--quiet` and `--log-format json` (auditor/logs.py): what reaches stdout and stderr, for every command.

Tests call `amlaudit.auditor.cli.main(argv)` in-process and read what it printed; the live ones
collect from the HTTPS Resource Manager stand-in, as a scheduled job would collect from Azure.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import click
import pytest

from amlaudit.auditor import logs
from amlaudit.auditor.cli import cli, main
from amlaudit.auditor.collect import scheduler as scheduler_module
from amlaudit.auditor.collect.scheduler import Scheduler
from amlaudit.fixtures import build_estates
from tests.standin.fixtures import StartStandIn, arm_standin, standin_ca  # noqa: F401 - fixtures
from tests.standin.sample_estate import sample_estate

ESTATES = Path(build_estates.__file__).resolve().parent / "estates"
EVENT_KEYS = ["timestamp", "level", "event", "fields"]
# Token-looking values a scheduled job has in its environment; none may reach stdout or stderr.
GITHUB_TOKEN = "ghp_" + "R3alLooking" * 4
CLIENT_SECRET = "Q~8xv.secretvalue-Of-The-Service-Principal"
DB_PASSWORD = "hunter2-db-password"
JWT = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJhdWQiOiJodHRwczovL21hbmFnZW1lbnQifQ.c2lnbmF0dXJlLWJ5dGVz"


def run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def events(stderr: str) -> list[dict[str, Any]]:
    """Every stderr line as a JSON event; fails on any line that is not one."""
    parsed = []
    for line in stderr.splitlines():
        event = json.loads(line)
        assert list(event) == EVENT_KEYS, line
        assert event["level"] in ("info", "warning", "error"), line
        assert isinstance(event["fields"], dict), line
        assert datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00")).tzinfo is not None
        parsed.append(event)
    return parsed


def names(parsed: list[dict[str, Any]]) -> list[str]:
    return [e["event"] for e in parsed]


def write_config(tmp_path: Path, text: str) -> Path:
    config = tmp_path / "run.toml"
    config.write_text(text)
    return config


# -- --log-format json ------------------------------------------------------------------------------------

@pytest.mark.parametrize("where", ["before the command", "after the command"])
def test_json_events_of_an_offline_scan(where: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    args = ["scan", "--demo", "--out", out, "--format", "json,html"]
    argv = ["--log-format", "json", *args] if where == "before the command" else [*args, "--log-format", "json"]
    status, stdout, stderr = run(capsys, *argv)
    assert status == 1
    assert "amlaudit findings" in stdout  # the summary for people stays on stdout
    parsed = events(stderr)
    assert names(parsed) == ["run started", "checks done", "file written", "file written", "run finished"]
    started, checks, *written, finished = parsed
    assert started["fields"]["command"] == "scan"
    findings = json.loads((out / "findings.json").read_text())
    assert {k: checks["fields"][k] for k in findings["summary"]} == findings["summary"]
    assert checks["fields"]["findings"] == len(findings["findings"])
    assert [w["fields"]["path"] for w in written] == [str(out / "findings.json"), str(out / "report.html")]
    assert [w["fields"]["bytes"] for w in written] == [(out / "findings.json").stat().st_size,
                                                      (out / "report.html").stat().st_size]
    assert finished["level"] == "warning"
    assert finished["fields"]["exit_status"] == 1 and finished["fields"]["meaning"] == "failures found"


def test_json_clean_run_finishes_at_info_level(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, stderr = run(capsys, "--log-format", "json", "scan", "--snapshot", ESTATES / "clean.json",
                            "--out", tmp_path / "out", "--format", "json")
    assert status == 0
    finished = events(stderr)[-1]
    assert (finished["event"], finished["level"], finished["fields"]["exit_status"]) == ("run finished", "info", 0)


def test_json_bad_input_is_one_error_event_then_run_finished(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    earlier = tmp_path / "out" / "findings.json"
    earlier.parent.mkdir()
    earlier.write_text("{}")
    status, stdout, stderr = run(capsys, "--log-format", "json", "scan", "--snapshot", tmp_path / "missing.json",
                                 "--out", tmp_path / "out")
    assert status == 2 and stdout == ""
    parsed = events(stderr)
    assert names(parsed) == ["run started", "error", "run finished"]
    error = parsed[1]
    assert error["level"] == "error" and error["fields"]["exit_status"] == 2
    assert "missing.json" in error["fields"]["message"]
    assert parsed[2]["fields"]["exit_status"] == 2
    assert earlier.read_text() == "{}"  # earlier outputs left intact, as before


def test_json_usage_error_before_any_command_runs(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, stderr = run(capsys, "--log-format", "json", "no-such-command")
    assert status == 2
    parsed = events(stderr)
    assert names(parsed) == ["error", "run finished"]  # the group never started a command
    assert "no-such-command" in parsed[0]["fields"]["message"]


def test_log_format_from_the_run_config_and_the_flag_wins(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, 'log_format = "json"\n')
    status, _, stderr = run(capsys, "scan", "--demo", "--config", config, "--out", tmp_path / "a", "--format", "json")
    assert status == 1
    # The config is read after the group started: "run started" is still the first event.
    assert names(events(stderr))[0] == "run started"
    status, _, stderr = run(capsys, "--log-format", "text", "scan", "--demo", "--config", config,
                            "--out", tmp_path / "b", "--format", "json")
    assert (status, stderr) == (1, "")


def test_bad_log_format_values_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, stderr = run(capsys, "--log-format", "xml", "checks")
    assert status == 2 and stderr.startswith("amlaudit: error: ") and len(stderr.splitlines()) == 1
    config = write_config(tmp_path, 'log_format = "xml"\n')
    status, _, stderr = run(capsys, "scan", "--demo", "--config", config, "--out", tmp_path / "out")
    assert status == 2 and "log_format" in stderr and len(stderr.splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_text_format_keeps_stderr_to_the_error_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, stdout, stderr = run(capsys, "scan", "--demo", "--out", tmp_path / "out", "--format", "json")
    assert (status, stderr) == (1, "") and "exit 1: failures found" in stdout
    status, _, stderr = run(capsys, "explain", "no-such-check")
    assert status == 2 and stderr == "amlaudit: error: unknown check 'no-such-check' (run 'amlaudit checks' for the list)\n"


# -- --quiet ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("argv", [
    ["--quiet", "scan", "--demo"],
    ["scan", "--demo", "-q"],
    ["-q", "checks"],
    ["checks", "--json", "--quiet"],
    ["--quiet", "explain", "compute-batch-inbound"],
])
def test_quiet_prints_nothing_on_success(argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    extra = ["--out", str(tmp_path / "out"), "--format", "json"] if "scan" in argv else []
    status, stdout, stderr = run(capsys, *argv, *extra)
    assert (stdout, stderr) == ("", "")
    assert status == (1 if "scan" in argv else 0)
    if "scan" in argv:
        assert (tmp_path / "out" / "findings.json").is_file()  # quiet hides output, not work


def test_quiet_still_prints_the_error_line(capsys: pytest.CaptureFixture[str]) -> None:
    status, stdout, stderr = run(capsys, "--quiet", "explain", "no-such-check")
    assert status == 2 and stdout == ""
    assert stderr.startswith("amlaudit: error: unknown check") and len(stderr.splitlines()) == 1


def test_quiet_json_prints_only_the_error_event(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, stdout, stderr = run(capsys, "-q", "--log-format", "json", "scan", "--demo", "--out", tmp_path / "out",
                                 "--format", "no-such-format")
    assert status == 2 and stdout == ""
    parsed = events(stderr)
    assert names(parsed) == ["error"] and "no-such-format" in parsed[0]["fields"]["message"]
    status, stdout, stderr = run(capsys, "-q", "--log-format", "json", "scan", "--demo", "--out", tmp_path / "out")
    assert (status, stdout, stderr) == (1, "", "")  # failures are the exit status and the reports, not log errors


def test_quiet_from_the_run_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, "quiet = true\n")
    status, stdout, stderr = run(capsys, "scan", "--demo", "--config", config, "--out", tmp_path / "out")
    assert (status, stdout, stderr) == (1, "", "")
    config = write_config(tmp_path, "quiet = false\n")
    status, stdout, _ = run(capsys, "scan", "--demo", "--config", config, "--out", tmp_path / "out", "--quiet")
    assert (status, stdout) == (1, "")  # the flag wins


def test_quiet_and_json_are_undone_after_the_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "--quiet", "--log-format", "json", "scan", "--demo", "--out", tmp_path / "out")
    status, stdout, stderr = run(capsys, "checks")
    assert status == 0 and "compute-batch-inbound" in stdout and stderr == ""
    assert logging.getLogger("amlaudit").handlers == []
    assert logs.progress_bar() is None


def test_every_command_takes_quiet_and_log_format() -> None:
    logs.install_options(cli)
    logs.install_options(cli)  # idempotent: main() calls it on every run

    def walk(group: click.Group) -> list[click.Command]:
        found: list[click.Command] = [group]
        for command in group.commands.values():
            found.extend(walk(command) if isinstance(command, click.Group) else [command])
        return found

    commands = walk(cli)
    assert {c.name for c in commands} >= {"cli", "scan", "collect", "checks", "explain"}
    for command in commands:
        opts = [opt for param in command.params for opt in getattr(param, "opts", [])]
        assert opts.count("--quiet") == 1 and opts.count("--log-format") == 1, command.name


def test_a_command_added_later_gets_the_options_and_is_silenced(capsys: pytest.CaptureFixture[str]) -> None:
    @cli.command(name="test-late-command")
    def late() -> int:
        click.echo("this would be on stdout")
        return 0

    try:
        assert run(capsys, "test-late-command") == (0, "this would be on stdout\n", "")
        assert run(capsys, "test-late-command", "--quiet") == (0, "", "")
        status, stdout, stderr = run(capsys, "test-late-command", "--log-format", "json")
        assert stdout == "this would be on stdout\n"
        assert names(events(stderr)) == ["run started", "run finished"]
    finally:
        del cli.commands["test-late-command"]


def test_no_progress_bar_when_quiet_or_json() -> None:
    logs.begin()
    try:
        assert logs.progress_bar() is None  # a terminal decides
        logs.set_log_format("json")
        assert logs.progress_bar() is False
        logs.set_log_format("text")
        logs.set_quiet(True)
        assert logs.progress_bar() is False
    finally:
        logs.end()


def test_console_script_quiet_json(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", "from amlaudit.auditor.cli import run; run()", "--quiet",
                           "--log-format", "json", "scan", "--snapshot", str(tmp_path / "nope.json"),
                           "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stdout == ""
    assert names(events(done.stderr)) == ["error"]


# -- live collection --------------------------------------------------------------------------------------

def test_json_events_of_a_live_scan(arm_standin: StartStandIn, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scheduler_module, "PROGRESS_EVERY", 5)
    standin = arm_standin(sample_estate().document)
    standin.fail(r"(?i)/providers/Microsoft\.KeyVault/vaults/", 403, code="AuthorizationFailed",
                 message="The client does not have authorization to perform action 'Microsoft.KeyVault/vaults/read'")
    out = tmp_path / "out"
    status, _, stderr = run(capsys, "--log-format", "json", "scan", "--arm-endpoint", standin.url, "--out", out,
                            "--format", "json")
    assert status in (1, 3)
    parsed = events(stderr)
    sequence = names(parsed)
    assert sequence[:2] == ["run started", "collection started"]
    assert sequence[-4:] == ["collection done", "checks done", "file written", "run finished"]
    started = parsed[1]["fields"]
    assert started["arm_endpoint"] == standin.url and started["concurrency"] == 8
    progress = [e["fields"] for e in parsed if e["event"] == "collection progress"]
    # Workers log after releasing the scheduler's lock, so two records may come out of order.
    assert progress and sorted(p["calls_done"] for p in progress) == list(range(5, 5 * len(progress) + 1, 5))
    assert all(p["calls_submitted"] >= p["calls_done"] for p in progress)
    errors = [e for e in parsed if e["event"] == "collection error"]
    snapshot_errors = json.loads((out / "findings.json").read_text())["errors"]
    assert errors and len(errors) == len(snapshot_errors)
    assert {e["level"] for e in errors} == {"warning"}
    assert {(e["fields"]["status"], e["fields"]["code"]) for e in errors} == {(403, "AuthorizationFailed")}
    done = next(e for e in parsed if e["event"] == "collection done")["fields"]
    assert done["errors"] == len(errors) and done["resources"] > 0
    assert parsed[-1]["fields"]["exit_status"] == status
    assert standin.token not in stderr


def test_live_collect_quiet_prints_nothing(arm_standin: StartStandIn, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    standin = arm_standin(sample_estate().document)
    status, stdout, stderr = run(capsys, "collect", "--quiet", "--arm-endpoint", standin.url,
                                 "--out", tmp_path / "snap.json")
    assert (status, stdout, stderr) == (0, "", "")
    assert json.loads((tmp_path / "snap.json").read_text())["resources"]
    status, stdout, stderr = run(capsys, "--log-format", "json", "collect", "--arm-endpoint", standin.url,
                                 "--out", tmp_path / "snap2.json")
    assert status == 0 and stdout.startswith("wrote ")
    assert names(events(stderr)) == ["run started", "collection started", "collection done", "file written",
                                     "run finished"]


# -- secrets ----------------------------------------------------------------------------------------------

def plant_secrets(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Put token-looking values where a scheduled job has them (after any stand-in started: it clears
    AZURE_* and AMLAUDIT_* variables)."""
    monkeypatch.setenv("GITHUB_TOKEN", GITHUB_TOKEN)
    monkeypatch.setenv("AZURE_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("AMLAUDIT_DB_PASSWORD", DB_PASSWORD)
    return [GITHUB_TOKEN, CLIENT_SECRET, DB_PASSWORD]


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_no_secret_reaches_the_error_line_or_the_events(log_format: str, monkeypatch: pytest.MonkeyPatch,
                                                        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    secrets_in_environment = plant_secrets(monkeypatch)
    # The endpoint carries a password and a query string, so it is refused, and the refusal quotes it.
    endpoint = f"https://auditor:{DB_PASSWORD}@127.0.0.1:9/?sig={CLIENT_SECRET}&token={GITHUB_TOKEN}"
    status, stdout, stderr = run(capsys, "--log-format", log_format, "scan", "--arm-endpoint", endpoint,
                                 "--out", tmp_path / "out")
    assert status == 2
    assert "https://auditor:***@127.0.0.1:9/" in stderr  # what was wrong is still said
    for secret in secrets_in_environment:
        assert secret not in stdout + stderr
    if log_format == "json":
        assert names(events(stderr)) == ["run started", "collection started", "error", "run finished"]


def test_no_secret_reaches_collection_error_events(arm_standin: StartStandIn, monkeypatch: pytest.MonkeyPatch,
                                                   tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    standin = arm_standin(sample_estate().document)
    secrets_in_environment = plant_secrets(monkeypatch)
    # A service that echoes credentials in its error message (it happens): the event must not repeat them.
    standin.fail(r"(?i)/providers/Microsoft\.KeyVault/vaults/", 403, code="AuthorizationFailed",
                 message=f"denied for Bearer {JWT}; retry with {GITHUB_TOKEN} or password {DB_PASSWORD}")
    status, _, stderr = run(capsys, "--log-format", "json", "scan", "--arm-endpoint", standin.url,
                            "--out", tmp_path / "out", "--format", "json")
    assert status in (1, 3)
    errors = [e for e in events(stderr) if e["event"] == "collection error"]
    assert errors and all("denied for Bearer ***" in e["fields"]["message"] for e in errors)
    for secret in [*secrets_in_environment, JWT, standin.token]:
        assert secret not in stderr


@pytest.mark.parametrize(("text", "expected"), [
    ("postgresql://amlaudit:s3cr3t-pw@db.internal:5432/audits", "postgresql://amlaudit:***@db.internal:5432/audits"),
    ("https://user:p%40ss@127.0.0.1/x", "https://user:***@127.0.0.1/x"),
    ("https://store.blob.core.windows.net/c/f?sv=2024&sig=AbC%2Bdef123&se=2026", "https://store.blob.core.windows.net/c/f?sv=2024&sig=***&se=2026"),
    ("postgresql://db/audits?user=a&password=pw123456", "postgresql://db/audits?user=a&password=***"),
    ("Authorization: Bearer abcdefghijklmnop.qrs", "Authorization: Bearer ***"),
    (f"token {JWT} expired", "token *** expired"),
    (f"GITHUB_TOKEN={GITHUB_TOKEN}", "GITHUB_TOKEN=***"),
    ("github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz", "***"),
])
def test_redact_patterns(text: str, expected: str) -> None:
    assert logs.redact(text, secrets=[]) == expected


def test_redact_environment_secrets_and_leaves_ordinary_text(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JIRA_API_TOKEN", "plain-token-without-a-prefix")
    monkeypatch.setenv("AZURE_DEVOPS_EXT_PAT", "abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrst")
    monkeypatch.setenv("AZURE_TOKEN_CREDENTIALS", "AzureCliCredential")  # a setting, not a secret
    monkeypatch.setenv("SHORT_TOKEN", "abc")  # too short to scrub safely
    text = "sent plain-token-without-a-prefix and abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrst via AzureCliCredential abc"
    assert logs.redact(text) == "sent *** and *** via AzureCliCredential abc"
    ordinary = ("/subscriptions/6f1b2c3d-0000-4000-8000-000000000001/resourceGroups/rg/providers/"
                "Microsoft.MachineLearningServices/workspaces/ws https://management.azure.com/x?api-version=2024-04-01")
    assert logs.redact(ordinary) == ordinary
    assert logs.redact({"a": [text, 3, None], "b": Path("/tmp/x")}) == {"a": [logs.redact(text), 3, None], "b": "/tmp/x"}


# -- the scheduler's progress records ---------------------------------------------------------------------

def test_scheduler_logs_progress_every_n_calls(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(scheduler_module, "PROGRESS_EVERY", 3)
    caplog.set_level(logging.INFO, logger="amlaudit.auditor.collect.scheduler")
    with Scheduler(concurrency=2, progress=False) as scheduler:
        for _ in range(7):
            scheduler.submit(lambda: None)
        scheduler.wait()
    records = [r for r in caplog.records if r.getMessage() == "collection progress"]
    assert sorted(r.fields["calls_done"] for r in records) == [3, 6]  # type: ignore[attr-defined]
    assert all(r.fields["calls_submitted"] >= r.fields["calls_done"] for r in records)  # type: ignore[attr-defined]
