"""The HTML report: escaped, self-contained, complete, in the order a reviewer reads."""

from __future__ import annotations

import base64
import hashlib
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

import pytest

from amlaudit.auditor.check import Check, Settings, Verdict, check
from amlaudit.auditor.findings import AuditResult, Finding, fingerprint
from amlaudit.auditor.graph.estate import Estate
from amlaudit.auditor.graph.model import Gap
from amlaudit.auditor.pipeline import audit_snapshot, render_reports
from amlaudit.auditor.registry import load_reporters
from amlaudit.checks.storage import storage_trusted_services
from amlaudit.reports.html_report import HtmlReporter, evidence_html, reference_link, safe_http_url
from tests.estates import EstateBuilder

HOSTILE = "<script>alert(1)</script>"
HOSTILE_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
ATTRIBUTE_BREAKER = '" onmouseover="alert(2)'
IMG = "<img src=x onerror=alert(3)>"


# -- a small DOM, so tests can ask where things are rather than grep ------------------------

_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


@dataclass(eq=False)
class Element:
    tag: str
    attrs: dict[str, str | None]
    parent: Element | None = None
    children: list[Element | str] = field(default_factory=list)

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def iter(self) -> Iterator[Element]:
        yield self
        for child in self.children:
            if isinstance(child, Element):
                yield from child.iter()

    def find_all(self, tag: str | None = None, **attrs: str) -> list[Element]:
        return [e for e in self.iter() if (tag is None or e.tag == tag)
                and all(e.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items())]

    def find(self, tag: str | None = None, **attrs: str) -> Element:
        found = self.find_all(tag, **attrs)
        assert len(found) == 1, f"expected one <{tag} {attrs}>, found {len(found)}"
        return found[0]

    def classes(self) -> set[str]:
        return set((self.attrs.get("class") or "").split())

    def ancestors(self) -> Iterator[Element]:
        node = self.parent
        while node is not None:
            yield node
            node = node.parent


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {})
        self.current = self.root

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, dict(attrs), self.current)
        self.current.children.append(element)
        if tag not in _VOID:
            self.current = element

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.current.children.append(Element(tag, dict(attrs), self.current))

    def handle_endtag(self, tag: str) -> None:
        assert self.current.tag == tag, f"</{tag}> closes <{self.current.tag}>: the markup is not well nested"
        assert self.current.parent is not None
        self.current = self.current.parent

    def handle_data(self, data: str) -> None:
        self.current.children.append(data)


def parse(html: str) -> Element:
    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    assert builder.current is builder.root, f"<{builder.current.tag}> is never closed"
    return builder.root


def status_total(dom: Element, status: str) -> int:
    return int(dom.find("table", id="totals-by-status").find("td", data_status=status).text())


# -- building results ------------------------------------------------------------------------

def _rule(id: str, title: str = "A rule", severity: str = "high", reference: str = "https://learn.microsoft.com/azure/x") -> Check:  # noqa: A002
    @check(id=id, title=title, severity=severity, subject="thing", applies="always", passes="never fails",  # type: ignore[arg-type]
           source="Section", rationale="Because.", remediation="Fix it.", reference=reference)
    def rule(estate: Estate, settings: Settings) -> Iterator[Verdict]:
        yield from ()

    return rule


def _finding(c: Check, status: str, resource_id: str, message: str = "msg", evidence: dict[str, Any] | None = None) -> Finding:
    return Finding(check_id=c.id, status=status, severity=c.severity, resource_id=resource_id,  # type: ignore[arg-type]
                   title=c.title, message=message, evidence=evidence or {}, remediation=c.remediation,
                   reference=c.reference_text, fingerprint=fingerprint(c.id, resource_id))


def _result(findings: list[Finding], checks: list[Check], errors: list[dict[str, Any]] | None = None,
            gaps: list[Gap] | None = None, source: str = "unit") -> AuditResult:
    return AuditResult(findings=findings, checks=checks, errors=errors or [], gaps=gaps or [],
                       generated_at="2026-01-02T03:04:05Z", snapshot_collected_at="2026-01-01T00:00:00Z",
                       snapshot_source=source)


