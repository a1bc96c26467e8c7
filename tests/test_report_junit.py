"""junit.xml, read back with junitparser: a suite per check, a case per subject, outcomes by status."""

from __future__ import annotations

import dataclasses

import pytest
from junitparser import Error, Failure, JUnitXml, Skipped, TestCase, TestSuite

from amlaudit.auditor.findings import AuditResult
from amlaudit.reports.common import subject
from amlaudit.reports.junit_report import COLLECTION_SUITE, JunitReporter, junit_timestamp
from tests.report_helpers import HOSTILE_NAMES, WAIVER, annotated_demo, demo_result, finding, result, rid, rule


def parse(audit: AuditResult) -> JUnitXml:
    data = JunitReporter().render(audit)
    assert data.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    return JUnitXml.fromstring(data)


def suites(document: JUnitXml) -> list[TestSuite]:
    return list(document)


def outcome(case: TestCase) -> Failure | Error | Skipped | None:
    results = case.result
    assert len(results) <= 1
    return results[0] if results else None


def test_demo_is_one_suite_per_check_and_one_case_per_subject() -> None:
    demo = demo_result()
    document = parse(demo)
    found = suites(document)
    assert [s.name for s in found] == [c.id for c in demo.checks] + [COLLECTION_SUITE]
    cases = [case for suite in found[:-1] for case in suite]
    by_check = sorted(demo.findings, key=lambda f: [c.id for c in demo.checks].index(f.check_id))
    assert len(cases) == len(demo.findings)
    for case, f in zip(cases, by_check, strict=True):
        assert case.classname == f.check_id
        assert case.name == f"{subject(f.resource_id).name} ({f.resource_id})"
        result_ = outcome(case)
        if f.status == "pass":
            assert result_ is None and case.is_passed
        elif f.status == "fail":
            assert isinstance(result_, Failure)
            assert (result_.message, result_.type) == (f.message, f.severity)
            assert f"Remediation: {f.remediation}" in result_.text and "Evidence: " in result_.text
            assert f"Fingerprint: {f.fingerprint}" in result_.text
        elif f.status == "error":
            assert isinstance(result_, Error) and result_.message == f.message and result_.type == "cannot verify"
        else:
            assert isinstance(result_, Skipped) and result_.message == f"not applicable: {f.message}"
    # The statistics junitparser recomputes match the ones written.
    written = {key: document._elem.get(key) for key in ("tests", "failures", "errors", "skipped")}
    document.update_statistics()
    assert written == {"tests": str(document.tests), "failures": str(document.failures),
                       "errors": str(document.errors), "skipped": str(document.skipped)}
    assert (document.failures, document.errors) == (demo.summary["fail"], demo.summary["error"] + len(demo.errors))


def test_collection_errors_are_error_cases_so_an_incomplete_audit_is_never_green() -> None:
    found = suites(parse(demo_result()))
    (case,) = list(found[-1])
    error = outcome(case)
    assert isinstance(error, Error) and error.type == "collection error"
    assert error.message == "could not read Microsoft.KeyVault/vaults/read: 403 AuthorizationFailed"
    assert "does not have authorization" in error.text
    assert case.name.startswith("kv-mkt-sandbox (/subscriptions/")


def test_a_waived_failure_is_skipped_as_accepted_risk() -> None:
    annotated = annotated_demo()
    document = parse(annotated)
    waived = next(f for f in annotated.findings if f.waiver is not None)
    (case,) = [c for s in suites(document) for c in s if c.classname == waived.check_id and waived.resource_id in c.name]
    skipped = outcome(case)
    assert isinstance(skipped, Skipped)
    assert skipped.message == "accepted until 2027-03-31 \u2014 jump host pending, CHG-1042, netops@contoso.com"
    assert "Baseline: persisting" in skipped.text and waived.message in skipped.text
    assert document.failures == annotated.summary["fail"] - 1


def test_an_error_with_a_waiver_still_errors_and_an_unknown_status_is_never_a_pass() -> None:
    c = rule("rule-a")
    document = parse(result([finding(c, "error", rid("a"), "cannot verify: 403", waiver=WAIVER),
                             finding(c, "suppressed", rid("b"), "later status")], [c]))
    first, second = list(suites(document)[0])
    assert isinstance(outcome(first), Error)
    unknown = outcome(second)
    assert isinstance(unknown, Error) and unknown.type == "unknown status" and "'suppressed'" in unknown.message


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_names_and_control_characters_keep_the_file_well_formed(name: str) -> None:
    c = rule("rule-a")
    resource_id = rid(name)
    document = parse(result([finding(c, "fail", resource_id, f"account {name} is open", {"tag": name})], [c],
                            errors=[{"scope": resource_id, "operation": name, "status": 403, "code": name, "message": name}]))
    (case,) = list(suites(document)[0])
    shown = name.replace("\x00", "\ufffd").replace("\x1b", "\ufffd").replace("\x07", "\ufffd")
    assert case.name == subject(rid(shown)).label and case.name.endswith(f" ({rid(shown)})")
    failure = outcome(case)
    assert isinstance(failure, Failure) and failure.message == f"account {shown} is open"
    assert f"tag: {shown}" in failure.text


@pytest.mark.parametrize(("generated_at", "timestamp"), [
    ("2026-01-02T03:04:05Z", "2026-01-02T03:04:05"),
    ("2026-01-02T04:04:05.123+01:00", "2026-01-02T03:04:05"),
    ("2026-01-02T03:04:05", "2026-01-02T03:04:05"),
    ("not a time", ""),
])
def test_suite_timestamps_follow_the_junit_schema(generated_at: str, timestamp: str) -> None:
    assert junit_timestamp(generated_at) == timestamp
    c = rule("rule-a")
    audit = dataclasses.replace(result([], [c]), generated_at=generated_at)
    (suite,) = suites(parse(audit))
    assert suite._elem.get("timestamp") == (timestamp or None)


def test_an_empty_audit_is_an_empty_suite_per_check() -> None:
    c = rule("rule-a")
    document = parse(result([], [c]))
    (suite,) = suites(document)
    assert suite.name == "rule-a" and suite.tests == 0 and list(suite) == []
