"""Jira and Azure Boards targets against their stand-ins: requests made vs. required, wall time vs. bound.

    python -m benchmarks.bench_tickets_jira_boards [--findings 2000] [--latency 0.05] [--targets jira,azure-boards]

Three syncs of N findings (the sync runner: list, plan, apply; as `amlaudit tickets sync`
without the --max-changes refusal) against a stand-in answering each request after `latency`:
  1. first sync: N failing findings, no tickets yet (list, then N creates);
  2. the same findings again (list only: no write at all);
  3. 10% now pass (comment and close), 10% have new evidence (one comment each).

Required requests are worked out from the services' paging rules, independently of the
targets: Jira Cloud search pages hold at most 100 issues with fields; WIQL returns at most
20,000 ids a query and work items are read 200 ids a call. Wall time is bounded below by
the larger of the latency floor (required requests, one after another, x latency) and the
rate-limit bound: Jira Cloud publishes no figure for API-token traffic (burst limits per
tenant and endpoint, token buckets), so the bound models Atlassian's own worked example of a
cost budget, 10 requests a second; Azure DevOps limits by consumption (200 TSTUs in a sliding
5 minutes, delays of up to 30 s past it), not by a request count, so its bound is the latency
floor. Target: reads equal to the required paging, wall time at most 1.5x the bound.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the stand-ins live in the test tree

from amlaudit.auditor.tickets.azure_boards import AzureBoardsSettings, AzureBoardsTarget  # noqa: E402
from amlaudit.auditor.tickets.jira import JiraSettings, JiraTarget  # noqa: E402
from amlaudit.auditor.tickets.sync import apply_plan, plan_for  # noqa: E402
from tests.azure_boards_standin import AzureBoardsStandIn  # noqa: E402
from tests.jira_standin import JiraStandIn  # noqa: E402
from tests.rest_standin import RestStandIn  # noqa: E402
from tests.ticket_targets import finding, findings_doc  # noqa: E402

JIRA_PAGE = 100
JIRA_MODELLED_RATE = 10.0  # requests a second (see the docstring)
WIQL_PAGE = 20_000
BATCH = 200


@dataclass
class Row:
    target: str
    sync: str
    reads: int
    required_reads: int
    writes: int
    required_writes: int
    seconds: float
    floor: float
    rate_bound: float | None

    @property
    def bound(self) -> float:
        return max(self.floor, self.rate_bound or 0.0)


def documents(count: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The first findings document (all failing) and the changed one (10% pass, 10% new evidence)."""
    tenth = count // 10
    first = findings_doc(*(finding(n, "fail") for n in range(count)))
    changed = findings_doc(*(finding(n, "pass") if n < tenth else
                             finding(n, "fail", evidence={"rule": "DenyAll", "priority": 90}) if n < 2 * tenth else
                             finding(n, "fail") for n in range(count)))
    return first, changed


class ChildStandIn:
    """A stand-in served from its own process, as the service would be: in this one it would compete
    with the sync for the GIL and the measurement would include its CPU time."""

    def __init__(self, kind: str, latency: float) -> None:
        context = multiprocessing.get_context("fork")
        self._pipe, theirs = context.Pipe()
        self._process = context.Process(target=_serve, args=(theirs, kind, latency), daemon=True)
        self._process.start()
        self.info: dict[str, Any] = self._pipe.recv()

    def ask(self, command: str) -> Any:
        self._pipe.send(command)
        return self._pipe.recv()

    def stop(self) -> None:
        self.ask("stop")
        self._process.join(timeout=10)


def _serve(pipe: Connection, kind: str, latency: float) -> None:
    server: RestStandIn = (JiraStandIn(latency=latency, page_size=JIRA_PAGE) if kind == "jira"
                           else AzureBoardsStandIn(latency=latency))
    with server:
        info = {"base_url": server.base_url, "env": server.credentials_env}
        if isinstance(server, AzureBoardsStandIn):
            info |= {"organization_url": server.organization_url, "project": server.project}
        pipe.send(info)
        while True:
            command = pipe.recv()
            if command == "reset":
                server.reset_requests()
                pipe.send(None)
            elif command == "counts":
                pipe.send((len(server.reads), len(server.writes)))
            else:
                pipe.send(None)
                return


