"""GitHub tickets: a whole sync (list, plan, apply) of N findings against the stand-in with latency.

    python -m benchmarks.bench_tickets [--findings 2000] [--latency 0.05] [--scenarios unchanged,changes]
                                       [--scale 1] [--changes 100]

Scenarios (the tickets are made first by an untimed sync at zero latency):
  unchanged  N findings, N tickets in step: the listing only, no write;
  changes    N findings of which `--changes` are new failures (create), `--changes`/2 now pass
             (comment + close) and `--changes`/2 have new evidence (comment + state): 2 x changes writes;
  first      N failing findings, no ticket yet: N creates.
Reads required: the listing pages GitHub's paging needs, ceil(issues carrying the label / 100)
(pages follow each other by their Link header, so they cannot be read concurrently).
Writes required: create 1, comment 2 (the comment, then the state line), close and reopen 2.

The bound: GitHub limits writes ("content-generating requests"), not reads, with secondary
limits of at most 80 a minute and 500 an hour; the stand-in enforces exactly those (403
and Retry-After past them). The bound is the wall time of an ideal client that sends one
request at a time, each taking `latency`, reads first, and never has more writes in a
window than allowed: write k starts no earlier than write k-1 ended and no earlier than
one window after write k-80 (k-500) started. `--scale S` divides both windows by S (for the
`first` scenario, whose real bound is hours); the stand-in and the client then use the
same scaled windows. Target: reads as required, wall time at most 1.5 x the bound.

The stand-in runs in a child process, so its own work (encoding thousands of issues) does not
share the measured client's interpreter, as a real service would not.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the stand-in lives in the test tree

from amlaudit.auditor.tickets.github import WRITE_LIMITS, GitHubSettings, GitHubTarget  # noqa: E402
from amlaudit.auditor.tickets.plan import PlanOptions  # noqa: E402
from amlaudit.auditor.tickets.sync import apply_plan, plan_for  # noqa: E402
from tests.github_standin import GitHubStandIn  # noqa: E402
from tests.ticket_targets import finding, findings_doc  # noqa: E402

PAGE = 100
WRITES_PER_ACTION = {"create": 1, "comment": 2, "accept": 2, "close": 2, "reopen": 2}


@dataclass
class Row:
    scenario: str
    reads: int
    required_reads: int
    writes: int
    required_writes: int
    seconds: float
    bound: float
    violations: int
    paced: float


def ideal_seconds(reads: int, writes: int, latency: float, limits: tuple[tuple[int, float], ...]) -> float:
    """The ideal client's wall time (see the module docstring)."""
    clock = reads * latency
    starts: list[float] = []
    for k in range(writes):
        start = clock
        for count, seconds in limits:
            if k >= count:
                start = max(start, starts[k - count] + seconds)
        starts.append(start)
        clock = start + latency
    return clock


def documents(count: int, changes: int) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """scenario -> (the document that makes the tickets first, or {} for none; the measured document)."""
    failing = [finding(n, "fail") for n in range(count)]
    base = findings_doc(*failing)
    half = changes // 2
    changed = ([finding(n, "pass") for n in range(half)]
               + [finding(n, "fail", evidence={"rule": "DenyAll", "n": n}) for n in range(half, 2 * half)]
               + failing[2 * half: count - changes]
               + [finding(count + n, "fail") for n in range(changes)])
    return {"unchanged": (base, base), "changes": (base, findings_doc(*changed)), "first": ({}, base)}


def _serve(conn: Any) -> None:
    """The child process: a stand-in, driven by commands over `conn`."""
    server = GitHubStandIn(page_size=PAGE, write_limits=())
    server.start()
    conn.send((server.api_url, f"{server.owner}/{server.repo}", server.credentials_env))
    while True:
        command, *args = conn.recv()
        if command == "set":
            server.latency = args[0]
            server.set_write_limits(tuple(tuple(x) for x in args[1]))  # the untimed setup's writes do not count
            server.reset_requests()
        elif command == "counts":
            conn.send((len(server.reads), len(server.writes), server.limit_violations, len(server.issues)))
        elif command == "stop":
            server.stop()
            conn.send(None)
            return


def run_scenario(name: str, setup: dict[str, Any], measured: dict[str, Any], latency: float,
                 limits: tuple[tuple[int, float], ...]) -> Row:
    conn, child_conn = multiprocessing.Pipe()
    child = multiprocessing.get_context("fork").Process(target=_serve, args=(child_conn,), daemon=True)
    child.start()
    try:
        api_url, repository, environ = conn.recv()
        if setup:
            with GitHubTarget.from_settings(GitHubSettings(repository, api_url=api_url, write_limits=()), environ) as maker:
                apply_plan(maker, plan_for(maker, setup, datetime.now(timezone.utc)))
        conn.send(("set", latency, limits))
        conn.send(("counts",))
        labelled = conn.recv()[3]
        with GitHubTarget.from_settings(GitHubSettings(repository, api_url=api_url, write_limits=limits),
                                        environ) as target:
            started = time.perf_counter()
            plan = plan_for(target, measured, datetime.now(timezone.utc), PlanOptions())
            outcome = apply_plan(target, plan)
            seconds = time.perf_counter() - started
            paced = target.pacer.waited
        assert outcome.complete, outcome.error
        conn.send(("counts",))
        reads, writes, violations, _ = conn.recv()
    finally:
        conn.send(("stop",))
        conn.recv()
        child.join(10)
    required_reads = max(1, math.ceil(labelled / PAGE))
    required_writes = sum(WRITES_PER_ACTION[a.kind] for a in plan.actions)
    return Row(name, reads, required_reads, writes, required_writes, seconds,
               ideal_seconds(required_reads, required_writes, latency, limits), violations, paced)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--findings", type=int, default=2000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--scenarios", default="unchanged,changes")
    parser.add_argument("--scale", type=float, default=1.0, help="divide GitHub's write windows by this")
    parser.add_argument("--changes", type=int, default=100)
    args = parser.parse_args(argv)
    limits = tuple((count, seconds / args.scale) for count, seconds in WRITE_LIMITS)
    docs = documents(args.findings, args.changes)
    rows = [run_scenario(name, *docs[name], args.latency, limits) for name in args.scenarios.split(",")]
    windows = ", ".join(f"{c} writes / {s:g} s" for c, s in limits)
    print(f"GitHub, {args.findings} findings, {args.latency * 1000:.0f} ms a request, write limits {windows}; "
          f"load average {os.getloadavg()[0]:.1f}\n")
    print("| scenario | reads (required) | writes (required) | wall s | bound s | wall / bound | paced s | limit hits |")
    print("|---|---|---|---|---|---|---|---|")
    worst = 0.0
    for r in rows:
        ratio = r.seconds / r.bound if r.bound else 0.0
        worst = max(worst, ratio)
        print(f"| {r.scenario} | {r.reads} ({r.required_reads}) | {r.writes} ({r.required_writes}) | {r.seconds:.1f} "
              f"| {r.bound:.1f} | {ratio:.2f} | {r.paced:.1f} | {r.violations} |")
    exact = all(r.reads == r.required_reads and r.writes == r.required_writes and not r.violations for r in rows)
    print(f"\nrequests as required, no limit hit: {'yes' if exact else 'NO'}; worst wall/bound {worst:.2f} (target <= 1.5)")
    return 0 if exact and worst <= 1.5 else 1


if __name__ == "__main__":
    raise SystemExit(main())
