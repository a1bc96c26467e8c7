"""Rendering the reports, the costliest formats in forked worker processes beside the others.

A reporter whose class sets `render_apart = True` (CPU-heavy for the bytes it makes: the
workbook, the JUnit file) may be rendered in a child process forked after the audit,
while this process renders the other formats; the child sends its bytes back through a
pipe. On a machine with a spare core the formats then add their time side by side
rather than end to end. The work itself is not less: the CPU time is the same or a
little more (the fork, the pages the child copies).

What stays as in a serial render:
  * the bytes: each reporter's `render` runs unchanged, in the child or here;
  * nothing is written here: the caller writes every file once all have rendered;
  * a failure: a worker that fails for any reason (its render raised, it was killed, it
    ran out of memory) has its formats rendered again here, so a render that raises
    raises here, exactly as in a serial run, and a worker lost for another reason costs
    time, not the run;
  * a reporter's `prepare(result)`, when it has one, runs here before the fork: work a
    forked format shares with one rendered here (the CSV's and the workbook's rows) is
    done once and inherited.

When the render stays serial (docs/formats.md, "Rendering in parallel"):
  * `AMLAUDIT_RENDER_WORKERS=0`, or one usable core (affinity, capped by a cgroup v2 CPU quota);
  * any other thread in the process (e.g. a collector's or a test server's): a fork keeps
    only the calling thread, and a lock another thread held stays locked in the child;
  * not Linux: macOS's system libraries are not fork-safe (Python spawns there), and
    Windows has no fork.

The child leaves with `os._exit`: it runs none of the parent's cleanup (atexit handlers,
a history database's connection finalizers, buffered stdout), which belong to the parent.
"""

from __future__ import annotations

import os
import signal
import struct
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from amlaudit.auditor.findings import AuditResult

RENDER_WORKERS_ENV = "AMLAUDIT_RENDER_WORKERS"
_LENGTH = struct.Struct("<Q")  # each rendered file: its length, then its bytes


class RenderSettingError(ValueError):
    """AMLAUDIT_RENDER_WORKERS is not a whole number >= 0."""


def render_all(result: AuditResult, reporters: Sequence[Any]) -> list[bytes]:
    """Each reporter's bytes, in the order given."""
    apart = [i for i, reporter in enumerate(reporters) if getattr(reporter, "render_apart", False)]
    groups = _groups(apart, worker_count(len(apart)))
    if not groups:
        return [reporter.render(result) for reporter in reporters]
    for reporter in reporters:
        prepare = getattr(reporter, "prepare", None)
        if prepare is not None:
            prepare(result)
    rendered: dict[int, bytes] = {}
    workers: list[_Worker] = []
    try:
        for group in groups:
            try:
                workers.append(_fork(result, [(i, reporters[i]) for i in group]))
            except OSError:  # no process to be had (a limit, memory): this group is rendered here
                pass
        forked = {i for worker in workers for i, _ in worker.group}
        for i, reporter in enumerate(reporters):
            if i not in forked:
                rendered[i] = reporter.render(result)
        for worker in workers:
            received = worker.collect()
            for i, reporter in worker.group:
                # A worker that failed: its formats rendered here (a render that raises, raises here).
                rendered[i] = received[i] if received is not None else reporter.render(result)
    finally:
        for worker in workers:
            worker.stop()
    return [rendered[i] for i in range(len(reporters))]


def worker_count(apart: int) -> int:
    """How many worker processes render apart: 0 (serial) when a fork is not safe or not worth it."""
    setting = os.environ.get(RENDER_WORKERS_ENV, "").strip()
    if setting:
        try:
            wanted = int(setting)
        except ValueError:
            wanted = -1
        if wanted < 0:
            raise RenderSettingError(f"{RENDER_WORKERS_ENV}={setting!r}: expected a whole number >= 0 (0 renders serially)")
    else:
        wanted = usable_cores() - 1  # this process renders too
    if wanted <= 0 or apart == 0 or sys.platform != "linux" or thread_count() > 1:
        return 0
    return min(wanted, apart)


CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")


def usable_cores(cpu_max: Path = CGROUP_CPU_MAX) -> int:
    """The cores this process may use: its CPU affinity, capped by a cgroup v2 CPU quota.

    A container limited to `cpu: 1` on a larger node sees every core in its affinity, but
    its quota lets it run one core's worth: a worker there would only take turns with the
    scan's process, so the quota counts (whole cores, rounded down, at least one).
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    quota = cgroup_cpu_quota(cpu_max)
    return max(1, min(cores, int(quota))) if quota is not None else cores


def cgroup_cpu_quota(cpu_max: Path = CGROUP_CPU_MAX) -> float | None:
    """Cores' worth of CPU time the cgroup v2 quota allows ("QUOTA PERIOD"), None when unlimited or unknown."""
    try:
        quota, _, period = cpu_max.read_text(encoding="ascii").strip().partition(" ")
        if quota == "max":
            return None
        return int(quota) / int(period or "100000")
    except (OSError, ValueError, ZeroDivisionError):
        return None


def thread_count() -> int:
    """Threads of this process, native ones included (Linux lists them in /proc), else Python's."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return threading.active_count()


def _groups(items: list[int], count: int) -> list[list[int]]:
    """`items` dealt round-robin into `count` non-empty groups (none when count is 0)."""
    return [items[k::count] for k in range(count)] if count else []


@dataclass
class _Worker:
    pid: int
    pipe: BinaryIO
    group: list[tuple[int, Any]]
    reaped: bool = False

    def collect(self) -> dict[int, bytes] | None:
        """The worker's files by reporter index, or None if it did not deliver all of them."""
        received: dict[int, bytes] = {}
        try:
            for i, _ in self.group:
                header = self.pipe.read(_LENGTH.size)
                if len(header) < _LENGTH.size:
                    break
                (length,) = _LENGTH.unpack(header)
                data = self.pipe.read(length)
                if len(data) < length:
                    break
                received[i] = data
        finally:
            self.pipe.close()
        _, status = os.waitpid(self.pid, 0)
        self.reaped = True
        complete = len(received) == len(self.group)
        return received if complete and os.waitstatus_to_exitcode(status) == 0 else None

    def stop(self) -> None:
        """Leave no child behind (after a failure here, or an interrupt)."""
        if not self.pipe.closed:
            self.pipe.close()
        if not self.reaped:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.waitpid(self.pid, 0)
            self.reaped = True


def _fork(result: AuditResult, group: list[tuple[int, Any]]) -> _Worker:
    for stream in (sys.stdout, sys.stderr):  # nothing buffered here is written twice
        stream.flush()
    read_fd, write_fd = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(read_fd)
        os.close(write_fd)
        raise
    if pid == 0:  # the child: render, send, leave
        status = 1
        try:
            os.close(read_fd)
            # Every format first, then the bytes: a write blocks until the parent reads, which
            # it does once its own formats are rendered.
            files = [reporter.render(result) for _, reporter in group]
            with open(write_fd, "wb") as pipe:
                for data in files:
                    pipe.write(_LENGTH.pack(len(data)))
                    pipe.write(data)
            status = 0
        finally:
            os._exit(status)  # whatever happened: the parent renders again what is missing
    os.close(write_fd)
    return _Worker(pid, open(read_fd, "rb"), group)
