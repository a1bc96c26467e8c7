"""Findings: verdicts with their check's metadata, fingerprints and totals."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from amlaudit.auditor import __version__
from amlaudit.auditor.check import STATUSES, Check, Severity, Status, Verdict, severity_rank
from amlaudit.auditor.graph.model import Gap
from amlaudit.auditor.ids import id_key

if TYPE_CHECKING:
    from amlaudit.auditor.history.series import HistoryTrend

FINDINGS_FORMAT = "amlaudit.findings/v1"


def fingerprint(check_id: str, resource_id: str) -> str:
    """Stable across runs for the same check and subject: ids compare case-insensitively."""
    return hashlib.sha256(f"{check_id}\n{id_key(resource_id)}".encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Finding:
    check_id: str
    status: Status
    severity: Severity
    resource_id: str
    title: str
    message: str
    evidence: dict[str, Any]
    remediation: str
    reference: str
    fingerprint: str
    # Set after the checks ran, never by a check (dataclasses.replace): a waiver never changes
    # `status`. `waiver` is the matching entry of --waivers ({"entry": its 1-based position in
    # the file, "check", "reason", "owner", "expires": "YYYY-MM-DD", and the selector used:
    # "resource" | "fingerprint" | "resource_glob"}), set on `fail` findings only; `baseline` is
    # "new" or "persisting", set on `fail` findings when the run had --baseline.
    waiver: dict[str, Any] | None = None
    baseline: str | None = None

    @classmethod
    def from_verdict(cls, check: Check, verdict: Verdict) -> Finding:
        return cls(
            check_id=check.id,
            status=verdict.status,
            severity=check.severity,
            resource_id=verdict.resource_id,
            title=check.title,
            message=verdict.message,
            evidence=verdict.evidence,
            remediation=check.remediation,
            reference=check.reference_text,
            fingerprint=fingerprint(check.id, verdict.resource_id),
        )

    def to_dict(self) -> dict[str, Any]:
        # Field by field, not dataclasses.asdict: asdict deep-copies every evidence value, which
        # took 1.8 s of a 1,000-workspace scan (15,000 findings); the evidence is plain data
        # that reporters only read, so a shallow copy of the mapping is enough.
        document = {name: getattr(self, name) for name in _FINDING_FIELDS} | {"evidence": dict(self.evidence)}
        # The annotations appear only when set, so a plain run's findings.json is unchanged.
        if self.waiver is not None:
            document["waiver"] = dict(self.waiver)
        if self.baseline is not None:
            document["baseline"] = self.baseline
        return document

    @property
    def counts_toward_exit(self) -> bool:
        """A failure this run must answer for (exit 1): not accepted by a waiver and not debt
        the baseline already had. The one place that decides (auditor/waivers.py, baseline.py)."""
        return self.status == "fail" and self.waiver is None and self.baseline != "persisting"


_ANNOTATIONS = ("waiver", "baseline")
_FINDING_FIELDS = tuple(f.name for f in fields(Finding) if f.name not in _ANNOTATIONS)


@dataclass(slots=True)
class AuditResult:
    """Everything reporters need: findings, the collection errors, the gaps, the catalog."""

    findings: list[Finding]
    checks: list[Check]
    errors: list[dict[str, Any]]
    gaps: list[Gap]
    generated_at: str
    snapshot_collected_at: str | None = None
    snapshot_source: str = ""
    # Where the run looked: subscription ids of the snapshot (listed, or holding a resource) and
    # its `scope.workspaces` filter. Baselines and diff need it to tell "gone" from "not looked at".
    snapshot_subscriptions: list[str] | None = None
    snapshot_workspace_filter: list[str] | None = None
    # Sections added by the stages after the checks (findings.json keys of the same names):
    # `waivers` (auditor/waivers.py) and `baseline` (auditor/baseline.py), plain JSON data.
    waivers: dict[str, Any] | None = None
    baseline: dict[str, Any] | None = None
    tool: dict[str, str] = field(default_factory=lambda: {"name": "amlaudit", "version": __version__})
    # Set by the CLI after recording the run (--history): the recent runs' totals, for the
    # report's trend chart. Reporters read it; they never open the database themselves.
    history: HistoryTrend | None = None

    @property
    def summary(self) -> dict[str, int]:
        counts = Counter(f.status for f in self.findings)
        return {status: counts.get(status, 0) for status in STATUSES}

    @property
    def coverage_gaps(self) -> list[dict[str, Any]]:
        """The distinct gaps (by kind and id), as findings.json lists them."""
        return _unique_gaps(self.gaps)

    def failures_at_or_above(self, severity: str) -> list[Finding]:
        floor = severity_rank(severity)
        return [f for f in self.findings if f.status == "fail" and severity_rank(f.severity) >= floor]

    def exit_failures(self, fail_on: str) -> list[Finding]:
        """The failures at/above fail_on that make the run exit 1 (waived and persisting ones do not)."""
        return exit_failures(self.findings, fail_on)

    @property
    def incomplete(self) -> bool:
        """Something could not be verified: an `error` finding, a collection error, or a failure
        of the baseline that this run could not re-verify."""
        return (bool(self.errors) or any(f.status == "error" for f in self.findings)
                or bool(self.baseline and self.baseline.get("unverified")))

    def exit_status(self, fail_on: str) -> int:
        """The contract's exit codes: 1 failures at/above fail_on (not waived, not persisting from
        the baseline), else 3 incomplete, else 0."""
        if self.exit_failures(fail_on):
            return 1
        if self.incomplete:
            return 3
        return 0

    def to_document(self) -> dict[str, Any]:
        """The `amlaudit.findings/v1` document."""
        return {
            "format": FINDINGS_FORMAT,
            "generated_at": self.generated_at,
            "tool": dict(self.tool),
            "summary": self.summary,
            "errors": [dict(e) for e in self.errors],
            "findings": [f.to_dict() for f in self.findings],
            # Extensions (readers ignore keys they don't know):
            "snapshot": {"collected_at": self.snapshot_collected_at, "source": self.snapshot_source}
            | ({"subscriptions": list(self.snapshot_subscriptions)} if self.snapshot_subscriptions is not None else {})
            | ({"workspaces": list(self.snapshot_workspace_filter)} if self.snapshot_workspace_filter else {}),
            "coverage_gaps": _unique_gaps(self.gaps),
            "checks": [
                {"id": c.id, "title": c.title, "severity": c.severity, "subject": c.subject, "source": c.source}
                for c in self.checks
            ],
        } | self._stage_sections()

    def _stage_sections(self) -> dict[str, Any]:
        sections: dict[str, Any] = {}
        if self.waivers is not None:
            sections["waivers"] = self.waivers
        if self.baseline is not None:
            # The contract's list of fingerprints, and the detailed section beside it.
            sections["resolved"] = [entry["fingerprint"] for entry in self.baseline.get("resolved", [])]
            sections["baseline"] = self.baseline
        return sections


def exit_failures(findings: Iterable[Finding], fail_on: str) -> list[Finding]:
    """The failures at/above fail_on that make a run (or `amlaudit diff`) exit 1."""
    floor = severity_rank(fail_on)
    return [f for f in findings if f.counts_toward_exit and severity_rank(f.severity) >= floor]


def _unique_gaps(gaps: list[Gap]) -> list[dict[str, Any]]:
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for gap in gaps:
        key = (gap.kind, id_key(gap.ref_id))
        if key not in seen:
            seen[key] = {"kind": gap.kind, "id": gap.ref_id, "reason": gap.reason, "status": gap.status}
    return sorted(seen.values(), key=lambda g: (g["kind"], g["id"].lower()))