def run(target: Any, server: ChildStandIn, count: int, latency: float, required: dict[str, tuple[int, int]],
        rate: float | None) -> list[Row]:
    rows = []
    first, changed = documents(count)
    now = datetime(2026, 12, 1, tzinfo=timezone.utc)

    def measured(sync: str, document: dict[str, Any]) -> None:
        server.ask("reset")
        start = time.perf_counter()
        outcome = apply_plan(target, plan_for(target, document, now))
        seconds = time.perf_counter() - start
        assert outcome.complete, outcome.error
        reads, writes = server.ask("counts")
        need_reads, need_writes = required[sync]
        floor = (need_reads + need_writes) * latency
        rows.append(Row(target.name, sync, reads, need_reads, writes, need_writes, seconds, floor,
                        None if rate is None else (need_reads + need_writes) / rate))

    measured("1 first (creates)", first)
    measured("2 unchanged", first)
    measured("3 10% pass, 10% changed", changed)
    return rows


def bench_jira(count: int, latency: float) -> list[Row]:
    pages = max(1, math.ceil(count / JIRA_PAGE))
    tenth = count // 10
    required = {"1 first (creates)": (1, count), "2 unchanged": (pages, 0),
                # closes: comment + transition (the To Do transitions read once); comments: one each
                "3 10% pass, 10% changed": (pages + 1, 2 * tenth + 2 * tenth)}
    server = ChildStandIn("jira", latency)
    try:
        target = JiraTarget.from_settings(JiraSettings(site_url=server.info["base_url"], project="SEC"),
                                          server.info["env"])
        return run(target, server, count, latency, required, JIRA_MODELLED_RATE)
    finally:
        server.stop()


def bench_azure_boards(count: int, latency: float) -> list[Row]:
    wiql = math.ceil((count + 1) / WIQL_PAGE)
    batches = math.ceil(count / BATCH)
    tenth = count // 10
    required = {"1 first (creates)": (wiql, count),  # + the client's one OPTIONS route discovery, counted as read
                "2 unchanged": (wiql + batches + 1, 0),  # + the work item type's states, read once
                "3 10% pass, 10% changed": (wiql + batches, 2 * tenth)}  # states already known
    server = ChildStandIn("azure-boards", latency)
    try:
        target = AzureBoardsTarget.from_settings(
            AzureBoardsSettings(organization_url=server.info["organization_url"], project=server.info["project"]),
            server.info["env"])
        rows = run(target, server, count, latency, required, None)
    finally:
        server.stop()
    if rows[0].reads == rows[0].required_reads + 1:  # the OPTIONS read, when the client's disk cache missed
        rows[0].required_reads += 1
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--findings", type=int, default=2000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--targets", default="jira,azure-boards")
    args = parser.parse_args(argv)
    rows: list[Row] = []
    for name in args.targets.split(","):
        rows += {"jira": bench_jira, "azure-boards": bench_azure_boards}[name](args.findings, args.latency)
    print(f"{args.findings} findings, {args.latency * 1000:.0f} ms a request\n")
    print("| target | sync | reads (required) | writes (required) | wall s | latency floor s | rate bound s | wall / bound |")
    print("|---|---|---|---|---|---|---|---|")
    worst = 0.0
    for r in rows:
        ratio = r.seconds / r.bound if r.bound else 0.0
        worst = max(worst, ratio)
        rate = f"{r.rate_bound:.1f}" if r.rate_bound is not None else "—"
        print(f"| {r.target} | {r.sync} | {r.reads} ({r.required_reads}) | {r.writes} ({r.required_writes}) | "
              f"{r.seconds:.1f} | {r.floor:.1f} | {rate} | {ratio:.2f} |")
    exact = all(r.reads == r.required_reads and r.writes == r.required_writes for r in rows)
    print(f"\nreads and writes as required: {'yes' if exact else 'NO'}; worst wall/bound {worst:.2f} (target <= 1.5)")
    return 0 if exact and worst <= 1.5 else 1


if __name__ == "__main__":
    raise SystemExit(main())
