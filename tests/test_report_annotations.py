"""report.html with waivers and a baseline: accepted risks apart, expired/stale listed, user text escaped."""

from __future__ import annotations

from datetime import date

from amlaudit.auditor.baseline import apply_baseline
from amlaudit.auditor.findings import AuditResult, fingerprint
from amlaudit.auditor.findings_file import parse_findings_document
from amlaudit.auditor.registry import load_checks
from amlaudit.auditor.waivers import apply_waivers, parse_waivers
from amlaudit.reports.html_report import HtmlReporter
from tests.annotation_helpers import AKS_SCORING, CPU_SMALL, FRAUD_WS, current_findings, demo_result, finding
from tests.test_report_html import HOSTILE, HOSTILE_ESCAPED, Element, parse

CHECK_IDS = [c.id for c in load_checks()]
REMOTE_LOGIN = fingerprint("compute-remote-login", CPU_SMALL)

WAIVERS = f'''
[[waiver]]
check = "compute-remote-login"
resource = "{CPU_SMALL}"
reason = "jump host pending {HOSTILE}"
owner = "netops@contoso.com \\" onmouseover=\\"alert(2)"
expires = 2027-03-31

[[waiver]]
check = "aks-service-cidr"
resource = "{AKS_SCORING}"
reason = "old exception"
owner = "aks-team"
expires = 2026-01-31

[[waiver]]
check = "compute-batch-inbound"
resource = "{FRAUD_WS}/computes/retired-last-year"
reason = "stale one"
owner = "ml-team"
expires = 2027-01-01
'''


def render(result: AuditResult) -> tuple[str, Element]:
    html = HtmlReporter().render(result).decode("utf-8")
    return html, parse(html)


def waived_result() -> AuditResult:
    return apply_waivers(demo_result(), parse_waivers(WAIVERS, "waivers.toml", CHECK_IDS), date(2026, 12, 3))


def check_section(dom: Element, check_id: str) -> Element:
    return next(e for e in dom.find_all("section", data_check=check_id))


def test_a_waived_failure_is_shown_apart_as_an_accepted_risk_with_its_expiry_reason_and_owner() -> None:
    html, dom = render(waived_result())
    section = check_section(dom, "compute-remote-login")
    accepted = section.find("div", **{"class": "accepted"})
    cards = accepted.find_all("article")
    assert len(cards) == 1 and CPU_SMALL in cards[0].text()
    note = cards[0].find("p", **{"class": "waiver-note"}).text()
    assert note == f'Accepted risk: accepted until 2027-03-31 \u2014 jump host pending {HOSTILE}, netops@contoso.com " onmouseover="alert(2)'
    # Not among the findings to act on; the retail computes' failures (not waived) still are, so
    # the check stays marked failing (test_when_every_failure_is_accepted... covers the other case).
    to_act_on = [a for a in section.children if isinstance(a, Element) and a.tag == "article"]
    assert all(CPU_SMALL not in a.text() for a in to_act_on)
    assert len(to_act_on) == 3 and all("/rg-retail-ml/" in a.text() for a in to_act_on)
    assert "has-fail" in section.classes()
    assert "Remediation" not in cards[0].text()
    row = dom.find("table", id="check-overview").find("tr", data_check="compute-remote-login")
    assert "(1 accepted)" in row.text()
    assert dom.find("p", id="outcome-accepted").text().startswith("1 of them is an accepted risk")
    # User text is escaped: the hostile reason is text, the owner cannot open an attribute.
    assert HOSTILE not in html and HOSTILE_ESCAPED in html
    assert not any("onmouseover" in e.attrs for e in dom.iter())


