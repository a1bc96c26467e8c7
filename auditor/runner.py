"""Run checks over an estate and collect their findings."""

from __future__ import annotations

import gc
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone

from amlaudit.auditor.check import STATUSES, Check, Settings, Verdict
from amlaudit.auditor.coverage import audited_subscriptions, workspace_filter
from amlaudit.auditor.findings import AuditResult, Finding
from amlaudit.auditor.graph.estate import Estate
from amlaudit.auditor.ids import id_key

# When a buggy check yields twice for one subject, the report keeps the verdict that
# demands attention: a failure over an unknown over a pass.
_STATUS_WEIGHT = {"fail": 3, "error": 2, "pass": 1, "not_applicable": 0}


def run_check(check: Check, estate: Estate, settings: Settings) -> list[Finding]:
    by_subject: dict[str, Verdict] = {}
    try:
        for verdict in check.run(estate, settings):
            if not isinstance(verdict, Verdict) or verdict.status not in STATUSES:
                raise TypeError(f"yielded {verdict!r}, not a Verdict")
            key = id_key(verdict.resource_id)
            kept = by_subject.get(key)
            if kept is None or _STATUS_WEIGHT[verdict.status] > _STATUS_WEIGHT[kept.status]:
                by_subject[key] = verdict
    except Exception as exc:  # a crashing check is an unverified check, never a silent pass
        where = traceback.extract_tb(exc.__traceback__)[-1]
        crash = Verdict(
            "error",
            "",
            f"cannot verify: the check crashed ({type(exc).__name__}: {exc})",
            {"exception": type(exc).__name__, "at": f"{where.filename}:{where.lineno}"},
        )
        return [Finding.from_verdict(check, v) for v in by_subject.values()] + [Finding.from_verdict(check, crash)]
    return [Finding.from_verdict(check, v) for v in by_subject.values()]


def run_checks(estate: Estate, checks: Sequence[Check], settings: Settings | None = None) -> AuditResult:
    settings = settings or Settings()
    findings: list[Finding] = []
    for check in checks:
        findings.extend(sorted(run_check(check, estate, settings), key=lambda f: id_key(f.resource_id)))
    snapshot = estate.snapshot
    return AuditResult(
        findings=findings,
        checks=list(checks),
        errors=[e.model_dump(exclude_none=True) for e in snapshot.errors],
        gaps=list(estate.gaps),
        generated_at=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        snapshot_collected_at=snapshot.collected_at,
        snapshot_source=snapshot.source,
        snapshot_subscriptions=audited_subscriptions(snapshot),
        snapshot_workspace_filter=workspace_filter(snapshot),
    )


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Run a one-shot audit with Python's cyclic garbage collector paused, then restore it.

    An audit allocates millions of objects (the graph, compiled NSGs, findings, the rendered
    reports) and leaves almost no cyclic garbage (5 objects at 1,000 workspaces), so the
    collector's repeated passes over the growing heap only cost time: 3.7 of 9.2 CPU seconds
    of checks and rendering at 1,000 workspaces (benchmarks/README.md). Reference counting
    frees everything else as usual.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            # Everything allocated while paused moves to the permanent generation first: the
            # first allocation after enable() would otherwise trigger a collection of the oldest
            # generation over the whole heap (0.7-0.9 s at 1,000 workspaces) to find almost
            # nothing. Reference counting still frees these objects as usual.
            gc.freeze()
            gc.enable()
