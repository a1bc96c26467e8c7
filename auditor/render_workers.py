"""Rendering the reports, the costliest formats in a worker process beside the others.

A reporter whose class sets `render_apart = True` (the CSV and the workbook, which share
their rows) may be rendered in a worker process while this process renders the other
formats; on a machine with a spare core the formats then add their time side by side
rather than end to end. The worker is a fresh interpreter (`python -m
amlaudit.auditor.render_workers`), not a fork. It reads the audit result and its
reporters, pickled, from an unnamed temporary file (22 MB, 0.2 s to make, at 25,000
findings), and writes each rendered file, as its length then its bytes, to another,
which this process reads once the worker has exited.

Why not a fork, which the first version used: after a fork every page either process
writes to (a reference count is a write) is copied, and on the 2-core VM of the
benchmarks those copy-on-write faults cost about 1.7 s of system time, as much as the
worker's renders saved. Why files, not pipes: a pipe holds 64 KB, and a thread feeding
or draining it needs the GIL between each 64 KB while this process renders, so the
worker waited seconds for its input (benchmarks/README.md).

What stays as in a serial render:
  * the bytes: each reporter's `render` runs unchanged on an equal result, there or here
    (the checks' functions are not sent: a reporter reads the catalog, never runs a check);
  * nothing is written here: the caller stages and renames the files (pipeline.write_reports);
  * a failure: a worker that fails for any reason (its render raised, it was killed, it
    ran out of memory, it could not be started, a reporter did not pickle) has its
    formats rendered again here, so a render that raises raises here, exactly as in a
    serial run, and a worker lost for another reason costs time, not the run. What the
    worker writes to stderr is dropped.

When the render stays serial (docs/formats.md, "Rendering in parallel"):
  * `AMLAUDIT_RENDER_WORKERS=0`, or one usable core (affinity, capped by a cgroup v2 CPU quota);
  * fewer than WORKER_MIN_FINDINGS findings, unless the setting asks for a worker;
  * no format rendered apart was asked for.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import struct
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from amlaudit.auditor.findings import AuditResult
from amlaudit.auditor.runner import cyclic_gc_paused

RENDER_WORKERS_ENV = "AMLAUDIT_RENDER_WORKERS"
_LENGTH = struct.Struct("<Q")  # each rendered file: its length, then its bytes


class RenderSettingError(ValueError):
    """AMLAUDIT_RENDER_WORKERS is not a whole number >= 0."""


def render_all(result: AuditResult, reporters: Sequence[Any]) -> list[bytes]:
    """Each reporter's bytes, in the order given."""
    rendered = dict(render_each(result, reporters))
    return [rendered[i] for i in range(len(reporters))]


def render_each(result: AuditResult, reporters: Sequence[Any]) -> Iterator[tuple[int, bytes]]:
    """(index, bytes) of each reporter as soon as it is rendered: those rendered here in
    order, then those a worker rendered. Closing the iterator early stops the workers."""
    apart = [i for i, reporter in enumerate(reporters) if getattr(reporter, "render_apart", False)]
    groups = _groups(apart, worker_count(len(apart), len(result.findings)))
    if not groups:
        for i, reporter in enumerate(reporters):
            yield i, reporter.render(result)
        return
    workers: list[_Worker] = []
    try:
        portable = _portable(result)
        for group in groups:
            try:
                workers.append(_spawn(portable, [(i, reporters[i]) for i in group]))
            # No process to be had, or a reporter that cannot be sent (pickle raises one of
            # these for an object it cannot write): that group is rendered here.
            except (OSError, pickle.PicklingError, TypeError, AttributeError):
                pass
        del portable  # the workers have read or will read their copies from their files
        sent = {i for worker in workers for i, _ in worker.group}
        pending = list(workers)
        for i, reporter in enumerate(reporters):
            if i not in sent:
                yield i, reporter.render(result)
                # A worker done by now gives its files at once: they are written while this process renders on.
                for worker in [w for w in pending if w.process.poll() is not None]:
                    pending.remove(worker)
                    yield from _delivered(worker, result)
        for worker in pending:
            yield from _delivered(worker, result)
    finally:
        for worker in workers:
            worker.stop()


def _delivered(worker: _Worker, result: AuditResult) -> Iterator[tuple[int, bytes]]:
    received = worker.collect()
    for i, reporter in worker.group:
        # A worker that failed: its formats rendered here (a render that raises, raises here).
        yield i, received[i] if received is not None else reporter.render(result)


# Below this many findings no worker is started unless AMLAUDIT_RENDER_WORKERS asks for one:
# a worker's interpreter takes about 0.3 s to start and import, and the formats it renders
# cost about 40 µs a finding, so it finishes before this process's own formats only past
# several thousand findings (25,000 at 1,000 workspaces; the demo has 70).
WORKER_MIN_FINDINGS = 5_000


