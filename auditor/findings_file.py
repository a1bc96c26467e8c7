"""Reading a findings.json back (`--baseline`, `amlaudit diff`): validated, any version of v1.

What is needed is required (`format`, and per finding `check_id`, `status`,
`severity`, `resource_id`, `fingerprint`); everything else is optional, so a file
written by an earlier version (no `waiver`/`baseline` keys, no
`snapshot.subscriptions`) reads as well as today's. Unknown keys are ignored, as
the contract says; a status this version does not know is kept as it is (it is
never taken for a failure's absence: see auditor/coverage.py). gzip-compressed
files are accepted (detected by their magic bytes).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError

from amlaudit.auditor.check import Severity
from amlaudit.auditor.coverage import Coverage, subscriptions_in
from amlaudit.auditor.findings import FINDINGS_FORMAT, Finding
from amlaudit.auditor.snapshot import decode_json_bytes, first_validation_error, read_input_bytes


class FindingsFileError(Exception):
    """A findings.json that cannot be used; the message is one line naming the file and the problem."""


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class _FindingEntry(_Open):
    check_id: StrictStr
    status: StrictStr
    severity: Severity
    resource_id: StrictStr
    fingerprint: StrictStr = Field(min_length=1)
    title: StrictStr = ""
    message: StrictStr = ""
    evidence: dict[str, Any] = Field(default_factory=dict)
    remediation: StrictStr = ""
    reference: StrictStr = ""
    waiver: dict[str, Any] | None = None
    baseline: StrictStr | None = None


class _ErrorEntry(_Open):
    scope: StrictStr


class _GapEntry(_Open):
    id: StrictStr
    kind: StrictStr = "resource"
    reason: StrictStr = ""


class _CheckEntry(_Open):
    id: StrictStr


class _SnapshotInfo(_Open):
    subscriptions: list[StrictStr] | None = None
    workspaces: list[StrictStr] = Field(default_factory=list)


class _Document(_Open):
    format: StrictStr
    generated_at: StrictStr | None = None
    tool: dict[str, Any] = Field(default_factory=dict)
    findings: list[_FindingEntry]
    errors: list[_ErrorEntry] = Field(default_factory=list)
    coverage_gaps: list[_GapEntry] = Field(default_factory=list)
    checks: list[_CheckEntry] | None = None
    snapshot: _SnapshotInfo = Field(default_factory=_SnapshotInfo)


@dataclass(frozen=True, slots=True)
class FindingsFile:
    """A findings.json as comparisons need it."""

    source: str
    generated_at: str | None
    tool: dict[str, Any]
    findings: list[Finding]
    coverage: Coverage

    def describe(self) -> dict[str, Any]:
        """The file as reports name it: path, when it was generated, by which tool version."""
        return {"file": self.source, "generated_at": self.generated_at, "tool_version": self.tool.get("version")}


def parse_findings_document(document: Any, source: str) -> FindingsFile:
    if not isinstance(document, dict):
        raise FindingsFileError(f"{source}: not a findings file (top level is {type(document).__name__}, expected an object)")
    if document.get("format") != FINDINGS_FORMAT:
        raise FindingsFileError(f"{source}: format is {document.get('format')!r}, expected {FINDINGS_FORMAT!r}")
    try:
        parsed = _Document.model_validate(document)
    except ValidationError as exc:
        raise FindingsFileError(f"{source}: invalid findings file: {first_validation_error(exc)}") from None
    findings = [
        Finding(check_id=f.check_id, status=f.status, severity=f.severity, resource_id=f.resource_id,  # type: ignore[arg-type]
                title=f.title, message=f.message, evidence=f.evidence, remediation=f.remediation,
                reference=f.reference, fingerprint=f.fingerprint.lower(), waiver=f.waiver, baseline=f.baseline)
        for f in parsed.findings
    ]
    # The checks that ran: the file's catalog; a file without one names only the checks with findings.
    checks_run = [c.id for c in parsed.checks] if parsed.checks is not None else [f.check_id for f in findings]
    subscriptions = parsed.snapshot.subscriptions
    if subscriptions is None:
        # Written before findings.json recorded them: the subscriptions its findings and errors are in.
        subscriptions = subscriptions_in([f.resource_id for f in findings] + [e.scope for e in parsed.errors])
    coverage = Coverage.build(
        findings, checks_run, [e.model_dump() for e in parsed.errors], [g.model_dump() for g in parsed.coverage_gaps],
        subscriptions, parsed.snapshot.workspaces,
    )
    return FindingsFile(source=source, generated_at=parsed.generated_at, tool=dict(parsed.tool), findings=findings,
                        coverage=coverage)


def read_findings_file(path: str | os.PathLike[str]) -> FindingsFile:
    """Read and validate a findings.json (or .json.gz); FindingsFileError with one line on any problem."""
    source = str(Path(path))
    data = read_input_bytes(path, "a findings.json file", FindingsFileError)
    return parse_findings_document(decode_json_bytes(data, source, FindingsFileError), source)
