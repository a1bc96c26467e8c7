"""`summary.md`: the audit in a page of Markdown, for $GITHUB_STEP_SUMMARY, PR comments and Teams.

What needs attention first: totals, the failing checks, the most severe findings, what
could not be verified, accepted risk and the baseline's counts. The page stays under
`MAX_BYTES` whatever the estate's size (GitHub's comment limit is 65,536 characters):
each list is capped and says how many it leaves out, each line is cut at a fixed length,
and if a huge catalog still does not fit the lists shrink until it does. findings.json
and report.html hold everything.

All text from the estate (names, messages, evidence) is escaped by `markdown_text`:
no Markdown or HTML from Azure is ever live, no table cell can be broken, no link or
mention formed. Identifiers are shown as code only when they consist of safe characters.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from amlaudit.auditor.check import SOURCE_DOCUMENT, SOURCE_URL
from amlaudit.auditor.findings import AuditResult, Finding
from amlaudit.reports.common import (
    collection_error_status,
    is_accepted,
    markdown_text,
    most_severe_first,
    open_failures,
    severity_order,
    subject,
    waiver_note,
)

MAX_BYTES = 60_000  # below 64 KiB with room to spare for a caller's heading or footer
LINE_TEXT_LIMIT = 300  # characters of a message or note on one line
NAME_LIMIT = 120


@dataclass(frozen=True, slots=True)
class Caps:
    """How many entries each list shows."""

    failing_checks: int = 60
    top_findings: int = 40
    unverified: int = 25
    collection_errors: int = 10
    accepted: int = 25

    def halved(self) -> Caps:
        return Caps(*(max(n // 2, 0) for n in (self.failing_checks, self.top_findings, self.unverified,
                                                self.collection_errors, self.accepted)))


_SAFE_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]*")


def code(text: str, limit: int = NAME_LIMIT) -> str:
    """An identifier as inline code when it is made of safe characters, else as escaped text."""
    if len(text) <= limit and _SAFE_CODE.fullmatch(text):
        return f"`{text}`"
    return markdown_text(text, limit)


def _subject_name(finding: Finding) -> str:
    return code(subject(finding.resource_id).name)


def _more(shown: int, total: int, what: str) -> list[str]:
    return [f"- \u2026 and {total - shown} more {what} (see findings.json)"] if total > shown else []


def _header(result: AuditResult) -> list[str]:
    counts = Counter(f.status for f in result.findings)
    accepted = sum(1 for f in result.findings if is_accepted(f))
    failing = counts["fail"] - accepted
    tool = f"{result.tool.get('name', 'amlaudit')} {result.tool.get('version', '')}".strip()
    verdict = ("failures to act on" if failing else
               "could not verify everything" if counts["error"] or result.errors else "no failures")
    lines = [
        f"## amlaudit: {verdict}",
        "",
        f"{markdown_text(tool)} audited the estate against [{markdown_text(SOURCE_DOCUMENT)}]({SOURCE_URL}) "
        f"at {markdown_text(result.generated_at)}"
        + (f" (snapshot collected {markdown_text(result.snapshot_collected_at)})" if result.snapshot_collected_at else "")
        + ".",
        "",
        "| findings | count |",
        "|---|---:|",
        f"| failing, to act on | {failing} |",
    ]
    if accepted:
        lines.append(f"| failing, accepted (waived) | {accepted} |")
    lines += [
        f"| could not be verified | {counts['error']} |",
        f"| passing | {counts['pass']} |",
        f"| not applicable | {counts['not_applicable']} |",
    ]
    lines += [f"| {markdown_text(status)} | {n} |" for status, n in counts.items()
              if status not in ("fail", "error", "pass", "not_applicable")]
    lines.append(f"| collection errors | {len(result.errors)} |")
    return lines + [""] + _baseline_lines(result)


def _baseline_lines(result: AuditResult) -> list[str]:
    states = Counter(f.baseline for f in result.findings if f.baseline is not None)
    # The baseline stage (--baseline) adds a `baseline` section with resolved and unverified
    # entries to the result; a result without it has only the findings' own states.
    extra = result.baseline or {}
    if not states and not extra:
        return []
    new_failing = sum(1 for f in result.findings if f.baseline == "new" and f.status == "fail")
    parts = [f"{new_failing} new failing", f"{states['new']} new", f"{states['persisting']} persisting"]
    for key in ("resolved", "unverified"):
        if isinstance(extra.get(key), list):
            parts.append(f"{len(extra[key])} {key}")
    return [f"**Since the baseline:** {', '.join(parts)}.", ""]


def _failing_checks(result: AuditResult, cap: int) -> list[str]:
    rows: dict[str, list[Any]] = {}
    for finding in result.findings:
        if finding.status != "fail":
            continue
        row = rows.setdefault(finding.check_id, [finding.severity, 0, 0, finding.title])
        row[2 if is_accepted(finding) else 1] += 1
    if not rows:
        return []
    ordered = sorted(rows.items(), key=lambda item: (severity_order(item[1][0]), -item[1][1], item[0]))
    lines = ["### Failing checks", "", "| check | severity | failing | accepted | title |", "|---|---|---:|---:|---|"]
    for check_id, (severity, failing, accepted, title) in ordered[:cap]:
        lines.append(f"| {code(check_id)} | {markdown_text(severity)} | {failing} | {accepted} | "
                     f"{markdown_text(title, LINE_TEXT_LIMIT)} |")
    more = _more(min(cap, len(ordered)), len(ordered), "failing checks")
    return [*lines, "", *more, *([""] if more else [])]


def _finding_line(finding: Finding, note: str | None = None) -> str:
    baseline = f" *({markdown_text(finding.baseline)})*" if finding.baseline else ""
    text = note if note is not None else finding.message
    return (f"- **{markdown_text(finding.severity)}** {code(finding.check_id)} on {_subject_name(finding)}{baseline}: "
            f"{markdown_text(text, LINE_TEXT_LIMIT)}")


def _section(title: str, items: Sequence[str], total: int, what: str) -> list[str]:
    if not total:
        return []
    return [f"### {title} ({total})", "", *items, *_more(len(items), total, what), ""]


def _top_findings(result: AuditResult, cap: int) -> list[str]:
    failing = most_severe_first(open_failures(result.findings))
    items = [_finding_line(f) for f in failing[:cap]]
    return _section("Top findings, most severe first", items, len(failing), "failing findings")


def _unverified(result: AuditResult, cap: int, error_cap: int) -> list[str]:
    errors = most_severe_first(f for f in result.findings if f.status == "error")
    lines = _section("Could not be verified", [_finding_line(f) for f in errors[:cap]], len(errors), "unverified findings")
    if result.errors:
        items = [_collection_error_line(e) for e in result.errors[:error_cap]]
        lines += [f"**Collection errors ({len(result.errors)}):**", "", *items,
                  *_more(len(items), len(result.errors), "collection errors"), ""]
    return lines


def _collection_error_line(error: dict[str, Any]) -> str:
    scope = str(error.get("scope") or "")
    status = collection_error_status(error)
    return (f"- {code(subject(scope).name) if scope else 'unknown scope'}: could not read "
            f"{markdown_text(str(error.get('operation') or 'the resource'), NAME_LIMIT)}"
            + (f" ({markdown_text(status, NAME_LIMIT)})" if status else ""))


def _accepted(result: AuditResult, cap: int) -> list[str]:
    accepted = most_severe_first(f for f in result.findings if is_accepted(f))
    items = [_finding_line(f, waiver_note(f.waiver or {})) for f in accepted[:cap]]
    return _section("Accepted risk (waived failures)", items, len(accepted), "accepted findings")


def render_summary(result: AuditResult, caps: Caps) -> str:
    lines = [
        *_header(result),
        *_failing_checks(result, caps.failing_checks),
        *_top_findings(result, caps.top_findings),
        *_unverified(result, caps.unverified, caps.collection_errors),
        *_accepted(result, caps.accepted),
        "_Every finding, with its evidence and remediation: findings.json and report.html._",
    ]
    return "\n".join(lines) + "\n"


class MarkdownReporter:
    filename = "summary.md"

    def render(self, result: AuditResult) -> bytes:
        caps = Caps()
        while True:
            page = render_summary(result, caps).encode("utf-8")
            if len(page) <= MAX_BYTES or caps == caps.halved():
                break
            caps = caps.halved()
        if len(page) > MAX_BYTES:  # only the header and footer left, and still too long: cannot happen
            raise ValueError(f"summary.md would be {len(page)} bytes, over its {MAX_BYTES}-byte limit")
        return page