def worker_count(apart: int, findings: int | None = None) -> int:
    """How many worker processes render apart: 0 (serial) when a worker is not wanted or not worth it.

    `findings`: the run's count, for the default (a setting decides alone).
    """
    setting = os.environ.get(RENDER_WORKERS_ENV, "").strip()
    if setting:
        try:
            wanted = int(setting)
        except ValueError:
            wanted = -1
        if wanted < 0:
            raise RenderSettingError(f"{RENDER_WORKERS_ENV}={setting!r}: expected a whole number >= 0 (0 renders serially)")
    elif findings is not None and findings < WORKER_MIN_FINDINGS:
        wanted = 0
    else:
        wanted = usable_cores() - 1  # this process renders too
    if wanted <= 0 or apart == 0:
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


def _groups(items: list[int], count: int) -> list[list[int]]:
    """`items` dealt round-robin into `count` non-empty groups (none when count is 0)."""
    return [items[k::count] for k in range(count)] if count else []


def _not_sent(*_args: Any, **_kwargs: Any) -> Any:
    raise RuntimeError("a check's function is not sent to a render worker")


def _portable(result: AuditResult) -> AuditResult:
    """The result as the worker gets it: the same, but each check without its function.

    A check's function is wrapped by its decorator and pickles by no name; reporters read
    the catalog (id, title, severity, source, ...) and never run a check.
    """
    checks = [dataclasses.replace(check, function=_not_sent) for check in result.checks]
    return dataclasses.replace(result, checks=checks)


@dataclass
class _Worker:
    process: subprocess.Popen[bytes]
    group: list[tuple[int, Any]]
    outbox: IO[bytes]  # the worker's standard output: each file's length, then its bytes
    reaped: bool = False

    def collect(self) -> dict[int, bytes] | None:
        """The worker's files by reporter index, or None if it did not deliver all of them."""
        status = self.process.wait()
        self.reaped = True
        try:
            if status != 0:
                return None
            self.outbox.seek(0)
            received: dict[int, bytes] = {}
            for i, _ in self.group:
                header = self.outbox.read(_LENGTH.size)
                if len(header) < _LENGTH.size:
                    return None
                (length,) = _LENGTH.unpack(header)
                data = self.outbox.read(length)
                if len(data) < length:
                    return None
                received[i] = data
            return received
        finally:
            self.outbox.close()

    def stop(self) -> None:
        """Leave no child behind (after a failure here, or an interrupt)."""
        if not self.reaped:
            self.process.kill()
            self.process.wait()
            self.reaped = True
        self.outbox.close()


def worker_command() -> list[str]:
    return [sys.executable, "-m", "amlaudit.auditor.render_workers"]


def _spawn(result: AuditResult, group: list[tuple[int, Any]]) -> _Worker:
    """A worker rendering `group`, its input and output in unnamed temporary files.

    Files, not pipes: a pipe holds 64 KB, and a thread here feeding it (or draining it)
    needs the GIL between every 64 KB while this process renders, so 22 MB of input took
    seconds to reach the worker. A temporary file takes the payload in one write, and the
    worker's files are read back in one read each once it is done.
    """
    payload = pickle.dumps((result, [reporter for _, reporter in group]), protocol=pickle.HIGHEST_PROTOCOL)
    env = dict(os.environ)
    # The worker imports what this process imported, from where it did (a source tree, a plug-in's folder).
    env["PYTHONPATH"] = os.pathsep.join(path for path in sys.path if path)
    outbox = tempfile.TemporaryFile()
    try:
        with tempfile.TemporaryFile() as inbox:
            inbox.write(payload)
            inbox.flush()
            inbox.seek(0)
            del payload
            process = subprocess.Popen(worker_command(), stdin=inbox, stdout=outbox, stderr=subprocess.DEVNULL,
                                       env=env, close_fds=True)
    except BaseException:
        outbox.close()
        raise
    return _Worker(process, group, outbox)


def serve(stdin: IO[bytes], stdout: IO[bytes]) -> int:
    """The worker: read the result and the reporters, render them in order, send each file's bytes."""
    # The collector paused as in the scan's process: the result is millions of objects, none of
    # them garbage (with it running, the workbook took 1.3 s here instead of 0.7 s).
    with cyclic_gc_paused():
        result, reporters = pickle.load(stdin)
        for reporter in reporters:  # each file written as soon as it is rendered, and dropped
            data = reporter.render(result)
            stdout.write(_LENGTH.pack(len(data)))
            stdout.write(data)
            stdout.flush()
            del data
    return 0


if __name__ == "__main__":
    protocol_out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    sys.stdout = sys.stderr  # a stray print in a render cannot corrupt the files sent back
    sys.exit(serve(sys.stdin.buffer, protocol_out))