def render(result: AuditResult) -> str:
    return HtmlReporter().render(result).decode("utf-8")


def _rid(name: str) -> str:
    return f"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/{name}"


# -- escaping ---------------------------------------------------------------------------------

def test_hostile_text_everywhere_is_shown_as_text() -> None:
    rule = _rule("hostile-rule", title=f"title {HOSTILE}")
    evidence = {
        HOSTILE: HOSTILE,
        "tags": {IMG: ATTRIBUTE_BREAKER, "owner": HOSTILE},
        "rules": [{"name": HOSTILE, "priority": 100}],
        "closers": ["</style>", "</script>", "<!--", "]]>"],
    }
    hostile_finding = _finding(rule, "fail", _rid(HOSTILE), message=f"bypass is {HOSTILE}", evidence=evidence)
    stray = Finding(check_id=f"x{ATTRIBUTE_BREAKER}", status="error", severity="high", resource_id=_rid(IMG),
                    title=HOSTILE, message=IMG, evidence={}, remediation=HOSTILE, reference=HOSTILE, fingerprint="f")
    result = _result(
        [hostile_finding, stray], [rule],
        errors=[{"scope": _rid(HOSTILE), "operation": "GET", "status": 403, "code": HOSTILE, "message": IMG}],
        gaps=[Gap(_rid(HOSTILE), "storage account", f"not in the snapshot {HOSTILE}")],
        source=HOSTILE,
    )
    html = render(result)

    # The only script element is the report's own, and no hostile markup survives as markup.
    assert html.count("<script") == 1
    assert "alert(1)</script>" not in html
    assert "<img" not in html
    assert 'onmouseover="' not in html
    assert "</style>" not in html.split("<style>", 1)[1].split("</style>", 1)[1]  # only the real closing tag
    # ...but it is all there, escaped, for the reviewer to read.
    assert html.count(HOSTILE_ESCAPED) >= 10
    assert "&lt;img src=x onerror=alert(3)&gt;" in html
    assert "&#34; onmouseover=&#34;alert(2)" in html

    dom = parse(html)
    texts = [e.text() for e in dom.iter()]
    assert any(t == _rid(HOSTILE) for t in texts), "the resource id is shown exactly"
    dts = [dt.text() for dt in dom.find_all("dt")]
    assert HOSTILE in dts and IMG in dts, "hostile evidence keys are shown as text"
    assert dom.find("title").text() == f"amlaudit report: {HOSTILE}"
    assert status_total(dom, "fail") == 1


def test_a_hostile_storage_account_name_from_an_estate_is_escaped(builder: EstateBuilder) -> None:
    account = builder.storage_account(HOSTILE, default_action="Deny", bypass="None")
    builder.workspace(storage=account)
    result = audit_snapshot(builder.snapshot(), [storage_trusted_services])
    assert [f.status for f in result.findings] == ["fail"]

    html = render(result)
    assert html.count("<script") == 1
    assert HOSTILE_ESCAPED in html
    dom = parse(html)
    (card,) = [a for a in dom.find_all("article") if "finding" in a.classes()]
    assert card.find("code", **{"class": "rid"}).text() == account["id"]


@pytest.mark.parametrize("reference", [
    "javascript:alert(1)", "JavaScript:alert(1)", " javascript:alert(1)", "data:text/html,<b>x</b>",
    "vbscript:msgbox", "//evil.example/x", "/relative/path", "https://", "https://exa mple.com",
    "https://example.com/\nx",
])
def test_references_that_are_not_absolute_http_urls_are_never_links(reference: str) -> None:
    rule = _rule("odd-reference", reference=reference)
    html = render(_result([_finding(rule, "fail", _rid("a"))], [rule]))
    dom = parse(html)
    hrefs = [a.attrs.get("href") or "" for a in dom.find_all("a")]
    assert all(h.startswith(("#", "https://", "http://")) for h in hrefs), hrefs
    assert not any(reference.strip() and h == reference.strip() for h in hrefs)
    assert "Section" in dom.find("section", data_check="odd-reference").text()


