"""Cases of tests/test_render_workers.py, each run in a fresh interpreter (`python -m tests.render_workers_probe CASE`).

A fresh interpreter, so that the environment setting and the process ids are this
case's alone. Each case prints one JSON object. The reporters below are sent to the
worker pickled, so they are importable classes of this module.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from amlaudit.auditor.findings import AuditResult
from amlaudit.auditor.registry import load_reporters
from amlaudit.auditor.render_workers import RENDER_WORKERS_ENV, render_all, worker_count
from tests.report_helpers import annotated_demo

PARENT = os.getpid()


class WhereRendered:
    """Renders the id of the process that rendered it."""

    filename = "where.txt"
    render_apart = True

    def render(self, result: AuditResult) -> bytes:
        return str(os.getpid()).encode()


class Failing:
    """Raises wherever it renders, and notes each attempt's process in a file."""

    filename = "failing.txt"
    render_apart = True

    def __init__(self, attempts: Path) -> None:
        self.attempts = attempts

    def render(self, result: AuditResult) -> bytes:
        with self.attempts.open("a") as fh:
            fh.write(f"{os.getpid()}\n")
        raise ValueError("the models rejected event 7")


class DiesInAWorker:
    """Kills its own process when rendered in a worker (as the OOM killer would); renders here."""

    filename = "dies.txt"
    render_apart = True

    def __init__(self) -> None:
        self.parent = os.getpid()  # sent with the reporter: the worker imports this module anew

    def render(self, result: AuditResult) -> bytes:
        if os.getpid() != self.parent:
            os.kill(os.getpid(), signal.SIGKILL)
        return b"rendered in the parent"


def _with_workers(count: int, reporters: list[Any], result: AuditResult) -> list[bytes]:
    os.environ[RENDER_WORKERS_ENV] = str(count)
    return render_all(result, reporters)


def same_bytes() -> dict[str, Any]:
    """Every registered format forked and serial, on the annotated demo (waivers, baselines)."""
    result = annotated_demo()
    classes = load_reporters()
    os.environ[RENDER_WORKERS_ENV] = "1"
    apart = sum(1 for cls in classes.values() if getattr(cls, "render_apart", False)) + 1
    workers = worker_count(apart)
    forked = _with_workers(1, [cls() for cls in classes.values()] + [WhereRendered()], result)
    serial = _with_workers(0, [cls() for cls in classes.values()] + [WhereRendered()], result)
    names = [cls.filename for cls in classes.values()]
    return {
        "workers": workers,
        "apart": sorted(name for name, cls in classes.items() if getattr(cls, "render_apart", False)),
        "same": {name: forked[i] == serial[i] for i, name in enumerate(names)},
        "sizes": {name: len(forked[i]) for i, name in enumerate(names)},
        "forked_in": int(forked[-1]), "serial_in": int(serial[-1]), "parent": PARENT,
    }


def raises(attempts: str) -> dict[str, Any]:
    reporters = [load_reporters(["json"])["json"](), Failing(Path(attempts))]
    try:
        _with_workers(1, reporters, annotated_demo())
    except ValueError as exc:
        return {"raised": type(exc).__name__, "message": str(exc), "parent": PARENT,
                "attempts": [int(line) for line in Path(attempts).read_text().split()]}
    return {"raised": None}


def worker_dies() -> dict[str, Any]:
    (data,) = _with_workers(1, [DiesInAWorker()], annotated_demo())
    return {"data": data.decode()}


def with_a_thread() -> dict[str, Any]:
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait, daemon=True)
    thread.start()
    try:
        os.environ[RENDER_WORKERS_ENV] = "1"
        threads_now, workers = threads(), worker_count(1)
        (where,) = render_all(annotated_demo(), [WhereRendered()])
    finally:
        stop.set()
        thread.join()
    return {"threads": threads_now, "workers": workers, "rendered_in": int(where), "parent": PARENT}


def threads() -> int:
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return threading.active_count()


CASES = {"same-bytes": same_bytes, "raises": raises, "worker-dies": worker_dies, "with-a-thread": with_a_thread}

if __name__ == "__main__":
    # The cases of the module imported by its name: their reporters are pickled by it.
    from tests import render_workers_probe

    print(json.dumps(render_workers_probe.CASES[sys.argv[1]](*sys.argv[2:])))
