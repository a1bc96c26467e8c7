"""Rendering the costliest formats in a forked worker: same bytes, same failures, serial when unsafe."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from amlaudit.auditor import render_workers
from amlaudit.auditor.cli import main
from amlaudit.auditor.render_workers import RENDER_WORKERS_ENV, RenderSettingError, worker_count

REPO = Path(__file__).resolve().parent.parent
linux_only = pytest.mark.skipif(sys.platform != "linux", reason="renders fork only on Linux")


def probe(case: str, *args: str) -> dict[str, Any]:
    """A case of tests/render_workers_probe.py in a fresh, single-threaded interpreter."""
    env = {k: v for k, v in os.environ.items() if k != RENDER_WORKERS_ENV}
    done = subprocess.run([sys.executable, "-m", "tests.render_workers_probe", case, *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    answer: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return answer


@linux_only
def test_formats_rendered_in_a_worker_are_the_bytes_a_serial_render_gives() -> None:
    answer = probe("same-bytes")
    assert answer["workers"] == 1
    assert answer["apart"] == ["junit", "xlsx"]  # the costly formats with small files
    assert answer["forked_in"] != answer["parent"] and answer["serial_in"] == answer["parent"]
    assert set(answer["same"]) >= {"findings.json", "report.html", "findings.sarif", "junit.xml", "findings.csv",
                                   "findings.xlsx", "findings.ocsf.json", "summary.md"}
    assert all(answer["same"].values()), answer["same"]
    assert all(size > 0 for size in answer["sizes"].values())


@linux_only
def test_a_render_that_fails_in_a_worker_raises_here_as_a_serial_render_would(tmp_path: Path) -> None:
    answer = probe("raises", str(tmp_path / "attempts"))
    assert (answer["raised"], answer["message"]) == ("ValueError", "the models rejected event 7")
    worker, here = answer["attempts"]
    assert worker != answer["parent"] and here == answer["parent"]  # tried in the worker, then here


@linux_only
def test_a_worker_that_is_killed_costs_time_not_the_run() -> None:
    assert probe("worker-dies") == {"data": "rendered in the parent"}


@linux_only
def test_another_thread_keeps_the_render_in_this_process() -> None:
    answer = probe("with-a-thread")
    assert answer["threads"] >= 2
    assert answer["workers"] == 0 and answer["rendered_in"] == answer["parent"]


def test_a_thread_here_means_no_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(RENDER_WORKERS_ENV, "4")
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait, daemon=True)
    thread.start()
    try:
        assert render_workers.thread_count() >= 2
        assert worker_count(3) == 0
    finally:
        stop.set()
        thread.join()


@pytest.mark.parametrize(("setting", "apart", "workers"), [("0", 2, 0), ("1", 2, 1), ("8", 2, 2), ("3", 0, 0)])
def test_the_setting_caps_the_workers(monkeypatch: pytest.MonkeyPatch, setting: str, apart: int, workers: int) -> None:
    monkeypatch.setenv(RENDER_WORKERS_ENV, setting)
    monkeypatch.setattr(render_workers, "thread_count", lambda: 1)
    monkeypatch.setattr(render_workers.sys, "platform", "linux")
    assert worker_count(apart) == workers


def test_by_default_one_core_is_left_to_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(RENDER_WORKERS_ENV, raising=False)
    monkeypatch.setattr(render_workers, "thread_count", lambda: 1)
    monkeypatch.setattr(render_workers.sys, "platform", "linux")
    monkeypatch.setattr(render_workers, "usable_cores", lambda: 1)
    assert worker_count(2) == 0
    monkeypatch.setattr(render_workers, "usable_cores", lambda: 2)
    assert worker_count(2) == 1
    monkeypatch.setattr(render_workers.sys, "platform", "darwin")  # not fork-safe there
    assert worker_count(2) == 0


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


def test_when_no_process_can_be_forked_the_format_renders_here(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_fork() -> int:
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setenv(RENDER_WORKERS_ENV, "1")
    monkeypatch.setattr(render_workers, "thread_count", lambda: 1)
    monkeypatch.setattr(render_workers.sys, "platform", "linux")
    monkeypatch.setattr(os, "fork", no_fork)
    open_before = len(os.listdir("/proc/self/fd")) if Path("/proc/self/fd").exists() else None
    assert render_workers.render_all(None, [_Here()]) == [str(os.getpid()).encode()]  # type: ignore[arg-type]
    if open_before is not None:
        assert len(os.listdir("/proc/self/fd")) == open_before  # the pipe was closed again
