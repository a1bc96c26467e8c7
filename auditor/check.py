"""What a check is: catalog metadata beside a function that states the rule.

A check is a function `(estate, settings) -> Iterable[Verdict]` decorated with
:func:`check`, which attaches the catalog row (id, severity, subject, when it
applies, what makes it pass, the source section, rationale and remediation).
It yields one verdict per subject with :func:`passed`, :func:`failed`,
:func:`error` or :func:`not_applicable`; the runner turns verdicts into
findings with the metadata filled in.

Check packs register through the entry-point group ``amlaudit.checks``; see
``docs/writing-checks.md``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from amlaudit.auditor.graph.model import Gap, Node

if TYPE_CHECKING:
    from amlaudit.auditor.graph.estate import Estate

Status = Literal["pass", "fail", "error", "not_applicable"]
Severity = Literal["info", "low", "medium", "high", "critical"]

SEVERITIES: tuple[Severity, ...] = ("info", "low", "medium", "high", "critical")
STATUSES: tuple[Status, ...] = ("pass", "fail", "error", "not_applicable")
SOURCE_DOCUMENT = "Securely run experiments and inference inside an Azure virtual network"
SOURCE_URL = "https://learn.microsoft.com/azure/machine-learning/how-to-enable-virtual-network"

_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]*[a-z0-9]$")


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Settings:
    """Run settings checks may read (from `--config` or their defaults)."""

    # compute-network-quota: how many new AmlCompute clusters the estate plans to add.
    planned_new_clusters: int = 1
    # Per-check settings for third-party packs: {"check-id": {"key": value}}.
    check_settings: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a check concluded about one subject."""

    status: Status
    resource_id: str
    message: str
    evidence: dict[str, Any]


Subject = Node | Gap | str


def subject_id(subject: Subject) -> str:
    if isinstance(subject, str):
        return subject
    if isinstance(subject, Gap):
        return subject.ref_id
    return subject.id


def passed(subject: Subject, message: str, **evidence: Any) -> Verdict:
    return Verdict("pass", subject_id(subject), message, evidence)


def failed(subject: Subject, message: str, **evidence: Any) -> Verdict:
    return Verdict("fail", subject_id(subject), message, evidence)


def not_applicable(subject: Subject, message: str, **evidence: Any) -> Verdict:
    return Verdict("not_applicable", subject_id(subject), message, evidence)


def error(subject: Subject, reason: str | Gap, **evidence: Any) -> Verdict:
    """Could not decide. `reason` may be the Gap that blocked the decision."""
    if isinstance(reason, Gap):
        evidence.setdefault("missing", {"kind": reason.kind, "id": reason.ref_id, "reason": reason.reason})
        message = f"cannot verify: {reason.describe()}"
    else:
        message = reason if reason.startswith("cannot verify") else f"cannot verify: {reason}"
    return Verdict("error", subject_id(subject), message, evidence)


CheckFunction = Callable[["Estate", Settings], Iterable[Verdict]]


@dataclass(frozen=True, slots=True)
class Check:
    """A catalog row and the function that implements it."""

    id: str
    title: str
    severity: Severity
    subject: str
    applies: str
    passes: str
    source: str
    rationale: str
    remediation: str
    function: CheckFunction = field(repr=False, compare=False)
    reference: str = SOURCE_URL
    # The document `source` is a section of: third-party packs may cite their own standard.
    document: str = SOURCE_DOCUMENT

    def run(self, estate: Estate, settings: Settings) -> Iterator[Verdict]:
        yield from self.function(estate, settings)

    def __call__(self, estate: Estate, settings: Settings | None = None) -> list[Verdict]:
        return list(self.run(estate, settings or Settings()))

    @property
    def reference_text(self) -> str:
        return f"{self.reference} ({self.document}: {self.source})"


def check(
    *,
    id: str,  # noqa: A002 - the catalog calls it id
    title: str,
    severity: Severity,
    subject: str,
    applies: str,
    passes: str,
    source: str,
    rationale: str,
    remediation: str,
    reference: str = SOURCE_URL,
    document: str = SOURCE_DOCUMENT,
) -> Callable[[CheckFunction], Check]:
    """Declare a check beside the function that states its rule."""
    if not _ID_PATTERN.match(id):
        raise ValueError(f"check id {id!r} must be lower-case words joined by '-'")
    if severity not in SEVERITIES:
        raise ValueError(f"check {id}: severity {severity!r} is not one of {', '.join(SEVERITIES)}")

    def wrap(function: CheckFunction) -> Check:
        return Check(
            id=id,
            title=title,
            severity=severity,
            subject=subject,
            applies=applies,
            passes=passes,
            source=source,
            rationale=rationale,
            remediation=remediation,
            function=function,
            reference=reference,
            document=document,
        )

    return wrap