def test_http_references_are_links_with_readable_text() -> None:
    rule = _rule("good-reference", reference="https://learn.microsoft.com/azure/machine-learning/how-to-enable-virtual-network")
    dom = parse(render(_result([_finding(rule, "fail", _rid("a"))], [rule])))
    group = dom.find("section", data_check="good-reference")
    links = [a for a in group.find_all("a") if a.attrs.get("href") == rule.reference]
    assert len(links) == 2  # the check's source, and the failing finding's reference
    assert all("Securely run experiments" in a.text() and "Section" in a.text() for a in links)
    assert all(a.attrs.get("rel") == "noopener noreferrer" for a in links)


def test_url_helpers() -> None:
    assert safe_http_url("https://learn.microsoft.com/a?b=c#d") == "https://learn.microsoft.com/a?b=c#d"
    assert safe_http_url("HTTP://example.com") == "HTTP://example.com"
    assert safe_http_url("javascript:alert(1)") is None
    assert safe_http_url("https:///nohost") is None
    assert safe_http_url("https://[::1") is None  # unparseable
    link = reference_link("https://x.example/doc (Doc: Step 4)")
    assert (link.url, link.text) == ("https://x.example/doc", "Doc: Step 4")
    assert reference_link("see the runbook").url is None
    assert reference_link("see the runbook").text == "see the runbook"


# -- self-contained ---------------------------------------------------------------------------

def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def test_the_page_loads_nothing_and_its_policy_admits_only_its_own_style_and_script() -> None:
    rule = _rule("one")
    html = render(_result([_finding(rule, "fail", _rid("a")), _finding(rule, "pass", _rid("b"))], [rule]))
    lowered = html.lower()
    assert not re.search(r"<script[^>]*\bsrc\s*=", lowered)
    assert "<link" not in lowered
    assert "@import" not in lowered
    assert "url(" not in lowered
    assert not re.search(r"<(img|iframe|object|embed|video|audio|source|base|form)\b", lowered)
    assert not re.search(r"\bsrc\s*=", lowered)

    dom = parse(html)
    (style,) = dom.find_all("style")
    (script,) = dom.find_all("script")
    assert "src" not in script.attrs
    csp = next(m.attrs["content"] for m in dom.find_all("meta") if m.attrs.get("http-equiv") == "Content-Security-Policy")
    assert csp is not None
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["style-src"] == _csp_hash(style.text())
    assert directives["script-src"] == _csp_hash(script.text())
    for a in dom.find_all("a"):
        href = a.attrs.get("href") or ""
        assert href.startswith("#") or (href.startswith("https://") and a.attrs.get("rel") == "noopener noreferrer"), href
    # Without JavaScript the controls stay hidden and every finding is still in the markup.
    assert "hidden" in dom.find("nav", id="controls").attrs
    assert len(dom.find("details").find_all("tr", **{"class": "st-pass"})) == 1


# -- content and order ------------------------------------------------------------------------

def test_totals_match_the_summary() -> None:
    high, low = _rule("high-one", severity="high"), _rule("low-one", severity="low")
    findings = (
        [_finding(high, "fail", _rid(f"f{i}")) for i in range(3)]
        + [_finding(high, "pass", _rid(f"p{i}")) for i in range(4)]
        + [_finding(low, "error", _rid(f"e{i}")) for i in range(2)]
        + [_finding(low, "not_applicable", _rid(f"n{i}")) for i in range(5)]
        + [_finding(low, "fail", _rid("lf"))]
    )
    result = _result(findings, [high, low])
    dom = parse(render(result))

    by_status = dom.find("table", id="totals-by-status")
    shown = {td.attrs["data-status"]: int(td.text()) for td in by_status.find_all("td")}
    assert shown == {**result.summary, "all": 15}
    assert result.summary == {"pass": 4, "fail": 4, "error": 2, "not_applicable": 5}

    by_severity = dom.find("table", id="totals-by-severity")
    rows = {tr.attrs["data-severity"]: {td.attrs["data-status"]: int(td.text()) for td in tr.find_all("td")}
            for tr in by_severity.find_all("tr") if tr.attrs.get("data-severity")}
    assert rows["high"] == {"fail": 3, "error": 0, "pass": 4, "not_applicable": 0, "all": 7}
    assert rows["low"] == {"fail": 1, "error": 2, "pass": 0, "not_applicable": 5, "all": 8}
    assert rows["critical"]["all"] == rows["medium"]["all"] == rows["info"]["all"] == 0
    footer = [int(td.text()) for td in by_severity.find("tfoot").find_all("td")]
    assert footer == [4, 2, 4, 5, 15]
    outcome = dom.find("section", id="outcome").text()
    assert "4 failing findings" in outcome and "3 high, 1 low" in outcome and "Incomplete" in outcome


