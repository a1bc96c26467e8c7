"""findings.ocsf.json: OCSF Compliance Findings (class 2003), validated with py-ocsf-models."""

from __future__ import annotations

import json
from typing import Any

import pydantic
import pytest
from py_ocsf_models import OCSF_VERSION
from py_ocsf_models.events.findings.compliance_finding import ComplianceFinding

from amlaudit.auditor.findings import AuditResult
from amlaudit.reports import ocsf_report
from amlaudit.reports.ocsf_report import AzureComplianceFinding, OcsfReporter
from tests.report_helpers import GENERATED_AT, HOSTILE_NAMES, WAIVER, annotated_demo, demo_result, finding, result, rid, rule

GENERATED_AT_MS = 1767323045000  # 2026-01-02T03:04:05Z


def events(audit: AuditResult) -> list[dict[str, Any]]:
    document = json.loads(OcsfReporter().render(audit))
    assert isinstance(document, list)
    for event in document:
        # The library's own class accepts every event...
        ComplianceFinding.model_validate(event)
        # ...and the event is exactly what the models hold: no attribute they do not know, no
        # value they would coerce, nothing dropped.
        assert AzureComplianceFinding.model_validate(event).model_dump(mode="json", exclude_none=True) == event
    return document


def test_the_models_are_ocsf_1x() -> None:
    assert OCSF_VERSION.startswith("1.")


def test_demo_events_are_compliance_findings_with_the_mapped_fields() -> None:
    demo = demo_result()
    found = events(demo)
    assert len(found) == len(demo.findings)
    checks = {c.id: c for c in demo.checks}
    for event, f in zip(found, demo.findings, strict=True):
        assert (event["class_uid"], event["category_uid"], event["activity_id"], event["type_uid"]) == (2003, 2, 1, 200301)
        assert event["metadata"]["version"] == OCSF_VERSION and event["metadata"]["profiles"] == ["cloud"]
        assert event["metadata"]["product"] == {"name": "amlaudit", "vendor_name": "amlaudit", "version": demo.tool["version"]}
        assert event["finding_info"]["uid"] == f.fingerprint and event["finding_info"]["title"] == f.title
        assert event["finding_info"]["desc"] == event["message"] == f.message
        check = checks[f.check_id]
        assert event["compliance"]["standards"] == [check.document]
        assert event["compliance"]["control"] == f.check_id and event["compliance"]["requirements"] == [check.source]
        assert event["remediation"] == {"desc": f.remediation, "references": [check.reference]}
        assert event["severity_id"] == {"medium": 3, "high": 4, "critical": 5}[f.severity]
        (resource,) = event["resources"]
        assert resource["uid"] == f.resource_id
        assert event["cloud"]["provider"] == "Azure"
        assert event["cloud"]["account"]["uid"] == resource["uid"].split("/")[2]
        assert event["unmapped"]["evidence"] == json.loads(json.dumps(f.evidence))
        assert event["status_id"] == 1 and event["status"] == "New" and event["status_code"] == f.status
    regions = [e["resources"][0].get("region") for e in found]
    assert any(regions)  # where the evidence names a region, the resource carries it


@pytest.mark.parametrize(("status", "status_id", "caption"), [
    ("pass", 1, "Pass"), ("fail", 3, "Fail"), ("error", 2, "Warning"), ("not_applicable", 99, "Not Applicable"),
    ("suppressed", 0, "Unknown"),
])
def test_status_maps_to_the_compliance_status(status: str, status_id: int, caption: str) -> None:
    c = rule("rule-a")
    (event,) = events(result([finding(c, status, rid("a"), "the message")], [c]))
    assert (event["compliance"]["status_id"], event["compliance"]["status"]) == (status_id, caption)
    assert event["compliance"]["status_code"] == status and event["compliance"]["status_detail"] == "the message"


@pytest.mark.parametrize(("severity", "severity_id", "caption"), [
    ("info", 1, "Informational"), ("low", 2, "Low"), ("medium", 3, "Medium"), ("high", 4, "High"),
    ("critical", 5, "Critical"),
])
def test_severity_maps_to_severity_id(severity: str, severity_id: int, caption: str) -> None:
    c = rule("rule-a", severity=severity)
    (event,) = events(result([finding(c, "fail", rid("a"))], [c]))
    assert (event["severity_id"], event["severity"]) == (severity_id, caption)


def test_resource_and_cloud_come_from_the_arm_id_and_time_from_the_run() -> None:
    c = rule("rule-a")
    subnet = rid("vnet-a/subnets/snet-b", "Microsoft.Network/virtualNetworks", rg="rg-net")
    (event,) = events(result([finding(c, "fail", subnet, evidence={"region": "westeurope"})], [c]))
    assert event["resources"] == [{"uid": subnet, "name": "vnet-a/snet-b", "type": "Microsoft.Network/virtualNetworks/subnets",
                                   "group": {"name": "rg-net"}, "region": "westeurope"}]
    assert event["cloud"]["region"] == "westeurope" and event["cloud"]["account"]["type"] == "Azure Subscription"
    assert (event["time"], event["time_dt"]) == (GENERATED_AT_MS, GENERATED_AT)
    assert event["metadata"]["uid"].endswith(str(GENERATED_AT_MS))


def test_a_finding_without_subject_has_no_resource_and_no_account() -> None:
    c = rule("rule-a")
    (event,) = events(result([finding(c, "error", "", "cannot verify: the check crashed")], [c]))
    assert "resources" not in event and event["cloud"] == {"provider": "Azure"}


def test_waived_findings_are_suppressed_and_the_baseline_sets_the_activity() -> None:
    annotated = annotated_demo()
    found = events(annotated)
    suppressed = [e for e in found if e["status_id"] == 3]
    assert len(suppressed) == 1 and suppressed[0]["status"] == "Suppressed"
    assert suppressed[0]["unmapped"]["waiver"]["expires"] == WAIVER["expires"]
    assert suppressed[0]["compliance"]["status_id"] == 3  # still a failed control
    updates = [e for e in found if e["activity_id"] == 2]
    assert len(updates) == 2 and {e["type_uid"] for e in updates} == {200302}
    assert all(e["unmapped"]["baseline"] == "persisting" for e in updates)
    assert {e["unmapped"]["baseline"] for e in found if e["activity_id"] == 1} == {"new"}


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_names_are_carried_as_data(name: str) -> None:
    c = rule("rule-a")
    (event,) = events(result([finding(c, "fail", rid(name), name, {"tag": name})], [c]))
    assert event["resources"][0]["uid"] == rid(name) and event["message"] == name
    assert event["unmapped"]["evidence"] == {"tag": name}


def test_an_event_the_models_reject_stops_the_render(monkeypatch: pytest.MonkeyPatch) -> None:
    built = ocsf_report.event

    def broken(*args: Any) -> dict[str, Any]:
        event = built(*args)
        event["severity_id"] = 7  # not an OCSF severity
        return event

    monkeypatch.setattr(ocsf_report, "event", broken)
    c = rule("rule-a")
    with pytest.raises(pydantic.ValidationError):
        OcsfReporter().render(result([finding(c, "fail", rid("a"))], [c]))
