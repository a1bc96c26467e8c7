"""The collector's scheduler: work submitted from work all finishes, and no failure is swallowed."""

from __future__ import annotations

import threading
from concurrent.futures import Future

import pytest

from amlaudit.auditor.collect.scheduler import Scheduler


def test_wait_returns_only_after_work_submitted_by_work() -> None:
    done: list[int] = []
    lock = threading.Lock()

    def work(depth: int) -> None:
        with lock:
            done.append(depth)
        if depth < 5:
            scheduler.submit(work, depth + 1)
            scheduler.submit(work, depth + 1)

    with Scheduler(concurrency=3, progress=False) as scheduler:
        scheduler.submit(work, 0)
        scheduler.wait()
    assert len(done) == 2 ** 6 - 1


def test_continuations_run_once_the_future_resolves_even_if_registered_late() -> None:
    seen: list[str] = []
    future: Future[str] = Future()
    with Scheduler(concurrency=2, progress=False) as scheduler:
        scheduler.then(future, lambda value: seen.append(f"early {value}"))
        scheduler.submit(future.set_result, "answer")
        scheduler.wait()
        scheduler.then(future, lambda value: seen.append(f"late {value}"))
    assert seen == ["early answer", "late answer"]


def test_a_failing_continuation_is_raised_by_wait() -> None:
    future: Future[int] = Future()

    def broken(value: int) -> None:
        raise KeyError(value)

    with Scheduler(concurrency=2, progress=False) as scheduler:
        scheduler.then(future, broken)
        scheduler.submit(future.set_result, 7)
        with pytest.raises(KeyError):
            scheduler.wait()


def test_after_a_failure_no_new_work_starts() -> None:
    ran: list[str] = []

    def fail() -> None:
        raise RuntimeError("collection cannot go on")

    with Scheduler(concurrency=1, progress=False) as scheduler:
        scheduler.submit(fail)
        with pytest.raises(RuntimeError):
            scheduler.wait()
        scheduler.submit(ran.append, "late work")
    assert ran == []


def test_progress_display_counts_every_call() -> None:
    with Scheduler(concurrency=2, progress=True) as scheduler:
        for n in range(10):
            scheduler.submit(lambda: None)
        scheduler.wait()
        task = scheduler._progress.tasks[0]  # noqa: SLF001 - the display's own count is what we check
        assert (task.total, task.completed) == (10, 10)
