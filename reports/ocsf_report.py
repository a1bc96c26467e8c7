"""`findings.ocsf.json`: every finding as an OCSF Compliance Finding (class 2003), for SIEMs.

Every event is validated by py-ocsf-models (Prowler's pydantic models of the OCSF
schema; `py_ocsf_models.OCSF_VERSION` names the schema version they model) before it is
written, so a value of the wrong type, an unknown enum member or a missing required
attribute stops the run instead of reaching a SIEM. The events are written as built,
without null attributes (tests check that what the models would write back is the same:
nothing the models do not know is written).

The library's models lack a few attributes the OCSF schema defines and this report
fills: the cloud profile's `cloud` object on the event (Azure, the subscription as the
account) and `status`, `status_code`, `status_detail` on the `compliance` object. Two
subclasses below add exactly those, typed with the library's own objects.

One JSON array of events: Microsoft Sentinel's Logs Ingestion API takes a JSON array
per call (the azure-monitor-ingestion client splits a list into 1 MB calls), and
`jq -c '.[]'` turns it into one event a line for shippers that want NDJSON. Amazon
Security Lake takes neither: a custom source must write Parquet (see docs/formats.md).
"""

from __future__ import annotations

from datetime import datetime, timezone
from functools import cache
from typing import Any

import orjson
from py_ocsf_models import OCSF_VERSION
from py_ocsf_models.events.findings.activity_id import ActivityID
from py_ocsf_models.events.findings.category_uid import CategoryUID
from py_ocsf_models.events.findings.class_uid import ClassUID
from py_ocsf_models.events.findings.compliance_finding import ComplianceFinding
from py_ocsf_models.events.findings.compliance_finding_type_id import ComplianceFindingTypeID
from py_ocsf_models.events.findings.severity_id import SeverityID
from py_ocsf_models.events.findings.status_id import StatusID
from py_ocsf_models.objects.account import TypeID as AccountTypeID
from py_ocsf_models.objects.cloud import Cloud
from py_ocsf_models.objects.compliance import Compliance
from py_ocsf_models.objects.compliance_status import StatusID as ComplianceStatusID
from pydantic import TypeAdapter

from amlaudit.auditor.check import Check
from amlaudit.auditor.findings import AuditResult, Finding
from amlaudit.reports.common import is_accepted, json_default, severity_terms, subject
from amlaudit.reports.html_report import reference_link

CLOUD_PROVIDER = "Azure"
# Our status -> the compliance object's normalized status. `error` is OCSF's "Warning":
# "the compliance check did not yield a result due to missing information".
COMPLIANCE_STATUS: dict[str, tuple[ComplianceStatusID, str]] = {
    "pass": (ComplianceStatusID.Pass, "Pass"),
    "fail": (ComplianceStatusID.Fail, "Fail"),
    "error": (ComplianceStatusID.Warning, "Warning"),
    "not_applicable": (ComplianceStatusID.Other, "Not Applicable"),
}


class AzureCompliance(Compliance):
    """The compliance object with the schema's status caption, code and detail."""

    status: str | None = None
    status_code: str | None = None
    status_detail: str | None = None


class AzureComplianceFinding(ComplianceFinding):
    """A Compliance Finding with the cloud profile (metadata.profiles = ["cloud"])."""

    cloud: Cloud
    compliance: AzureCompliance


_EVENTS = TypeAdapter(list[AzureComplianceFinding])  # built once: making the validator costs more than 100 events
VALIDATION_BATCH = 1000
_NEW, _SUPPRESSED = int(StatusID.New), int(StatusID.Suppressed)
_CATEGORY_UID, _CATEGORY_NAME = int(CategoryUID.Findings), "Findings"
_CLASS_UID, _CLASS_NAME = int(ClassUID.ComplianceFinding), "Compliance Finding"
_ACCOUNT_TYPE = int(AccountTypeID.Other)  # the library's account types have no Azure subscription


def _epoch_ms(timestamp: str) -> int:
    moment = datetime.fromisoformat(timestamp)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp() * 1000)


@cache
def _severity(severity: str) -> tuple[int, str]:
    severity_id = SeverityID(severity_terms(severity).ocsf_severity_id)
    return int(severity_id), severity_id.name


def _region(finding: Finding) -> str | None:
    region = finding.evidence.get("region")
    return region if isinstance(region, str) and region else None


@cache
def _activity(baseline: str | None) -> tuple[int, str, int]:
    """(activity_id, activity_name, type_uid): a finding the baseline already had is an update."""
    activity = ActivityID.Update if baseline == "persisting" else ActivityID.Create
    return int(activity), activity.name, int(ComplianceFindingTypeID(200300 + int(activity)))


def _check_parts(finding: Finding, check: Check | None) -> dict[str, Any]:
    """What every finding of one check shares: the analytic, the standard, the remediation."""
    reference = reference_link(finding.reference)
    document = check.document if check is not None else reference.text.split(":", 1)[0]
    requirement = check.source if check is not None else reference.text
    remediation: dict[str, Any] = {"desc": finding.remediation}
    if reference.url:
        remediation["references"] = [reference.url]
    return {
        "src_url": reference.url,
        "analytic": {"uid": finding.check_id, "name": finding.title, "type": "Rule", "type_id": 1},
        "standards": [document],
        "requirements": [requirement],
        "remediation": remediation,
    }


