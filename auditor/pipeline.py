"""The offline audit as plain functions: snapshot -> graph -> checks -> findings -> rendered reports.

The CLI composes these; tests and the live round trip call them directly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from amlaudit.auditor.check import Check, Settings
from amlaudit.auditor.findings import AuditResult
from amlaudit.auditor.fsio import atomic_write
from amlaudit.auditor.graph import build_estate
from amlaudit.auditor.registry import load_checks, load_reporters
from amlaudit.auditor.render_workers import render_all
from amlaudit.auditor.runner import run_checks
from amlaudit.auditor.scope import scope_findings
from amlaudit.auditor.snapshot import Snapshot


def audit_snapshot(snapshot: Snapshot, checks: Sequence[Check] | None = None, settings: Settings | None = None) -> AuditResult:
    """Audit one snapshot with the given checks (default: every registered check); a snapshot
    scoped to named workspaces reports what they use (`amlaudit.auditor.scope`)."""
    estate = build_estate(snapshot)
    return scope_findings(run_checks(estate, load_checks() if checks is None else checks, settings), estate)


class UnknownFormatError(ValueError):
    pass


def render_reports(result: AuditResult, formats: Sequence[str], reporters: Mapping[str, Any] | None = None) -> dict[str, bytes]:
    """Render `findings.json` (always) and one file per other format; nothing is written here."""
    wanted = ["json"] + [f for f in formats if f != "json"]
    reporters = load_reporters(wanted) if reporters is None else reporters
    unknown = [f for f in wanted if f not in reporters]
    if unknown:
        raise UnknownFormatError(f"unknown format {unknown[0]!r} (available: {', '.join(sorted(reporters))})")
    instances = [reporters[name]() for name in dict.fromkeys(wanted)]
    # The costliest formats may render in a worker process beside the others (render_workers.py).
    return {reporter.filename: data for reporter, data in zip(instances, render_all(result, instances), strict=True)}


def write_reports(rendered: Mapping[str, bytes], out_dir: Path) -> list[Path]:
    written = []
    for filename, data in rendered.items():
        target = out_dir / filename
        atomic_write(target, data)
        written.append(target)
    return written