def test_expired_and_stale_waivers_are_listed() -> None:
    _, dom = render(waived_result())
    section = dom.find("section", id="waivers")
    assert "empty" not in section.classes()
    assert section.find("h3", id="waivers-expired").text() == "Expired (1): no longer waive"
    assert section.find("h3", id="waivers-stale").text() == "Stale (1): match no failing finding, remove them"
    tables = section.find_all("table")
    expired_rows = tables[0].find("tbody").find_all("tr")
    assert len(expired_rows) == 1 and "aks-service-cidr" in expired_rows[0].text() and "2026-01-31" in expired_rows[0].text()
    assert "1 failing finding" in expired_rows[0].text()
    assert "retired-last-year" in tables[1].text() and "matches no failing finding" in tables[1].text()
    # The expired waiver's finding is an ordinary failure again.
    cidr = check_section(dom, "aks-service-cidr")
    assert "has-fail" in cidr.classes() and not cidr.find_all("div", **{"class": "accepted"})


def test_without_waivers_or_baseline_the_page_has_neither_section() -> None:
    _, dom = render(demo_result())
    assert not dom.find_all("section", id="waivers") and not dom.find_all("section", id="baseline")
    assert not dom.find_all("div", **{"class": "accepted"}) and not dom.find_all("p", id="outcome-accepted")


def test_baseline_badges_and_the_unverified_and_resolved_lists() -> None:
    baseline = current_findings()
    finding(baseline, "compute-remote-login", CPU_SMALL)["status"] = "pass"  # so it is new now
    persisting = sum(f["status"] == "fail" for f in baseline["findings"])
    gone = finding(baseline, "aks-service-cidr", AKS_SCORING)
    baseline["findings"].append(gone | {"check_id": "acme-retired", "fingerprint": fingerprint("acme-retired", AKS_SCORING),
                                        "resource_id": AKS_SCORING + "/" + HOSTILE})
    baseline["findings"].append(gone | {"check_id": "compute-remote-login", "resource_id": f"{FRAUD_WS}/computes/deleted",
                                        "fingerprint": fingerprint("compute-remote-login", f"{FRAUD_WS}/computes/deleted")})
    result = apply_baseline(demo_result(), parse_findings_document(baseline, "baseline.json"))
    html, dom = render(result)
    badges = {e.attrs["data-baseline"] for e in dom.iter() if "data-baseline" in e.attrs}
    assert badges == {"new", "persisting"}
    new_card = next(a for a in check_section(dom, "compute-remote-login").find_all("article") if CPU_SMALL in a.text())
    assert new_card.find("span", data_baseline="new").text() == "new"
    section = dom.find("section", id="baseline")
    assert f"1 new failure, {persisting} persisting, 1 resolved, 1 unverified" in " ".join(section.text().split())
    unverified = section.find_all("table")[0]
    assert "acme-retired" in unverified.text() and "check acme-retired did not run in this audit" in unverified.text()
    assert HOSTILE not in html and HOSTILE_ESCAPED in html
    resolved = section.find_all("table")[1]
    assert f"{FRAUD_WS}/computes/deleted" in resolved.text() and "absent" in resolved.text()
    assert "could not be verified" in dom.find("p", id="outcome-baseline").text()


def test_when_every_failure_is_accepted_the_outcome_is_not_marked_failing() -> None:
    # The demo also has findings it could not verify, so the page says "incomplete", not "failing".
    failing = sorted({f.check_id for f in demo_result().findings if f.status == "fail"})
    text = "".join(f'[[waiver]]\ncheck = "{c}"\nresource_glob = "*"\nreason = "r"\nowner = "o"\nexpires = 2027-01-01\n' for c in failing)
    result = apply_waivers(demo_result(), parse_waivers(text, "w.toml", CHECK_IDS), date(2026, 12, 3))
    _, dom = render(result)
    outcome = dom.find("section", id="outcome")
    assert "out-incomplete" in outcome.classes() and "out-fail" not in outcome.classes()
    failures = sum(f.status == "fail" for f in demo_result().findings)
    assert f"{failures} of them are accepted risks" in outcome.text()
    # Each check whose every failure is accepted is no longer marked failing.
    for check_id in failing:
        section = check_section(dom, check_id)
        # Marked by what still needs a look: accepted, or an error finding where the check has one.
        assert "has-fail" not in section.classes()
        assert section.classes() & {"has-accepted", "has-error"}
    _, plain = render(demo_result())
    assert "out-fail" in plain.find("section", id="outcome").classes()
