"""A bounded pool of workers that runs calls as soon as what they depend on is known.

Work is submitted from inside other work (a workspace list submits its compute lists,
a compute submits its VM read, ...), so the pool stays busy without phases or barriers:
wall time approaches calls / concurrency x latency. `wait()` returns once nothing is
queued or running. The first unexpected exception (a bug, or a CollectError that makes
the whole collection pointless) stops further work and is re-raised by `wait()`.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

T = TypeVar("T")
_LOG = logging.getLogger(__name__)
# A "collection progress" log record (an event line under --log-format json) after every this many calls:
# a heartbeat for log collectors on long collections, without a line per call.
PROGRESS_EVERY = 100


class _Stopped(Exception):
    """Marks a scheduler left before its work finished."""


class Scheduler:
    def __init__(self, concurrency: int, progress: bool | None = None) -> None:
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="amlaudit-collect")
        self._state = threading.Condition()
        self._outstanding = 0
        self._submitted = 0
        self._done = 0
        self._failure: BaseException | None = None
        show = sys.stderr.isatty() if progress is None else progress
        self._progress: Progress | None = None
        self._progress_task: Any = None
        if show:
            self._progress = Progress(SpinnerColumn(), TextColumn("Reading Resource Manager"), BarColumn(),
                                      MofNCompleteColumn(), TimeElapsedColumn(),
                                      console=Console(stderr=True), transient=True)
            self._progress_task = self._progress.add_task("calls", total=0)
            self._progress.start()

    def submit(self, work: Callable[..., Any], *args: Any) -> None:
        """Run `work(*args)` on a worker; ignored once the collection has failed."""
        with self._state:
            if self._failure is not None:
                return
            self._outstanding += 1
            self._submitted += 1
            if self._progress is not None:
                self._progress.update(self._progress_task, total=self._submitted)
        self._pool.submit(self._run, work, args)

    def then(self, future: Future[T], continuation: Callable[[T], Any]) -> None:
        """Call `continuation(result)` once `future` is resolved (now, if it already is).

        It runs in the thread that resolves the future, which is always a worker inside
        `_run` (or the caller, before `wait()`), so the outstanding count cannot reach zero
        while continuations are pending. Exceptions are kept, not swallowed as Future would.
        """
        def call(done: Future[T]) -> None:
            try:
                continuation(done.result())
            except BaseException as exc:  # noqa: BLE001 - re-raised by wait()
                self._fail(exc)

        future.add_done_callback(call)

    def wait(self) -> None:
        """Block until all submitted work (and the work it submitted) has finished."""
        with self._state:
            while self._outstanding and self._failure is None:
                self._state.wait()
            failure = self._failure
        if failure is not None:
            raise failure

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        if self._progress is not None:
            self._progress.stop()

    def __enter__(self) -> Scheduler:
        return self

    def __exit__(self, *args: Any) -> None:
        with self._state:
            # Left early (Ctrl-C in wait, or an error in the caller): take no new work, drop the queue.
            if self._failure is None and self._outstanding:
                self._failure = _Stopped()
        self.close()

    def _run(self, work: Callable[..., Any], args: tuple[Any, ...]) -> None:
        try:
            work(*args)
        except BaseException as exc:  # noqa: BLE001 - re-raised by wait()
            self._fail(exc)
        finally:
            with self._state:
                self._outstanding -= 1
                self._done += 1
                done, submitted = self._done, self._submitted
                if self._outstanding == 0:
                    self._state.notify_all()
            if self._progress is not None:
                self._progress.advance(self._progress_task)
            if done % PROGRESS_EVERY == 0:
                _LOG.info("collection progress", extra={"fields": {"calls_done": done, "calls_submitted": submitted}})

    def _fail(self, exc: BaseException) -> None:
        with self._state:
            if self._failure is None:
                self._failure = exc
            self._state.notify_all()
