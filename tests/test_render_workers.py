"""Rendering the costliest formats in a worker process: same bytes, same failures, serial when not worth it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from amlaudit.auditor import render_workers
from amlaudit.auditor.cli import main
from amlaudit.auditor.render_workers import RENDER_WORKERS_ENV, RenderSettingError, worker_count

REPO = Path(__file__).resolve().parent.parent


def probe(case: str, *args: str) -> dict[str, Any]:
    """A case of tests/render_workers_probe.py in a fresh, single-threaded interpreter."""
    env = {k: v for k, v in os.environ.items() if k != RENDER_WORKERS_ENV}
    done = subprocess.run([sys.executable, "-m", "tests.render_workers_probe", case, *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    answer: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return answer


def test_formats_rendered_in_a_worker_are_the_bytes_a_serial_render_gives() -> None:
    answer = probe("same-bytes")
    assert answer["workers"] == 1
    assert answer["apart"] == ["csv", "xlsx"]  # the two formats that share their rows
    assert answer["forked_in"] != answer["parent"] and answer["serial_in"] == answer["parent"]
    assert set(answer["same"]) >= {"findings.json", "report.html", "findings.sarif", "junit.xml", "findings.csv",
                                   "findings.xlsx", "findings.ocsf.json", "summary.md"}
    assert all(answer["same"].values()), answer["same"]
    assert all(size > 0 for size in answer["sizes"].values())


def test_a_render_that_fails_in_a_worker_raises_here_as_a_serial_render_would(tmp_path: Path) -> None:
    answer = probe("raises", str(tmp_path / "attempts"))
    assert (answer["raised"], answer["message"]) == ("ValueError", "the models rejected event 7")
    worker, here = answer["attempts"]
    assert worker != answer["parent"] and here == answer["parent"]  # tried in the worker, then here


def test_a_worker_that_is_killed_costs_time_not_the_run() -> None:
    assert probe("worker-dies") == {"data": "rendered in the parent"}


def test_another_thread_does_not_keep_the_render_here() -> None:
    # The worker is a fresh interpreter, not a fork: a thread here (a collector's, a test
    # server's) holds no lock the worker could inherit.
    answer = probe("with-a-thread")
    assert answer["threads"] >= 2
    assert answer["workers"] == 1 and answer["rendered_in"] != answer["parent"]


@pytest.mark.parametrize(("setting", "apart", "workers"), [("0", 2, 0), ("1", 2, 1), ("8", 2, 2), ("3", 0, 0)])
def test_the_setting_caps_the_workers(monkeypatch: pytest.MonkeyPatch, setting: str, apart: int, workers: int) -> None:
    monkeypatch.setenv(RENDER_WORKERS_ENV, setting)
    assert worker_count(apart) == workers


def test_a_small_run_renders_here_unless_the_setting_asks_for_a_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(RENDER_WORKERS_ENV, raising=False)
    monkeypatch.setattr(render_workers, "usable_cores", lambda: 4)
    small, large = render_workers.WORKER_MIN_FINDINGS - 1, render_workers.WORKER_MIN_FINDINGS
    assert (worker_count(2, small), worker_count(2, large)) == (0, 2)
    monkeypatch.setenv(RENDER_WORKERS_ENV, "1")
    assert worker_count(2, small) == 1
    assert render_workers.render_all(_demo(), [_Here()]) != [str(os.getpid()).encode()]  # the demo, in a worker
    monkeypatch.delenv(RENDER_WORKERS_ENV)
    assert render_workers.render_all(_demo(), [_Here()]) == [str(os.getpid()).encode()]  # the demo, here


def test_by_default_one_core_is_left_to_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(RENDER_WORKERS_ENV, raising=False)
    monkeypatch.setattr(render_workers, "usable_cores", lambda: 1)
    assert worker_count(2) == 0
    monkeypatch.setattr(render_workers, "usable_cores", lambda: 2)
    assert worker_count(2) == 1


@pytest.mark.parametrize(("cpu_max", "cores"), [
    ("max 100000\n", None),            # no quota: the affinity decides
    ("100000 100000\n", 1),            # `cpu: 1` in a container: one core, no worker
    ("150000 100000\n", 1),            # 1.5 cores: still one whole core
    ("200000 100000\n", 2),
    ("50000 100000\n", 1),             # half a core: at least one
    ("garbage\n", None),               # unreadable: the affinity decides
])
def test_a_cgroup_cpu_quota_caps_the_usable_cores(tmp_path: Path, cpu_max: str, cores: int | None) -> None:
    quota_file = tmp_path / "cpu.max"
    quota_file.write_text(cpu_max)
    affinity = len(os.sched_getaffinity(0))
    expected = affinity if cores is None else min(affinity, cores)
    assert render_workers.usable_cores(quota_file) == expected
    assert render_workers.usable_cores(tmp_path / "absent") == affinity


@pytest.mark.parametrize("setting", ["two", "-1", "1.5"])
def test_a_bad_setting_is_refused(monkeypatch: pytest.MonkeyPatch, setting: str) -> None:
    monkeypatch.setenv(RENDER_WORKERS_ENV, setting)
    with pytest.raises(RenderSettingError, match=RENDER_WORKERS_ENV):
        worker_count(1)


def test_a_bad_setting_is_exit_2_with_one_line_and_nothing_written(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(RENDER_WORKERS_ENV, "lots")
    out = tmp_path / "out"
    status = main(["scan", "--demo", "--format", "json,xlsx", "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1 and RENDER_WORKERS_ENV in err and "Traceback" not in err
    assert not out.exists()


class _Here:
    filename = "here.txt"
    render_apart = True

    def render(self, result: object) -> bytes:
        return str(os.getpid()).encode()


def test_when_no_process_can_be_started_the_format_renders_here(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_process(*args: object, **kwargs: object) -> None:
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setenv(RENDER_WORKERS_ENV, "1")
    monkeypatch.setattr(render_workers.subprocess, "Popen", no_process)
    open_before = len(os.listdir("/proc/self/fd")) if Path("/proc/self/fd").exists() else None
    assert render_workers.render_all(_demo(), [_Here()]) == [str(os.getpid()).encode()]
    if open_before is not None:
        assert len(os.listdir("/proc/self/fd")) == open_before  # nothing left open


def test_a_worker_that_cannot_be_sent_its_reporter_leaves_it_here(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(RENDER_WORKERS_ENV, "1")
    unpicklable = _Here()
    unpicklable.hook = lambda: None  # type: ignore[attr-defined]  # a lambda pickles by no name
    assert render_workers.render_all(_demo(), [unpicklable]) == [str(os.getpid()).encode()]


def test_the_worker_is_a_fresh_interpreter_that_gets_the_result_without_check_functions() -> None:
    result = _demo()
    portable = render_workers._portable(result)
    assert [c.id for c in portable.checks] == [c.id for c in result.checks]
    assert portable.findings is result.findings
    with pytest.raises(RuntimeError, match="not sent"):
        portable.checks[0].function(None, None)
    assert render_workers.worker_command()[1:] == ["-m", "amlaudit.auditor.render_workers"]


def _demo():  # type: ignore[no-untyped-def]
    from tests.report_helpers import demo_result

    return demo_result()