def test_collection_errors_and_unique_gaps_come_before_the_findings() -> None:
    rule = _rule("needs-storage")
    missing = _rid("stgone")
    result = _result(
        [_finding(rule, "error", missing, message="cannot verify: storage account could not be read (HTTP 403)")],
        [rule],
        errors=[{"scope": missing, "operation": "GET", "status": 403, "code": "AuthorizationFailed", "message": "denied"},
                {"scope": "/subscriptions/s/providers/Microsoft.Network/locations/eastus/usages", "operation": "list usages",
                 "status": 500, "message": "boom"}],
        # Two checks tripped over the same missing account (once with different case): one gap.
        gaps=[Gap(missing, "storage account", "could not be read (HTTP 403)", 403),
              Gap(missing.upper(), "storage account", "could not be read (HTTP 403)", 403),
              Gap(_rid("vnet"), "subnet", "not in the snapshot")],
    )
    html = render(result)
    dom = parse(html)

    errors = dom.find("section", id="collection-errors")
    rows = errors.find("tbody").find_all("tr")
    assert [r.find_all("td")[0].text() for r in rows] == [missing, "/subscriptions/s/providers/Microsoft.Network/locations/eastus/usages"]
    assert [r.find_all("td")[2].text() for r in rows] == ["403", "500"]
    assert rows[1].find_all("td")[3].text() == ""  # no code recorded: shown empty, not "None"
    assert "Collection errors (2)" in errors.find("h2").text()

    gaps = dom.find("section", id="coverage-gaps")
    gap_rows = gaps.find("tbody").find_all("tr")
    assert len(gap_rows) == 2
    assert sorted(r.find_all("td")[0].text() for r in gap_rows) == ["storage account", "subnet"]

    assert html.index('id="collection-errors"') < html.index('id="findings"')
    assert html.index('id="coverage-gaps"') < html.index('id="findings"')
    assert "Incomplete" in dom.find("section", id="outcome").text()
    # An unverifiable finding is shown open, like a failure, not folded away with the passes.
    (card,) = [a for a in dom.find_all("article") if "finding" in a.classes()]
    assert "st-error" in card.classes() and not any(a.tag == "details" for a in card.ancestors())


def test_an_estate_with_a_collection_error_reports_it_and_the_gap(builder: EstateBuilder) -> None:
    account = builder.storage_account("stlocked", default_action="Deny")
    builder.workspace(storage=account)
    builder.drop(account)
    builder.collection_error(account["id"], status=403)
    result = audit_snapshot(builder.snapshot(), [storage_trusted_services])
    dom = parse(render(result))
    assert dom.find("section", id="collection-errors").find("tbody").find("td", **{"class": "rid"}).text() == account["id"]
    assert account["id"] in dom.find("section", id="coverage-gaps").text()
    assert status_total(dom, "error") == 1


def _group_sections(dom: Element) -> list[Element]:
    return [s for s in dom.find("section", id="findings").find_all("section") if "check" in s.classes()]


