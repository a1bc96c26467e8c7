"""What a ticket says: its title, its Markdown body, the comments amlaudit adds, the evidence digest.

Everything here is plain text made from a finding (a `findings.json` entry). The Markdown
is CommonMark with a small vocabulary (headings, paragraphs, nested bullet lists, code
spans, strong, one link) that every target can convert: GitHub renders it as is, Jira and
Azure Boards convert it (`markup.py`). Text from Azure (names, messages, evidence values)
is either inside a code span or backslash-escaped, so a resource name can never become a
heading, a link, a list or HTML in a ticket.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

TITLE_LIMIT = 250  # GitHub allows 256 characters, Jira and Azure Boards 255
EVIDENCE_LIMIT = 12_000  # characters of rendered evidence: bodies stay far below every service's limit
LIST_LIMIT = 25  # items of one evidence list shown before "… and N more"
DEPTH_LIMIT = 4  # nested evidence deeper than this is shown as compact JSON
_INLINE_LIST = 6  # a list of up to this many short scalars is shown on one line
_ESCAPED = re.compile(r"([\\`*_{}\[\]<>|~&])")
_BLOCK_MARK = re.compile(r"^(\s*)([-+#>=])", re.MULTILINE)  # a list, heading, quote or setext line
_ORDERED_MARK = re.compile(r"^(\s*\d+)([.)])", re.MULTILINE)  # "1." or "1)" starts an ordered list


def evidence_digest(evidence: Any) -> str:
    """A digest of the evidence: SHA-256 of its canonical JSON (sorted keys, no spaces), 32 hex digits."""
    canonical = json.dumps(evidence, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]


def subject_name(resource_id: str) -> str:
    """The last segment of an ARM id (`…/computes/cpu-cluster` -> `cpu-cluster`)."""
    name = resource_id.strip().rstrip("/").rsplit("/", 1)[-1]
    return name or resource_id


def ticket_title(finding: Mapping[str, Any]) -> str:
    """`[high] Azure Batch can reach … — cpu-cluster`, one line, within every service's limit."""
    severity = str(finding.get("severity") or "unknown")
    title = " ".join(str(finding.get("title") or finding.get("check_id") or "finding").split())
    subject = " ".join(subject_name(str(finding.get("resource_id") or "")).split())
    text = f"[{severity}] {title} — {subject}"
    return text if len(text) <= TITLE_LIMIT else text[: TITLE_LIMIT - 1] + "…"


def ticket_body(finding: Mapping[str, Any], *, source: str | None, report_url: str | None) -> str:
    """The Markdown body of a new ticket: why, evidence, remediation, source, subject, report link."""
    parts = [
        "## Why", md_text(str(finding.get("message") or "")),
        "## Evidence", render_evidence(finding.get("evidence")),
        "## Remediation", md_text(str(finding.get("remediation") or "")) or "See the check's documentation.",
        "## Source", _source_text(finding, source),
        "## Subject", md_code(str(finding.get("resource_id") or "")),
        _footer(finding, report_url),
    ]
    return "\n\n".join(part for part in parts if part) + "\n"


# -- comments -------------------------------------------------------------------------------------


def failing_comment(finding: Mapping[str, Any], run: str, *, lead: str, report_url: str | None) -> str:
    """A comment that restates why the finding fails and its current evidence, after a lead sentence."""
    return "\n\n".join(part for part in (
        f"**amlaudit**: {lead}",
        "## Why", md_text(str(finding.get("message") or "")),
        "## Evidence", render_evidence(finding.get("evidence")),
        _run_line(run, report_url),
    ) if part) + "\n"


def evidence_changed_comment(finding: Mapping[str, Any], run: str, report_url: str | None) -> str:
    return failing_comment(finding, run, lead="still failing; the evidence changed.", report_url=report_url)


def evidence_unrecorded_comment(finding: Mapping[str, Any], run: str, report_url: str | None) -> str:
    return failing_comment(finding, run, lead="still failing; this ticket had no record of the evidence "
                                             "amlaudit last reported, so here is the current evidence.",
                           report_url=report_url)


def reopen_comment(finding: Mapping[str, Any], run: str, report_url: str | None) -> str:
    return failing_comment(finding, run, lead=f"failing again since the run of {md_text(run)}; reopening.",
                           report_url=report_url)


def waiver_ended_comment(finding: Mapping[str, Any], run: str, accepted_until: str, today: str,
                         report_url: str | None) -> str:
    return failing_comment(finding, run, lead=f"the waiver that accepted this risk until {md_text(accepted_until)} "
                                             f"no longer applies (today is {today}); the finding is failing.",
                           report_url=report_url)


def waiver_comment(waiver: Mapping[str, Any], run: str, report_url: str | None) -> str:
    lines = [
        f"**amlaudit**: risk accepted until **{md_text(str(waiver.get('expires') or '?'))}**; this ticket is "
        "marked accepted and stays open. When the waiver ends and the finding still fails, amlaudit says so here "
        "(and reopens the ticket if it was closed).",
        "",
        f"- **reason**: {md_text(str(waiver.get('reason') or ''))}",
        f"- **owner**: {md_text(str(waiver.get('owner') or ''))}",
        f"- **expires**: {md_code(str(waiver.get('expires') or ''))}",
    ]
    return "\n".join(lines) + "\n\n" + _run_line(run, report_url) + "\n"


