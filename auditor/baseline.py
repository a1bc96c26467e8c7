"""`scan --baseline FILE`: compare this run's failures with an earlier findings.json, by fingerprint.

A baseline is about failures (status `fail`), the debt a pipeline already knows:

- `new`: failing now, not failing in the baseline (absent there, or pass /
  not_applicable / error then): a regression counts as new.
- `persisting`: failing now and failing in the baseline.
- `resolved`: failing in the baseline, not failing now, and this run verified it
  (its finding is `pass`/`not_applicable`, or the subject is gone although the
  run could have seen it).
- `unverified`: failing in the baseline, not failing now, but this run could not
  verify it (auditor/coverage.py says why). Never counted as resolved.

Failing findings gain `baseline: "new" | "persisting"`; other findings carry no
`baseline` key (they are not debt). Only new failures count toward exit 1
(`Finding.counts_toward_exit`); unverified baseline failures make an otherwise
clean run exit 3 (incomplete), like any finding that could not be verified.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from amlaudit.auditor.coverage import Coverage
from amlaudit.auditor.findings import AuditResult, Finding
from amlaudit.auditor.findings_file import FindingsFile
from amlaudit.auditor.ids import id_key

CATEGORIES = ("new", "persisting", "resolved", "unverified")


@dataclass(frozen=True, slots=True)
class Change:
    """One fingerprint's fate between two runs: the finding before and after (None: absent)."""

    old: Finding | None
    new: Finding | None
    reason: str | None = None  # why an unverified one could not be verified

    @property
    def finding(self) -> Finding:
        found = self.new if self.new is not None else self.old
        assert found is not None
        return found

    def to_dict(self) -> dict[str, Any]:
        f = self.finding
        entry: dict[str, Any] = {
            "fingerprint": f.fingerprint, "check_id": f.check_id, "resource_id": f.resource_id,
            "severity": f.severity, "title": f.title,
            "old_status": self.old.status if self.old is not None else "absent",
            "new_status": self.new.status if self.new is not None else "absent",
        }
        if self.reason is not None:
            entry["unverified_reason"] = self.reason
        return entry


@dataclass(slots=True)
class Comparison:
    new: list[Change] = field(default_factory=list)
    persisting: list[Change] = field(default_factory=list)
    resolved: list[Change] = field(default_factory=list)
    unverified: list[Change] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {name: len(getattr(self, name)) for name in CATEGORIES}


def _sort_key(change: Change) -> tuple[str, str]:
    return change.finding.check_id, id_key(change.finding.resource_id)


def by_fingerprint(findings: Iterable[Finding]) -> dict[str, Finding]:
    """Findings keyed by fingerprint; if a file lists one twice, a failing copy wins (fail closed)."""
    keyed: dict[str, Finding] = {}
    for finding in findings:
        kept = keyed.get(finding.fingerprint)
        if kept is None or (finding.status == "fail" and kept.status != "fail"):
            keyed[finding.fingerprint] = finding
    return keyed


def compare(old: Iterable[Finding], new: Iterable[Finding], coverage: Coverage) -> Comparison:
    """Classify every fingerprint failing in `old` or `new`; `coverage` is the new run's."""
    before = by_fingerprint(old)
    after = by_fingerprint(new)
    result = Comparison()
    for fingerprint, now in after.items():
        if now.status != "fail":
            continue
        then = before.get(fingerprint)
        if then is not None and then.status == "fail":
            result.persisting.append(Change(then, now))
        else:
            result.new.append(Change(then, now))
    for fingerprint, then in before.items():
        if then.status != "fail":
            continue
        now = after.get(fingerprint)
        if now is not None and now.status == "fail":
            continue
        reason = coverage.unverified(then.check_id, then.resource_id, fingerprint)
        (result.resolved if reason is None else result.unverified).append(Change(then, now, reason))
    for name in CATEGORIES:
        getattr(result, name).sort(key=_sort_key)
    return result


def apply_baseline(result: AuditResult, baseline: FindingsFile) -> AuditResult:
    """This run's result with failing findings marked new/persisting and the `baseline` section."""
    comparison = compare(baseline.findings, result.findings, Coverage.of_result(result))
    persisting = {change.finding.fingerprint for change in comparison.persisting}
    findings = [
        replace(f, baseline="persisting" if f.fingerprint in persisting else "new") if f.status == "fail" else f
        for f in result.findings
    ]
    section = {
        **baseline.describe(),
        "counts": comparison.counts(),
        "resolved": [change.to_dict() for change in comparison.resolved],
        "unverified": [change.to_dict() for change in comparison.unverified],
    }
    return replace(result, findings=findings, baseline=section)


def console_lines(result: AuditResult) -> list[str]:
    """What the scan summary says about the baseline (nothing without one)."""
    section = result.baseline
    if section is None:
        return []
    counts = section["counts"]
    lines = [f"baseline {section['file']}: {counts['new']} new failure(s), {counts['persisting']} persisting, "
             f"{counts['resolved']} resolved, {counts['unverified']} unverified (were failing, could not be verified now)."]
    lines += [f"  unverified: {e['check_id']} {e['resource_id'] or '(no subject)'}: {e['unverified_reason']}" for e in section["unverified"]]
    return lines
