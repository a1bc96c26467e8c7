"""What the machine-format reporters share: subjects, evidence as text, severities, annotations.

Each reporter (SARIF, JUnit, CSV/XLSX, OCSF, Markdown) shows the same facts in its own
format; the facts are derived here once so the formats agree: a subject's readable name
and parts from its ARM id, evidence flattened to one line of text, the severity scale in
each format's terms, and how a waived or baselined finding reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from amlaudit.auditor.check import SEVERITIES
from amlaudit.auditor.findings import Finding
from amlaudit.auditor.ids import parse_arm_id
from amlaudit.auditor.waivers import waiver_note  # one wording for every report (re-exported)

NO_SUBJECT = "(no subject)"
# Evidence is meant to be shallow JSON; deeper than this it is shown as text (the HTML report
# stops at the same depth), so a pathological value cannot exhaust the recursion.
MAX_EVIDENCE_DEPTH = 12


# -- subjects ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Subject:
    """A finding's subject, read from its ARM id (fields are "" where the id has no such part)."""

    resource_id: str
    name: str  # readable: the resource names after the provider, e.g. "vnet-a/snet-b"
    type: str  # e.g. "Microsoft.Network/virtualNetworks/subnets"
    resource_group: str
    subscription: str

    @property
    def label(self) -> str:
        """Name and id together, for places that show one line per subject."""
        if not self.resource_id:
            return NO_SUBJECT
        if self.name == self.resource_id:
            return self.resource_id
        return f"{self.name} ({self.resource_id})"


@lru_cache(maxsize=65_536)  # several checks judge the same resource; ids repeat across findings
def subject(resource_id: str) -> Subject:
    parsed = parse_arm_id(resource_id)
    if parsed is None:
        # Not an ARM id (a crashed check's empty subject, a placeholder): shown as given.
        return Subject(resource_id, resource_id.strip() or NO_SUBJECT, "", "", "")
    if parsed.segments:
        name = "/".join(segment_name for _, segment_name in parsed.segments)
        kind = "/".join([parsed.namespace or "", *(segment_type for segment_type, _ in parsed.segments)])
    elif parsed.resource_group is not None:
        name, kind = parsed.resource_group, "Microsoft.Resources/resourceGroups"
    else:
        name, kind = parsed.subscription_id, "Microsoft.Resources/subscriptions"
    return Subject(resource_id, name, kind, parsed.resource_group or "", parsed.subscription_id)


# -- evidence --------------------------------------------------------------------------------------


def evidence_text(evidence: Mapping[str, Any]) -> str:
    """Evidence as one readable line: `key: value; key2: [a, b]; key3: {k: v}`.

    Values read as in the HTML report and findings.json: text as is, numbers, booleans
    and null as JSON spells them, a set sorted; nesting deeper than the HTML report
    walks is shown as Python text. One pass, no intermediate values, text (most values)
    appended without a call: this runs for every finding of every tabular format.
    """
    parts: list[str] = []
    append = parts.append
    for key, value in evidence.items():
        if type(value) is str:
            append(f"{key}: {value}")
        else:
            append(f"{key}: ")
            _flat_into(value, parts, 0)
        append("; ")
    return "".join(parts[:-1])



def _flat_into(value: Any, out: list[str], depth: int) -> None:
    if isinstance(value, str):
        out.append(value)
    elif value is None:
        out.append("null")
    elif value is True or value is False:
        out.append("true" if value else "false")
    elif isinstance(value, (int, float)):
        out.append(repr(value))
    elif depth >= MAX_EVIDENCE_DEPTH:
        out.append(str(value))
    elif isinstance(value, Mapping):
        out.append("{")
        for i, (key, item) in enumerate(value.items()):
            if type(item) is str:
                out.append(f"{', ' if i else ''}{key}: {item}")
            else:
                out.append(f"{', ' if i else ''}{key}: ")
                _flat_into(item, out, depth + 1)
        out.append("}")
    elif isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(str(v) for v in value) if isinstance(value, (set, frozenset)) else value
        out.append("[")
        for i, item in enumerate(items):
            if i:
                out.append(", ")
            if type(item) is str:
                out.append(item)
            else:
                _flat_into(item, out, depth + 1)
        out.append("]")
    else:
        out.append(str(value))


def json_default(value: object) -> object:
    """For orjson: evidence is meant to be plain JSON; a set is listed sorted, anything else as text."""
    if isinstance(value, (set, frozenset)):
        return sorted(str(v) for v in value)
    return str(value)


