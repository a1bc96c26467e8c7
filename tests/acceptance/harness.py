"""Run a snapshot document through amlaudit and compare findings with the catalog's verdicts.

A verdict is keyed by (check id, subject ARM id); ids compare case-insensitively, as Azure's do.
The contract (contracts.md) allows a pair that does not apply to be reported `not_applicable`
or left out, and demands exactly one finding for every applicable pair.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from amlaudit.auditor.check import Settings
from amlaudit.auditor.cli import main as cli_main
from amlaudit.auditor.findings import AuditResult, Finding
from amlaudit.auditor.pipeline import audit_snapshot
from amlaudit.auditor.snapshot import parse_snapshot
from tests.estates import EstateBuilder

NOT_APPLICABLE = "not_applicable"
Key = tuple[str, str]


@dataclass(frozen=True)
class Audit:
    """The findings of one run, indexed by (check id, lower-cased subject id)."""

    result: AuditResult

    def _index(self) -> dict[Key, list[Finding]]:
        index: dict[Key, list[Finding]] = defaultdict(list)
        for finding in self.result.findings:
            index[(finding.check_id, finding.resource_id.lower())].append(finding)
        return index

    def findings_for(self, check_id: str, resource_id: str) -> list[Finding]:
        return self._index().get((check_id, resource_id.lower()), [])

    def finding(self, check_id: str, resource_id: str) -> Finding:
        found = self.findings_for(check_id, resource_id)
        assert len(found) == 1, f"{check_id} on {resource_id}: expected exactly one finding, got {_describe(found)}"
        return found[0]


def _describe(found: list[Finding]) -> str:
    if not found:
        return "none"
    return "; ".join(f"{f.status}: {f.message}" for f in found)


def run(document: dict[str, Any] | EstateBuilder, planned_new_clusters: int | None = None) -> Audit:
    doc = document.document() if isinstance(document, EstateBuilder) else document
    settings = Settings() if planned_new_clusters is None else Settings(planned_new_clusters=planned_new_clusters)
    return Audit(audit_snapshot(parse_snapshot(doc, "acceptance-estate"), settings=settings))


def verdict_mismatches(audit: Audit, expected: Mapping[Key, str | set[str]]) -> list[str]:
    """Each expected verdict amlaudit does not give, in words (empty when all agree)."""
    problems = []
    for (check_id, resource_id), wanted in expected.items():
        found = audit.findings_for(check_id, resource_id)
        allowed = wanted if isinstance(wanted, set) else {wanted}
        if not found and NOT_APPLICABLE in allowed:
            continue  # contracts.md: a pair that does not apply may be left out
        if len(found) != 1:
            problems.append(f"{check_id} on {resource_id}: expected {sorted(allowed)}, "
                            f"got {len(found)} findings ({_describe(found)})")
        elif found[0].status not in allowed:
            problems.append(f"{check_id} on {resource_id}: expected {sorted(allowed)}, got {found[0].status}: {found[0].message}")
    return problems


def expect(audit: Audit, expected: Mapping[Key, str | set[str]]) -> None:
    problems = verdict_mismatches(audit, expected)
    assert not problems, "amlaudit disagrees with the catalog:\n  " + "\n  ".join(problems)


def run_cli(document: dict[str, Any], tmp_path: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    """Audit through the command line; returns the exit status and findings.json."""
    snapshot = tmp_path / "snapshot.json"
    snapshot.write_text(json.dumps(document))
    out = tmp_path / "out"
    status = cli_main(["scan", "--snapshot", str(snapshot), "--out", str(out), "--format", "json", "--quiet", *extra])
    return status, json.loads((out / "findings.json").read_text())
