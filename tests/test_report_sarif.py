"""findings.sarif: valid SARIF 2.1.0 (the official schema) shaped for GitHub code scanning."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import jsonschema
import pytest

from amlaudit.auditor.findings import AuditResult
from amlaudit.reports.sarif_report import SarifReporter, message_text, pseudo_path
from tests.report_helpers import HOSTILE_NAMES, WAIVER, annotated_demo, demo_result, finding, result, rid, rule

SCHEMA_PATH = Path(__file__).parent / "data" / "schemas" / "sarif-schema-2.1.0.json"


@cache
def _validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)


def render(audit: AuditResult) -> dict[str, Any]:
    log = json.loads(SarifReporter().render(audit))
    errors = sorted(_validator().iter_errors(log), key=lambda e: list(e.absolute_path))
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors[:5]]
    return log


def _run(log: dict[str, Any]) -> dict[str, Any]:
    (run,) = log["runs"]
    return run


def test_the_schema_is_the_official_one_and_rejects_a_broken_log() -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert schema["title"] == "Static Analysis Results Format (SARIF) Version 2.1.0 JSON Schema"
    broken = json.loads(SarifReporter().render(demo_result()))
    broken["runs"][0]["results"][0]["kind"] = "broken"
    del broken["runs"][0]["tool"]["driver"]["name"]
    assert len(list(_validator().iter_errors(broken))) >= 2


def test_demo_has_one_rule_per_check_with_help_and_severity() -> None:
    demo = demo_result()
    run = _run(render(demo))
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == [c.id for c in demo.checks]
    by_id = {c.id: c for c in demo.checks}
    for r in rules:
        c = by_id[r["id"]]
        assert r["name"] == c.title and r["shortDescription"]["text"] == c.title
        assert c.rationale in r["fullDescription"]["text"] and len(r["fullDescription"]["text"]) <= 1024
        assert c.remediation in r["help"]["text"] and c.source in r["help"]["text"]
        assert "**Remediation:**" in r["help"]["markdown"]
        assert r["helpUri"] == c.reference
        props = r["properties"]
        assert "security" in props["tags"] and len(props["tags"]) <= 10
        expected = {"critical": ("error", "9.5", "error"), "high": ("error", "8.0", "error"),
                    "medium": ("warning", "5.5", "warning")}[c.severity]
        assert (r["defaultConfiguration"]["level"], props["security-severity"], props["problem.severity"]) == expected


def test_results_are_the_failures_and_the_unverifiable_findings() -> None:
    demo = demo_result()
    run = _run(render(demo))
    results = run["results"]
    wanted = [f for f in demo.findings if f.status in ("fail", "error")]
    assert len(results) == len(wanted) == demo.summary["fail"] + demo.summary["error"]
    rules = run["tool"]["driver"]["rules"]
    for r, f in zip(results, wanted, strict=True):
        assert r["ruleId"] == f.check_id and rules[r["ruleIndex"]]["id"] == f.check_id
        assert r["partialFingerprints"] == {"primaryLocationLineHash": f"{f.fingerprint}:1", "amlaudit/v1": f.fingerprint}
        (location,) = r["locations"]
        physical = location["physicalLocation"]
        assert physical["region"] == {"startLine": 1}
        assert unquote(physical["artifactLocation"]["uri"]) == "azure" + f.resource_id
        (logical,) = location["logicalLocations"]
        assert logical["fullyQualifiedName"] == f.resource_id and logical["kind"] == "resource"
        assert r["properties"]["evidence"] == json.loads(json.dumps(f.evidence))
        if f.status == "fail":
            assert (r["kind"], r["level"]) == ("fail", "error" if f.severity in ("high", "critical") else "warning")
        else:
            assert (r["kind"], r["level"]) == ("review", "none")
            assert r["message"]["text"].split(": ", 1)[1].startswith("cannot verify")
        assert "suppressions" not in r and "baselineState" not in r
    # The 403 on a key vault is an execution notification, and the run still says it executed.
    (invocation,) = run["invocations"]
    assert invocation["executionSuccessful"] is True
    (note,) = invocation["toolExecutionNotifications"]
    assert note["level"] == "error" and "403 AuthorizationFailed" in note["message"]["text"]


def test_waived_failures_are_accepted_suppressions_and_the_baseline_state_is_carried() -> None:
    annotated = annotated_demo()
    results = _run(render(annotated))["results"]
    reported = [f for f in annotated.findings if f.status in ("fail", "error")]
    suppressed = [r for r in results if "suppressions" in r]
    assert len(suppressed) == 1
    (suppression,) = suppressed[0]["suppressions"]
    assert suppression == {"kind": "external", "status": "accepted", "justification": WAIVER["reason"],
                           "properties": {"owner": WAIVER["owner"], "expires": WAIVER["expires"],
                                          "check": reported[0].check_id, "selector": "resource"}}
    assert [r["baselineState"] for r in results] == ["unchanged" if f.baseline == "persisting" else "new" for f in reported]
    assert [r["baselineState"] for r in results[:2]] == ["unchanged", "unchanged"]


def test_a_waiver_on_an_error_is_not_a_suppression() -> None:
    c = rule("rule-a")
    log = render(result([finding(c, "error", rid("a"), "cannot verify: 403", waiver=WAIVER)], [c]))
    assert "suppressions" not in _run(log)["results"][0]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_names_stay_text_and_the_log_stays_valid(name: str) -> None:
    c = rule("rule-a")
    resource_id = rid(name)
    log = render(result([finding(c, "fail", resource_id, f"account {name} [x](1) is open", {"name": name})], [c]))
    (r,) = _run(log)["results"]
    uri = r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert unquote(uri) == "azure" + resource_id
    assert re.fullmatch(r"[A-Za-z0-9._~%/-]+", uri), uri  # a URI reference: everything else percent-encoded
    assert r["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] == resource_id
    # No embedded link can form: every bracket in the message is escaped.
    text = r["message"]["text"]
    assert "\\[x\\](1)" in text
    assert text.replace("\\[", "").replace("\\]", "").count("[") == 0


def test_message_text_and_pseudo_path_helpers() -> None:
    assert message_text("a [b](1) c\\d") == "a \\[b\\](1) c\\\\d"
    assert pseudo_path("/subscriptions/s/resourceGroups/rg/providers/P/t/a b#?") == \
        "azure/subscriptions/s/resourceGroups/rg/providers/P/t/a%20b%23%3F"
    assert pseudo_path("") == "azure/no-subject"


def test_a_check_outside_the_catalog_still_gets_a_rule() -> None:
    known, stray = rule("known"), rule("stray-plugin-check", severity="critical")
    log = render(result([finding(stray, "fail", rid("a"))], [known]))
    run = _run(log)
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == ["known", "stray-plugin-check"]
    assert run["results"][0]["ruleIndex"] == 1


def test_an_info_rule_has_no_security_severity_and_a_clean_run_has_no_results() -> None:
    info = rule("informational", severity="info")
    log = render(result([finding(info, "pass", rid("a")), finding(info, "not_applicable", rid("b"))], [info]))
    run = _run(log)
    assert run["results"] == []
    properties = run["tool"]["driver"]["rules"][0]["properties"]
    assert "security-severity" not in properties and properties["problem.severity"] == "recommendation"