def _resource(finding: Finding, region: str | None) -> dict[str, Any]:
    where = subject(finding.resource_id)
    resource: dict[str, Any] = {"uid": finding.resource_id, "name": where.name}
    if where.type:
        resource["type"] = where.type
    if where.resource_group:
        resource["group"] = {"name": where.resource_group}
    if region:
        resource["region"] = region
    return resource


def _cloud(finding: Finding, region: str | None) -> dict[str, Any]:
    cloud: dict[str, Any] = {"provider": CLOUD_PROVIDER}
    subscription = subject(finding.resource_id).subscription
    if subscription:
        cloud["account"] = {"uid": subscription, "name": subscription, "type": "Azure Subscription",
                            "type_id": _ACCOUNT_TYPE}
    if region:
        cloud["region"] = region
    return cloud


def event(finding: Finding, parts: dict[str, Any], run: dict[str, Any]) -> dict[str, Any]:
    """One finding as an OCSF Compliance Finding: a plain dict, written without null attributes."""
    severity_id, severity_caption = _severity(finding.severity)
    compliance_id, compliance_caption = COMPLIANCE_STATUS.get(finding.status, (ComplianceStatusID.Unknown, "Unknown"))
    accepted = is_accepted(finding)
    activity_id, activity_name, type_uid = _activity(finding.baseline)
    region = _region(finding)
    unmapped: dict[str, Any] = {"evidence": finding.evidence, "reference": finding.reference}
    if finding.waiver is not None:
        unmapped["waiver"] = finding.waiver
    if finding.baseline is not None:
        unmapped["baseline"] = finding.baseline
    finding_info: dict[str, Any] = {"uid": finding.fingerprint, "title": finding.title, "desc": finding.message,
                                    "analytic": parts["analytic"]}
    if parts["src_url"]:
        finding_info["src_url"] = parts["src_url"]
    document: dict[str, Any] = {
        "activity_id": activity_id,
        "activity_name": activity_name,
        "category_uid": _CATEGORY_UID,
        "category_name": _CATEGORY_NAME,
        "class_uid": _CLASS_UID,
        "class_name": _CLASS_NAME,
        "type_uid": type_uid,
        "type_name": f"Compliance Finding: {activity_name}",
        "time": run["time"],
        "time_dt": run["time_dt"],
        "severity_id": severity_id,
        "severity": severity_caption,
        "status_id": _SUPPRESSED if accepted else _NEW,
        "status": "Suppressed" if accepted else "New",
        "status_code": finding.status,
        "status_detail": finding.message,
        "message": finding.message,
        "metadata": {
            "version": OCSF_VERSION,
            "product": run["product"],
            "profiles": ["cloud"],
            "event_code": finding.check_id,
            "uid": f"{finding.fingerprint}-{run['time']}",  # this finding in this run
        },
        "finding_info": finding_info,
        "compliance": {
            "standards": parts["standards"],
            "control": finding.check_id,
            "requirements": parts["requirements"],
            "status_id": compliance_id,
            "status": compliance_caption,
            "status_code": finding.status,
            "status_detail": finding.message,
        },
        "remediation": parts["remediation"],
        "cloud": _cloud(finding, region),
        "unmapped": unmapped,
    }
    if finding.resource_id:
        document["resources"] = [_resource(finding, region)]
    return document


def ocsf_events(result: AuditResult) -> list[dict[str, Any]]:
    """Every finding as an event, in the run's order, validated by the models (ValidationError if not)."""
    time_ms = _epoch_ms(result.generated_at)
    tool = result.tool.get("name", "amlaudit")
    product = {"name": tool, "vendor_name": tool}
    if result.tool.get("version"):
        product["version"] = result.tool["version"]
    run = {
        "time": time_ms,
        # As pydantic writes a UTC datetime, so a validated event reads back the same.
        "time_dt": datetime.fromtimestamp(time_ms / 1000, tz=timezone.utc).isoformat().replace("+00:00", "Z"),
        "product": product,
    }
    checks = {c.id: c for c in result.checks}
    shared: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    events = []
    for finding in result.findings:
        key = (finding.check_id, finding.title, finding.reference, finding.remediation)
        parts = shared.get(key)
        if parts is None:
            parts = shared[key] = _check_parts(finding, checks.get(finding.check_id))
        events.append(event(finding, parts, run))
    # A batch at a time: the models' objects of one batch are dropped before the next is made
    # (all 25,000 at once held 200 MB more, and the memory's page faults cost CPU time too).
    for start in range(0, len(events), VALIDATION_BATCH):
        _EVENTS.validate_python(events[start:start + VALIDATION_BATCH])
    return events


class OcsfReporter:
    filename = "findings.ocsf.json"

    def render(self, result: AuditResult) -> bytes:
        # The validated events are written as built (the models only check them: what they would
        # write back is the same, tests compare). Evidence is plain JSON by contract; a stray set
        # or address object is written as findings.json writes it.
        return orjson.dumps(ocsf_events(result), default=json_default, option=orjson.OPT_APPEND_NEWLINE)