def test_findings_are_grouped_by_check_in_catalog_order_with_attention_first() -> None:
    first, second, quiet = _rule("first-check", "First"), _rule("second-check", "Second"), _rule("quiet-check", "Quiet")
    findings = [
        _finding(second, "pass", _rid("a")),
        _finding(first, "not_applicable", _rid("b")),
        _finding(first, "pass", _rid("c")),
        _finding(second, "error", _rid("d")),
        _finding(first, "fail", _rid("e")),
        _finding(first, "error", _rid("f")),
        _finding(first, "fail", _rid("g")),
    ]
    uncatalogued = Finding(check_id="plugin-extra", status="fail", severity="low", resource_id=_rid("h"),
                           title="From elsewhere", message="m", evidence={}, remediation="r", reference="ref", fingerprint="x")
    random.Random(7).shuffle(findings)
    order_in_input = [f.resource_id for f in findings]
    result = _result([*findings, uncatalogued], [first, second, quiet])
    dom = parse(render(result))

    groups = _group_sections(dom)
    assert [g.attrs["data-check"] for g in groups] == ["first-check", "second-check", "quiet-check", "plugin-extra"]
    overview = [tr.attrs["data-check"] for tr in dom.find("table", id="check-overview").find("tbody").find_all("tr")]
    assert overview == ["first-check", "second-check", "quiet-check", "plugin-extra"]

    def cards(group: Element) -> list[tuple[str, str]]:
        return [(next(iter(c.classes() - {"finding"})), c.find("code", **{"class": "rid"}).text())
                for c in group.find_all("article")]

    first_cards = cards(groups[0])
    assert [status for status, _ in first_cards] == ["st-fail", "st-fail", "st-error"]
    fails = [rid for status, rid in first_cards if status == "st-fail"]
    assert fails == [rid for rid in order_in_input if rid in (_rid("e"), _rid("g"))]  # runner order kept
    settled = groups[0].find("details")
    assert [tr.attrs["class"] for tr in settled.find("tbody").find_all("tr")] == ["st-pass", "st-not_applicable"]
    assert "1 passing, 1 not applicable" in settled.find("summary").text()
    assert not any(a.tag == "details" for card in groups[0].find_all("article") for a in card.ancestors())

    assert [s for s, _ in cards(groups[1])] == ["st-error"]
    assert groups[1].attrs["data-unsettled"] == "1" and groups[2].attrs["data-unsettled"] == "0"
    assert "No findings" in groups[2].text() and not groups[2].find_all("details")
    assert "not in the run's catalog" in groups[3].text()


def test_evidence_is_rendered_as_nested_lists_and_typed_values() -> None:
    rule = _rule("evidence-check")
    evidence = {
        "rule": {"name": "DenyInternet", "priority": 100, "default": False, "nsg": None},
        "prefixes": ["13.92.114.103/32", "40.0.0.0/8"],
        "blocked": [{"port": 29876}, {"port": 29877}],
        "ports": {29877, 29876},
        "empty": [],
        "blank": "",
    }
    dom = parse(render(_result([_finding(rule, "fail", _rid("a"), evidence=evidence)], [rule])))
    top = next(dl for dl in dom.find("article").find_all("dl") if "ev" in dl.classes())
    pairs = {}
    for node in top.children:
        if isinstance(node, Element) and node.tag == "dt":
            key = node.text()
        elif isinstance(node, Element) and node.tag == "dd":
            pairs[key] = node
    assert list(pairs) == ["rule", "prefixes", "blocked", "ports", "empty", "blank"]
    rule_dl = pairs["rule"].find("dl")
    assert [dt.text() for dt in rule_dl.find_all("dt")] == ["name", "priority", "default", "nsg"]
    assert [s.text() for s in rule_dl.find_all("span", **{"class": "lit"})] == ["100", "false", "null"]
    flat = pairs["prefixes"].find("ul")
    assert "flat" in flat.classes() and [li.text() for li in flat.find_all("li")] == ["13.92.114.103/32", "40.0.0.0/8"]
    assert "flat" not in pairs["blocked"].find("ul").classes()
    assert [li.text() for li in pairs["ports"].find_all("li")] == ["29876", "29877"]
    assert pairs["empty"].text() == "(none)" and pairs["blank"].text() == "(empty)"