# -- collection errors -----------------------------------------------------------------------------


def collection_error_status(error: Mapping[str, Any]) -> str:
    """A collection error's HTTP status and code, e.g. "403 AuthorizationFailed" ("" when neither is known)."""
    return " ".join(str(error[key]) for key in ("status", "code") if error.get(key) not in (None, ""))


# -- severities ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SeverityTerms:
    """One severity in each format's terms."""

    sarif_level: str  # SARIF result/rule level: error | warning | note
    security_severity: str | None  # GitHub's 0.1-10.0 score (None: no security severity)
    problem_severity: str  # GitHub's properties.problem.severity: error | warning | recommendation
    ocsf_severity_id: int  # OCSF severity_id: 1 Informational .. 5 Critical (0 Unknown)


# GitHub reads security-severity as: >= 9.0 critical, 7.0-8.9 high, 4.0-6.9 medium, 0.1-3.9 low.
SEVERITY_TERMS: dict[str, SeverityTerms] = {
    "critical": SeverityTerms("error", "9.5", "error", 5),
    "high": SeverityTerms("error", "8.0", "error", 4),
    "medium": SeverityTerms("warning", "5.5", "warning", 3),
    "low": SeverityTerms("note", "3.0", "recommendation", 2),
    "info": SeverityTerms("note", None, "recommendation", 1),
}
# A severity the catalog does not know (a third-party pack's typo) is not guessed low:
# it reads as a warning with no security score, and OCSF's "Unknown".
UNKNOWN_SEVERITY = SeverityTerms("warning", None, "warning", 0)


def severity_terms(severity: str) -> SeverityTerms:
    return SEVERITY_TERMS.get(severity, UNKNOWN_SEVERITY)


def severity_order(severity: str) -> int:
    """Sort key, most severe first; unknown severities after the known ones."""
    return -SEVERITIES.index(severity) if severity in SEVERITIES else 1  # type: ignore[arg-type]


# Statuses most in need of attention first; statuses added later (unknown here) come after.
STATUS_ORDER = ("fail", "error", "pass", "not_applicable")


def most_severe_first(findings: Iterable[Finding]) -> list[Finding]:
    """Failures before errors, then by severity, keeping the run's order within a tie."""
    def key(finding: Finding) -> tuple[int, int]:
        status_rank = STATUS_ORDER.index(finding.status) if finding.status in STATUS_ORDER else len(STATUS_ORDER)
        return status_rank, severity_order(finding.severity)

    return sorted(findings, key=key)


# -- annotations (waivers, baselines) -------------------------------------------------------------


def is_accepted(finding: Finding) -> bool:
    """A failure a waiver accepts: shown apart from the failures still to act on.

    Only failures are waived (an `error` is never waived, and a waiver on a passing
    subject changes nothing), so only they read as "accepted".
    """
    return finding.status == "fail" and finding.waiver is not None


def open_failures(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if f.status == "fail" and f.waiver is None]


# -- Markdown (GitHub-flavoured) -------------------------------------------------------------------

# What can open inline Markdown or HTML mid-line: escapes, code, emphasis, links and images,
# autolinks and raw HTML, entities, strikethrough, table cells, math. (The text never
# starts a line, so block syntax such as `#` or `-` needs no escape.)
_MARKDOWN_PUNCTUATION = frozenset("\\`*_[]<>|~&$")
_MENTION = "@"
_WORD_JOINER = "\u2060"


def markdown_text(text: str, limit: int | None = None) -> str:
    """Text for a Markdown paragraph, list item or table cell, shown exactly as written.

    Every character that inline Markdown or HTML could read as syntax is
    backslash-escaped (CommonMark renders an escaped character literally), so a
    resource named `[x](javascript:…)`, `<img …>` or `a|b` stays text and cannot end a
    table cell; line breaks become spaces; an `@` is followed by an invisible word
    joiner so a name such as `@org/team` does not notify anyone in a PR comment.
    `limit` cuts the text (before escaping, so no escape is split) and marks the cut.
    """
    if limit is not None and len(text) > limit:
        text = text[: max(limit - 1, 0)] + "\u2026"
    out = []
    for char in text:
        if char in _MARKDOWN_PUNCTUATION:
            out.append("\\" + char)
        elif char == _MENTION:
            out.append(_MENTION + _WORD_JOINER)
        elif char in "\r\n\t\v\f":
            out.append(" ")
        elif char < " " or char == "\x7f":
            out.append("\ufffd")
        else:
            out.append(char)
    return "".join(out)
