"""summary.md: what needs attention, under 64 KB at any size, with Azure text never live Markdown."""

from __future__ import annotations

import dataclasses
import html
import re
from html.parser import HTMLParser

import pytest
from markdown_it import MarkdownIt

from amlaudit.auditor.check import SOURCE_URL
from amlaudit.auditor.findings import AuditResult
from amlaudit.reports.markdown_report import MAX_BYTES, MarkdownReporter
from tests.report_helpers import HOSTILE_NAMES, WAIVER, annotated_demo, bulk_result, demo_result, finding, result, rid, rule

# CommonMark with GitHub's tables and strikethrough, raw HTML on (as GitHub passes it through).
_MARKDOWN = MarkdownIt("commonmark", {"html": True}).enable("table").enable("strikethrough")
_ALLOWED_TAGS = {"h2", "h3", "p", "table", "thead", "tbody", "tr", "th", "td", "ul", "li", "strong", "em", "code", "a"}


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.rows: list[int] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "tr":
            self.rows.append(0)
        elif tag in ("td", "th"):
            self.rows[-1] += 1

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def render(audit: AuditResult) -> str:
    data = MarkdownReporter().render(audit)
    assert len(data) <= MAX_BYTES < 64 * 1024
    return data.decode("utf-8")


def page(markdown: str) -> _Page:
    parsed = _Page()
    parsed.feed(_MARKDOWN.render(markdown))
    return parsed


def test_demo_summary_lists_totals_failing_checks_top_findings_and_what_could_not_be_verified() -> None:
    demo = demo_result()
    text = render(demo)
    assert text.startswith("## amlaudit: failures to act on\n")
    assert f"| failing, to act on | {demo.summary['fail']} |" in text
    assert f"| could not be verified | {demo.summary['error']} |" in text
    assert "| collection errors | 1 |" in text
    failing_checks = {f.check_id for f in demo.findings if f.status == "fail"}
    table_rows = re.findall(r"^\| `([a-z0-9-]+)` \| (\w+) \| (\d+) \| (\d+) \|", text, re.MULTILINE)
    assert {row[0] for row in table_rows} == failing_checks
    assert [row[1] for row in table_rows][:2] == ["critical", "critical"]  # most severe first
    assert f"### Top findings, most severe first ({demo.summary['fail']})" in text
    assert "### Could not be verified (3)" in text and "`kv-mkt-sandbox`: could not read" in text
    assert "Accepted risk" not in text and "Since the baseline" not in text
    rendered = page(text)
    assert {tag for tag, _ in rendered.tags} <= _ALLOWED_TAGS
    assert [attrs.get("href") for tag, attrs in rendered.tags if tag == "a"] == [SOURCE_URL]


def test_waived_findings_are_shown_apart_with_the_baseline_counts() -> None:
    annotated = annotated_demo()
    text = render(annotated)
    open_failures = annotated.summary["fail"] - 1
    assert f"| failing, to act on | {open_failures} |" in text and "| failing, accepted (waived) | 1 |" in text
    assert "### Accepted risk (waived failures) (1)" in text
    accepted = text.split("### Accepted risk", 1)[1]
    assert "accepted until 2027-03-31 \u2014 jump host pending, CHG-1042, netops@\u2060contoso.com" in accepted
    assert f"### Top findings, most severe first ({open_failures})" in text
    new_failing = sum(1 for f in annotated.findings if f.status == "fail" and f.baseline == "new")
    assert (f"**Since the baseline:** {new_failing} new failing, {len(annotated.findings) - 2} new, 2 persisting."
            in text)
    assert "*(persisting)*" in text


def test_resolved_and_unverified_counts_come_from_the_baseline_section_when_the_result_has_one() -> None:
    extended = dataclasses.replace(annotated_demo(), baseline={"resolved": [{"fingerprint": "a"}, {"fingerprint": "b"}],
                                                               "unverified": [{"fingerprint": "c"}]})
    assert "2 resolved, 1 unverified." in render(extended)


def test_a_clean_audit_says_so() -> None:
    c = rule("rule-a")
    text = render(result([finding(c, "pass", rid("a"))], [c]))
    assert text.startswith("## amlaudit: no failures\n")
    assert "### " not in text


def test_twenty_five_thousand_findings_stay_under_the_limit() -> None:
    bulk = bulk_result(25_000)
    text = render(bulk)
    failing = sum(1 for f in bulk.findings if f.status == "fail")
    errors = sum(1 for f in bulk.findings if f.status == "error")
    assert f"### Top findings, most severe first ({failing})" in text
    assert re.search(rf"\u2026 and {failing - 40} more failing findings", text)
    assert f"### Could not be verified ({errors})" in text
    assert text.count("\n- **") >= 40 + 25  # the lists are shown, capped, not dropped


def test_a_huge_catalog_of_failing_checks_with_long_hostile_text_still_fits() -> None:
    checks = [rule(f"plugin-check-{i:04d}", title="<b>|" * 400) for i in range(600)]
    findings = [finding(c, "fail", rid(("<x>|" * 60) + str(i)), message="[x](y)|<i>" * 200, evidence={"k": "v"},
                        waiver=WAIVER if i % 2 else None)
                for i, c in enumerate(checks) for _ in range(3)]
    errors = [{"scope": rid(f"kv-{i}"), "operation": "read" * 100, "status": 403, "code": "<x>" * 100} for i in range(500)]
    text = render(result(findings, checks, errors))
    assert "### Failing checks" in text and "more failing checks" in text
    rendered = page(text)
    assert {tag for tag, _ in rendered.tags} <= _ALLOWED_TAGS


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_names_are_shown_as_text_never_as_markdown_or_html(name: str) -> None:
    c = rule("rule-a", title=f"title {name}")
    resource_id = rid(name)
    audit = result([finding(c, "fail", resource_id, f"message {name}"),
                    finding(c, "error", rid("b" + name), f"cannot verify: {name}")], [c],
                   errors=[{"scope": resource_id, "operation": name, "status": 403, "code": name}])
    text = render(audit)
    rendered = page(text)
    assert {tag for tag, _ in rendered.tags} <= _ALLOWED_TAGS
    assert [attrs.get("href") for tag, attrs in rendered.tags if tag == "a"] == [SOURCE_URL]
    header = rendered.rows[0]
    assert all(cells == header for cells in rendered.rows[:6]) and all(cells == 5 for cells in rendered.rows[6:])
    shown = html.unescape("".join(rendered.text)).replace("\u2060", "")
    visible = re.sub("[\x00-\x08\x0b-\x1f\x7f]", "\ufffd", name).replace("\t", " ").replace("\r", " ").replace("\n", " ")
    assert f"message {visible}" in shown and f"title {visible}" in shown
    assert "\x00" not in text and "\x1b" not in text


def test_mentions_do_not_notify() -> None:
    c = rule("rule-a")
    text = render(result([finding(c, "fail", rid("a"), "owner @octo-org/security-team")], [c]))
    assert "@octo" not in text and "@\u2060octo-org/security-team" in text