def test_evidence_renders_any_python_value_as_json_would_spell_it() -> None:
    class Address:
        def __str__(self) -> str:
            return "10.0.0.4"

    html = str(evidence_html({"a": (1, 2.5, True, None), 3: Address(), "s": {"b", "a"}, "e": "", "n": []}))
    dom = parse(f"<div>{html}</div>")
    pairs = dict(zip([dt.text() for dt in dom.find_all("dt")], dom.find_all("dd")))
    assert [(li.text(), li.find("span").attrs["class"]) for li in pairs["a"].find_all("li")] == [
        ("1", "lit"), ("2.5", "lit"), ("true", "lit"), ("null", "lit")]
    assert pairs["3"].text() == "10.0.0.4"  # a key that is not text is shown as text too
    assert [li.text() for li in pairs["s"].find_all("li")] == ["a", "b"]  # a set, sorted
    assert pairs["e"].text() == "(empty)" and pairs["n"].text() == "(none)"
    deep: Any = "leaf"
    for _ in range(50):
        deep = [deep]
    rendered = parse(f"<div>{evidence_html({'deep': deep})}</div>")
    assert 0 < len(rendered.find_all("ul")) < 50  # cut off as text, not a recursion error
    assert "[[[" in rendered.text()


def test_an_empty_result_renders_a_clean_page() -> None:
    result = _result([], [])
    dom = parse(render(result))
    assert {td.attrs["data-status"]: td.text() for td in dom.find("table", id="totals-by-status").find_all("td")} == {
        "fail": "0", "error": "0", "pass": "0", "not_applicable": "0", "all": "0"}
    assert "out-clean" in dom.find("section", id="outcome").classes()
    assert "No checks ran" in dom.find("section", id="checks").text()
    assert "No findings" in dom.find("section", id="findings").text()
    assert "None" in dom.find("section", id="collection-errors").text()
    assert "None" in dom.find("section", id="coverage-gaps").text()


def test_header_names_the_run() -> None:
    result = _result([], [_rule("quiet")], source="snap.json.gz")
    result.snapshot_collected_at = None
    meta = parse(render(result)).find("dl", **{"class": "meta"})
    values = dict(zip((dt.text() for dt in meta.find_all("dt")), (dd.text() for dd in meta.find_all("dd"))))
    assert values["Generated"] == "2026-01-02T03:04:05Z"
    assert values["Snapshot"] == "snap.json.gz"
    assert values["Collected"] == "unknown"
    assert values["Tool"] == f"amlaudit {result.tool['version']}"
    assert values["Checks run"] == "1"


def test_a_crashed_check_finding_without_subject_is_shown() -> None:
    rule = _rule("crashy")
    crash = _finding(rule, "error", "", message="cannot verify: the check crashed (KeyError: 'x')")
    dom = parse(render(_result([crash], [rule])))
    card = dom.find("article")
    assert "no subject" in card.text() and "crashed" in card.text()


def test_a_status_the_report_does_not_know_is_counted_and_shown_open() -> None:
    rule = _rule("future-status")
    later = _finding(rule, "suppressed", _rid("a"), message="suppressed until 2027-01-01")
    dom = parse(render(_result([later, _finding(rule, "pass", _rid("b"))], [rule])))
    assert status_total(dom, "suppressed") == 1 and status_total(dom, "pass") == 1
    card = dom.find("article")
    assert "st-unknown" in card.classes() and not any(a.tag == "details" for a in card.ancestors())
    assert "suppressed" in card.find("header").text()


def test_ten_thousand_findings_render_completely() -> None:
    rule = _rule("bulk")
    statuses = ["pass"] * 7 + ["fail", "error", "not_applicable"]
    findings = [_finding(rule, statuses[i % 10], _rid(f"st{i:05d}"), evidence={"bypass": "None", "n": i})
                for i in range(10_000)]
    html = render(_result(findings, [rule]))
    assert html.count('<article class="finding') == 2_000
    assert html.count('<tr class="st-pass">') == 7_000
    assert html.count('<tr class="st-not_applicable">') == 1_000
    assert html.count("<details") == 1


# -- wiring -----------------------------------------------------------------------------------

def test_registered_as_the_html_format(builder: EstateBuilder) -> None:
    assert load_reporters(["html"])["html"] is HtmlReporter
    builder.workspace(storage=builder.storage_account(default_action="Deny", bypass="AzureServices"))
    result = audit_snapshot(builder.snapshot(), [storage_trusted_services])
    rendered = render_reports(result, ["html"])
    assert set(rendered) == {"findings.json", "report.html"}
    assert status_total(parse(rendered["report.html"].decode()), "pass") == 1

