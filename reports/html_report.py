"""`report.html`: one self-contained page a reviewer reads top to bottom.

What needs attention comes first (totals, collection errors, coverage gaps,
failures and unverifiable findings); passes and not-applicable findings sit in
collapsed `<details>` under their check so large estates stay readable.

Everything shown is data from the estate or from plug-ins (resource names,
tags, messages, evidence), so all of it is autoescaped by jinja2; nothing from
the audit result is ever marked safe. The page loads nothing: CSS and the small
optional script are inline, and a Content-Security-Policy admits exactly those
two (by hash), so even a missed escape could not run injected script.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any
from urllib.parse import urlsplit

import jinja2
from html import escape as html_escape

from markupsafe import Markup

from amlaudit.auditor.check import SEVERITIES, SOURCE_DOCUMENT, SOURCE_URL, STATUSES, Check
from amlaudit.auditor.findings import AuditResult, Finding
from amlaudit.auditor.waivers import waiver_note
from amlaudit.reports.history_chart import trend_chart

TEMPLATE = "report.html.j2"
STYLESHEET = "report.css"
SCRIPT = "report.js"

STATUS_LABELS = {"fail": "Fail", "error": "Cannot verify", "pass": "Pass", "not_applicable": "Not applicable"}
# Tables read left to right from what needs action to what does not.
DISPLAY_STATUSES = ("fail", "error", "pass", "not_applicable")
# Passing and not-applicable findings are collapsed; any other status (including ones
# added later, such as `suppressed`) is shown open, because an unknown state needs a look.
SETTLED_STATUSES = ("pass", "not_applicable")
_ATTENTION_ORDER = ("fail", "error")
_SETTLED_WORDS = {"pass": "passing", "not_applicable": "not applicable"}
SEVERITIES_HIGH_FIRST = tuple(reversed(SEVERITIES))
# Evidence deeper than this is shown as text: evidence is meant to be shallow JSON, and
# a pathological value must not exhaust the template's recursion.
_MAX_EVIDENCE_DEPTH = 12
_SPACE_OR_CONTROL = re.compile(r"[\s\x00-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class Link:
    """An http(s) reference; `url` is None when the text held no usable address."""

    url: str | None
    text: str


@dataclass(frozen=True, slots=True)
class FindingView:
    status: str
    status_label: str
    status_class: str
    severity: str
    severity_class: str
    resource_id: str
    message: str
    evidence: Markup | None  # rendered and escaped by evidence_html; None when there is none
    remediation: str
    reference: Link
    fingerprint: str
    waiver_note: str | None = None  # "accepted until 2027-03-31 — reason, owner" when waived
    baseline: str | None = None  # "new" | "persisting" with --baseline


@dataclass(slots=True)
class CheckGroup:
    """One check and its findings: those needing attention first, the settled ones apart."""

    anchor: str
    check_id: str
    title: str
    severity: str
    severity_class: str
    catalog: Check | None  # None: findings of a check the result's catalog does not list
    reference: Link
    attention: list[FindingView] = field(default_factory=list)
    settled: list[FindingView] = field(default_factory=list)
    # Waived failures, shown apart from the failures still to act on (their status stays `fail`).
    accepted: list[FindingView] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)

    @property
    def open_failures(self) -> int:
        return self.counts["fail"] - len(self.accepted)

    @property
    def settled_summary(self) -> str:
        parts = [f"{self.counts[s]} {_SETTLED_WORDS[s]}" for s in SETTLED_STATUSES if self.counts[s]]
        return ", ".join(parts)


def safe_http_url(candidate: str) -> str | None:
    """The URL if it is an absolute http(s) address, else None (never a javascript:, data: or relative link)."""
    url = candidate.strip()
    if not url or _SPACE_OR_CONTROL.search(url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return url


@lru_cache(maxsize=256)  # every finding of a check carries the same reference
def reference_link(reference: str) -> Link:
    """A finding's reference is "<url> (<document>: <section>)": the words become the link text.

    Anything else is kept as text, linked only when it starts with an http(s) URL.
    """
    head, _, rest = reference.strip().partition(" ")
    url = safe_http_url(head)
    if url is None:
        return Link(None, reference)
    rest = rest.strip()
    if rest.startswith("(") and rest.endswith(")"):
        rest = rest[1:-1].strip()
    return Link(url, rest or url)


def _check_reference(check: Check) -> Link:
    return Link(safe_http_url(check.reference), f"{check.document}: {check.source}")


def _severity_class(severity: str) -> str:
    return f"sev-{severity}" if severity in SEVERITIES else "sev-unknown"


def _status_class(status: str) -> str:
    return f"st-{status}" if status in STATUSES else "st-unknown"


class TextEscaper(dict[str, str]):
    """Text -> its HTML-escaped form, each distinct text escaped once (one per report).

    At 25,040 findings the evidence holds 563,000 texts and 48,000 distinct ones (rule
    names, prefixes, route and tag words repeat from finding to finding), so a lookup
    replaces nine escapes in ten. The escaping itself is the standard library's
    `html.escape` (quotes too).
    """

    def __missing__(self, text: str) -> str:
        escaped = self[text] = html_escape(text)
        return escaped


def evidence_html(evidence: Mapping[str, Any], escaped: TextEscaper | None = None) -> Markup:
    """A finding's evidence as nested lists, every text escaped here, in one pass.

    Values read as in findings.json: text as is, numbers, booleans and null as JSON spells
    them (marked `lit`), a set sorted (it has no order of its own), anything else as its
    text; nesting deeper than `_MAX_EVIDENCE_DEPTH` is shown as text so a pathological
    value cannot exhaust the recursion. Built in Python rather than by a recursive template
    macro (at ten thousand findings the macro calls dominated rendering), straight from the
    evidence rather than through an intermediate tree (a third of the report's time at
    25,000 findings). Only our own tags are literal; every key and value goes through the standard library's
    `html.escape` (quotes too: a plain `str` per value, where markupsafe's `escape` makes a
    `Markup` object each time, two fifths of the evidence's cost at 25,000 findings).
    """
    parts: list[str] = []
    _mapping_into(evidence, parts, 0, TextEscaper() if escaped is None else escaped)
    return Markup("".join(parts))


_EMPTY_TEXT = '<span class="muted">(empty)</span>'
_NONE_TEXT = '<span class="muted">(none)</span>'
_NESTED = (Mapping, list, tuple, set, frozenset)


def _mapping_into(value: Mapping[Any, Any], out: list[str], depth: int, escaped: TextEscaper) -> None:
    if not value:
        out.append(_NONE_TEXT)
        return
    out.append('<dl class="ev">')
    for key, item in value.items():
        out.append(f"<dt>{escaped[key if type(key) is str else str(key)]}</dt><dd>")
        _evidence_into(item, out, depth, escaped)
        out.append("</dd>")
    out.append("</dl>")


def _evidence_into(value: Any, out: list[str], depth: int, escaped: TextEscaper) -> None:
    if isinstance(value, str):
        out.append(escaped[value] if value else _EMPTY_TEXT)
    elif value is None:
        out.append('<span class="lit">null</span>')
    elif value is True or value is False:
        out.append(f'<span class="lit">{"true" if value else "false"}</span>')
    elif isinstance(value, (int, float)):
        out.append(f'<span class="lit">{html_escape(repr(value))}</span>')
    elif depth >= _MAX_EVIDENCE_DEPTH or not isinstance(value, _NESTED):
        text = str(value)
        out.append(escaped[text] if text else _EMPTY_TEXT)
    elif isinstance(value, Mapping):
        _mapping_into(value, out, depth + 1, escaped)
    else:
        items = sorted(str(v) for v in value) if isinstance(value, (set, frozenset)) else value
        if not items:
            out.append(_NONE_TEXT)
            return
        flat = depth + 1 >= _MAX_EVIDENCE_DEPTH or not any(isinstance(item, _NESTED) for item in items)
        out.append('<ul class="ev flat">' if flat else '<ul class="ev">')
        for item in items:
            out.append("<li>")
            _evidence_into(item, out, depth + 1, escaped)
            out.append("</li>")
        out.append("</ul>")


def _finding_view(finding: Finding, escaped: TextEscaper) -> FindingView:
    return FindingView(
        status=finding.status,
        status_label=STATUS_LABELS.get(finding.status, finding.status),
        status_class=_status_class(finding.status),
        severity=finding.severity,
        severity_class=_severity_class(finding.severity),
        resource_id=finding.resource_id,
        message=finding.message,
        evidence=evidence_html(finding.evidence, escaped) if finding.evidence else None,
        remediation=finding.remediation,
        reference=reference_link(finding.reference),
        fingerprint=finding.fingerprint,
        waiver_note=waiver_note(finding.waiver) if finding.waiver is not None and finding.status == "fail" else None,
        baseline=finding.baseline,
    )


def group_findings(checks: Iterable[Check], findings: Iterable[Finding]) -> list[CheckGroup]:
    """Groups in catalog order, then checks the catalog lacks in first-seen order.

    Within a group: failures, then unverifiable findings, then any other unsettled
    status, each in the order the runner produced; passes and not-applicable apart.
    One pass over the findings: a 10,000-finding estate renders in linear time.
    """
    groups: dict[str, CheckGroup] = {}
    for check in checks:
        groups.setdefault(check.id, CheckGroup(
            anchor=f"check-{check.id}", check_id=check.id, title=check.title, severity=check.severity,
            severity_class=_severity_class(check.severity), catalog=check, reference=_check_reference(check),
        ))
    buckets: dict[str, dict[str, list[FindingView]]] = {key: {} for key in groups}
    escaped = TextEscaper()  # shared by every finding's evidence in this report
    for finding in findings:
        group = groups.get(finding.check_id)
        if group is None:
            group = groups[finding.check_id] = CheckGroup(
                anchor=f"check-{len(groups) + 1}", check_id=finding.check_id, title=finding.title,
                severity=finding.severity, severity_class=_severity_class(finding.severity), catalog=None,
                reference=reference_link(finding.reference),
            )
            buckets[finding.check_id] = {}
        group.counts[finding.status] += 1
        view = _finding_view(finding, escaped)
        if view.waiver_note is not None:
            group.accepted.append(view)
            continue
        buckets[finding.check_id].setdefault(finding.status, []).append(view)
    for check_id, group in groups.items():
        by_status = buckets[check_id]
        unsettled_order = [*_ATTENTION_ORDER, *(s for s in by_status if s not in _ATTENTION_ORDER and s not in SETTLED_STATUSES)]
        group.attention = [view for status in unsettled_order for view in by_status.get(status, [])]
        group.settled = [view for status in SETTLED_STATUSES for view in by_status.get(status, [])]
    return list(groups.values())


def status_totals(findings: Iterable[Finding]) -> dict[str, int]:
    """Counts per status: every catalog status (zero included), then any other status seen."""
    counts = Counter(f.status for f in findings)
    totals = {status: counts.get(status, 0) for status in DISPLAY_STATUSES}
    totals.update({status: n for status, n in counts.items() if status not in totals})
    return totals


def severity_matrix(findings: Iterable[Finding], statuses: Iterable[str]) -> list[tuple[str, str, dict[str, int], int]]:
    """Rows (severity, css class, counts per status, row total), most severe first."""
    counts = Counter((f.severity, f.status) for f in findings)
    severities = [*SEVERITIES_HIGH_FIRST, *sorted({sev for sev, _ in counts if sev not in SEVERITIES})]
    status_list = list(statuses)
    rows = []
    for severity in severities:
        per_status = {status: counts.get((severity, status), 0) for status in status_list}
        rows.append((severity, _severity_class(severity), per_status, sum(per_status.values())))
    return rows


@dataclass(frozen=True, slots=True)
class InlineAssets:
    """The page's only stylesheet and script, with the CSP source expressions that admit them."""

    css: Markup
    script: Markup
    csp: str


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("amlaudit.reports", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env


@cache
def _assets() -> InlineAssets:
    env = _environment()
    assert env.loader is not None
    css = env.loader.get_source(env, STYLESHEET)[0]
    script = env.loader.get_source(env, SCRIPT)[0]
    csp = (
        "default-src 'none'; "
        f"style-src {_csp_hash(css)}; script-src {_csp_hash(script)}; "
        "img-src 'none'; base-uri 'none'; form-action 'none'"
    )
    # Markup only for our own packaged files: they are the page's code, not data.
    return InlineAssets(css=Markup(css), script=Markup(script), csp=csp)


class HtmlReporter:
    filename = "report.html"

    def render(self, result: AuditResult) -> bytes:
        totals = status_totals(result.findings)
        assets = _assets()
        page = _environment().get_template(TEMPLATE).render(
            result=result,
            tool_name=result.tool.get("name", "amlaudit"),
            tool_version=result.tool.get("version", "unknown"),
            totals=totals,
            status_labels=STATUS_LABELS,
            status_class=_status_class,
            severity_rows=severity_matrix(result.findings, totals),
            groups=group_findings(result.checks, result.findings),
            collection_errors=result.errors,
            accepted_count=sum(1 for f in result.findings if f.status == "fail" and f.waiver is not None),
            waivers=result.waivers,
            baseline=result.baseline,
            coverage_gaps=result.coverage_gaps,
            source_document=Link(safe_http_url(SOURCE_URL), SOURCE_DOCUMENT),
            assets=assets,
            history_chart=trend_chart(result.history),
        )
        return page.encode("utf-8")