def passed_comment(finding: Mapping[str, Any], run: str, report_url: str | None) -> str:
    return (f"**amlaudit**: verified passing in the run of {md_text(run)}; closing.\n\n"
            f"{md_text(str(finding.get('message') or ''))}\n\n{_run_line(run, report_url)}\n")


def not_applicable_comment(finding: Mapping[str, Any], run: str, report_url: str | None) -> str:
    return (f"**amlaudit**: no longer applies (run of {md_text(run)}); closing.\n\n"
            f"{md_text(str(finding.get('message') or ''))}\n\n{_run_line(run, report_url)}\n")


# -- Markdown helpers -----------------------------------------------------------------------------


def md_text(text: str) -> str:
    """Text that renders as itself: Markdown's active characters escaped, no line starting a block."""
    escaped = _ESCAPED.sub(r"\\\1", text.replace("\r\n", "\n").replace("\r", "\n"))
    escaped = _BLOCK_MARK.sub(r"\1\\\2", escaped)
    return _ORDERED_MARK.sub(r"\1\\\2", escaped).strip()


def md_code(text: str) -> str:
    """A code span holding `text` literally (one line; fenced with more backticks than it contains)."""
    flat = " ".join(text.split()) if "\n" in text or "\r" in text else text
    if not flat:
        return "` `"
    longest = max((len(run) for run in re.findall(r"`+", flat)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") or (flat.startswith(" ") and flat.endswith(" ")) else ""
    return f"{fence}{pad}{flat}{pad}{fence}"


def render_evidence(evidence: Any) -> str:
    """The evidence as a nested bullet list; shortened (and said so) past EVIDENCE_LIMIT characters."""
    if evidence in (None, {}, []):
        return "No evidence was recorded."
    lines = _render(evidence, 0)
    out: list[str] = []
    used = 0
    for line in lines:
        if used + len(line) + 1 > EVIDENCE_LIMIT:
            out.append(f"- … the evidence is shortened here ({len(lines) - len(out)} more lines); "
                       "findings.json holds all of it.")
            break
        out.append(line)
        used += len(line) + 1
    return "\n".join(out)


def _render(value: Any, depth: int) -> list[str]:
    indent = "  " * depth
    if isinstance(value, Mapping):
        lines: list[str] = []
        for key, item in value.items():
            label = f"**{md_text(str(key))}**"
            if _is_scalar(item) or (isinstance(item, Sequence) and not isinstance(item, str) and _inline_list(item)):
                lines.append(f"{indent}- {label}: {_inline(item)}")
            elif depth + 1 >= DEPTH_LIMIT:
                lines.append(f"{indent}- {label}: {md_code(json.dumps(item, sort_keys=True, default=str))}")
            else:
                lines.append(f"{indent}- {label}:")
                lines += _render(item, depth + 1)
        return lines or [f"{indent}- (empty)"]
    if isinstance(value, Sequence) and not isinstance(value, str):
        lines = []
        for number, item in enumerate(value[:LIST_LIMIT], start=1):
            if _is_scalar(item):
                lines.append(f"{indent}- {_inline(item)}")
            elif depth + 1 >= DEPTH_LIMIT:
                lines.append(f"{indent}- {md_code(json.dumps(item, sort_keys=True, default=str))}")
            else:
                lines.append(f"{indent}- item {number}:")
                lines += _render(item, depth + 1)
        if len(value) > LIST_LIMIT:
            lines.append(f"{indent}- … and {len(value) - LIST_LIMIT} more")
        return lines or [f"{indent}- (none)"]
    return [f"{indent}- {_inline(value)}"]


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def _inline_list(items: Sequence[Any]) -> bool:
    return (len(items) <= _INLINE_LIST and all(_is_scalar(i) for i in items)
            and sum(len(str(i)) for i in items) <= 120)


def _inline(value: Any) -> str:
    if isinstance(value, Sequence) and not isinstance(value, str):
        return ", ".join(_inline(v) for v in value) if value else "(none)"
    if value is None:
        return md_code("null")
    if isinstance(value, bool):
        return md_code("true" if value else "false")
    return md_code(str(value))


def _source_text(finding: Mapping[str, Any], source: str | None) -> str:
    parts = [md_text(source) if source else "", md_text(str(finding.get("reference") or ""))]
    return "\n\n".join(p for p in parts if p) or "Securely run experiments and inference inside an Azure virtual network."


def _footer(finding: Mapping[str, Any], report_url: str | None) -> str:
    line = (f"Check {md_code(str(finding.get('check_id') or ''))}, severity **{md_text(str(finding.get('severity') or ''))}**, "
            f"fingerprint {md_code(str(finding.get('fingerprint') or ''))}. Opened by amlaudit; edit freely: amlaudit "
            "finds this ticket by its labels, never by its title or text.")
    link = _report_link(report_url)
    return f"{line}\n\n{link}" if link else line


def _run_line(run: str, report_url: str | None) -> str:
    link = _report_link(report_url)
    return f"Run of {md_text(run)}." + (f" {link}" if link else "")


def _report_link(report_url: str | None) -> str:
    if not report_url or not report_url.startswith(("https://", "http://")) or re.search(r"[\s<>()]", report_url):
        return ""
    return f"[Full report]({report_url})"
