"""The helpers every machine format shares: subjects, evidence text, severities, Markdown text."""

from __future__ import annotations

import ipaddress

import pytest

from amlaudit.reports.common import (
    NO_SUBJECT,
    SEVERITY_TERMS,
    evidence_text,
    is_accepted,
    markdown_text,
    most_severe_first,
    severity_terms,
    subject,
    waiver_note,
)
from tests.report_helpers import SUB, WAIVER, finding, rid, rule


def test_subject_of_a_nested_resource_names_its_parents_and_type() -> None:
    subnet = rid("vnet-a/subnets/snet-b", "Microsoft.Network/virtualNetworks", rg="rg-net")
    where = subject(subnet)
    assert where.name == "vnet-a/snet-b"
    assert where.type == "Microsoft.Network/virtualNetworks/subnets"
    assert (where.resource_group, where.subscription) == ("rg-net", SUB)
    assert where.label == f"vnet-a/snet-b ({subnet})"


@pytest.mark.parametrize(("resource_id", "name", "kind"), [
    (f"/subscriptions/{SUB}/resourceGroups/rg-x", "rg-x", "Microsoft.Resources/resourceGroups"),
    (f"/subscriptions/{SUB}", SUB, "Microsoft.Resources/subscriptions"),
    ("", NO_SUBJECT, ""),
    ("westeurope", "westeurope", ""),
])
def test_subjects_that_are_scopes_or_not_arm_ids(resource_id: str, name: str, kind: str) -> None:
    where = subject(resource_id)
    assert (where.name, where.type) == (name, kind)
    if not resource_id:
        assert where.label == NO_SUBJECT


def test_evidence_text_is_one_readable_line_of_json_values() -> None:
    evidence = {
        "default_action": "Deny", "bypass": None, "present": True, "count": 3, "ratio": 0.5,
        "endpoints": ["Microsoft.Storage", "Microsoft.KeyVault"], "nested": {"rule": {"priority": 100, "ok": False}},
        "set": {"b", "a"}, "address": ipaddress.ip_network("10.0.0.0/24"), "empty": [], "none": {},
    }
    assert evidence_text(evidence) == (
        "default_action: Deny; bypass: null; present: true; count: 3; ratio: 0.5; "
        "endpoints: [Microsoft.Storage, Microsoft.KeyVault]; nested: {rule: {priority: 100, ok: false}}; "
        "set: [a, b]; address: 10.0.0.0/24; empty: []; none: {}"
    )
    assert evidence_text({}) == ""


def test_evidence_text_bounds_pathological_depth() -> None:
    deep: dict = {}
    cursor = deep
    for _ in range(50):
        cursor["d"] = {}
        cursor = cursor["d"]
    text = evidence_text({"deep": deep})
    # Walked to the HTML report's depth, then shown as Python writes it.
    assert text.startswith("deep: " + "{d: " * 12 + "{'d': {'d': ")


def test_every_catalog_severity_has_terms_and_unknown_ones_are_not_guessed_low() -> None:
    assert set(SEVERITY_TERMS) == {"info", "low", "medium", "high", "critical"}
    assert [SEVERITY_TERMS[s].ocsf_severity_id for s in ("info", "low", "medium", "high", "critical")] == [1, 2, 3, 4, 5]
    # GitHub: >= 9.0 critical, 7.0-8.9 high, 4.0-6.9 medium, 0.1-3.9 low.
    assert float(SEVERITY_TERMS["critical"].security_severity or 0) >= 9.0
    assert 7.0 <= float(SEVERITY_TERMS["high"].security_severity or 0) < 9.0
    assert 4.0 <= float(SEVERITY_TERMS["medium"].security_severity or 0) < 7.0
    assert 0.1 <= float(SEVERITY_TERMS["low"].security_severity or 0) < 4.0
    unknown = severity_terms("severe")
    assert (unknown.sarif_level, unknown.security_severity, unknown.ocsf_severity_id) == ("warning", None, 0)


def test_most_severe_first_puts_failures_then_errors_and_keeps_the_run_order_in_ties() -> None:
    high, critical = rule("r-high"), rule("r-critical", severity="critical")
    findings = [finding(high, "pass", rid("p")), finding(high, "error", rid("e")), finding(high, "fail", rid("f1")),
                finding(critical, "fail", rid("f2")), finding(high, "fail", rid("f3"))]
    assert [f.resource_id.rsplit("/", 1)[1] for f in most_severe_first(findings)] == ["f2", "f1", "f3", "e", "p"]


def test_only_waived_failures_read_as_accepted() -> None:
    r = rule("rule-a")
    assert is_accepted(finding(r, "fail", rid("a"), waiver=WAIVER))
    assert not is_accepted(finding(r, "fail", rid("a")))
    assert not is_accepted(finding(r, "error", rid("a"), waiver=WAIVER))
    assert waiver_note(WAIVER) == "accepted until 2027-03-31 \u2014 jump host pending, CHG-1042, netops@contoso.com"


@pytest.mark.parametrize(("raw", "escaped"), [
    ("a|b", "a\\|b"),
    ("`code`", "\\`code\\`"),
    ("<img src=x>", "\\<img src=x\\>"),
    ("[click](javascript:alert(1))", "\\[click\\](javascript:alert(1))"),
    ("**bold** _it_ ~~x~~", "\\*\\*bold\\*\\* \\_it\\_ \\~\\~x\\~\\~"),
    ("&lt;", "\\&lt;"),
    ("$x$", "\\$x\\$"),
    ("back\\slash", "back\\\\slash"),
    ("line\nbreak\r\n", "line break  "),
    ("nul\x00esc\x1b", "nul\ufffdesc\ufffd"),
    ("plain text, 10.0.0.0/24: ok-1.2", "plain text, 10.0.0.0/24: ok-1.2"),
])
def test_markdown_text_escapes_what_could_be_syntax(raw: str, escaped: str) -> None:
    assert markdown_text(raw) == escaped


def test_markdown_text_defuses_mentions_and_cuts_before_escaping() -> None:
    assert markdown_text("@octo-org/team") == "@\u2060octo-org/team"
    cut = markdown_text("<" * 10, limit=4)
    assert cut == "\\<\\<\\<\u2026"
