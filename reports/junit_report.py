"""`junit.xml`: the audit as test results, for Azure Pipelines, GitLab and Jenkins test tabs.

One `<testsuite>` per check (catalog order), one `<testcase>` per subject it judged:
`classname` is the check id, `name` the subject's readable name and ARM id. Outcomes:

| finding               | testcase                                                           |
|-----------------------|--------------------------------------------------------------------|
| pass                  | passed (no child element)                                          |
| fail                  | `<failure message=… type=severity>`: evidence and remediation      |
| fail, waived          | `<skipped message="accepted until …">`: accepted risk does not     |
|                       | turn a pipeline's test tab red                                     |
| error (cannot verify) | `<error message=… type="cannot verify">`                           |
| not_applicable        | `<skipped message="not applicable: …">`                            |
| any other status      | `<error type="unknown status">`: a state this version does not     |
|                       | know is never shown as a pass                                      |

Collection errors (a 403, a timeout) form one more suite, `amlaudit collection`, with
an `<error>` case each, so an incomplete audit never looks green.

Built with the standard library's ElementTree (it escapes every attribute and text);
tests read the file back with junitparser, the parser the CI plug-ins' format follows.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import Counter
from datetime import datetime, timezone
from typing import Any

from amlaudit.auditor.findings import AuditResult, Finding
from amlaudit.reports.common import collection_error_status, evidence_text, is_accepted, subject, waiver_note

COLLECTION_SUITE = "amlaudit collection"
# XML 1.0 cannot carry most C0 controls, not even escaped: Azure text holding one would make
# the whole file unreadable, so each becomes U+FFFD.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def xml_text(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def _details(finding: Finding) -> str:
    parts = [finding.message]
    if finding.evidence:
        parts.append(f"Evidence: {evidence_text(finding.evidence)}")
    if finding.status == "fail" and finding.remediation:
        parts.append(f"Remediation: {finding.remediation}")
    parts.append(f"Reference: {finding.reference}")
    parts.append(f"Fingerprint: {finding.fingerprint}")
    if finding.baseline:
        parts.append(f"Baseline: {finding.baseline}")
    return "\n".join(parts)


def outcome(finding: Finding) -> tuple[str, dict[str, str]] | None:
    """The testcase's child element (tag, attributes), or None for a pass."""
    if finding.status == "pass":
        return None
    if is_accepted(finding):
        return "skipped", {"message": waiver_note(finding.waiver or {})}
    if finding.status == "fail":
        return "failure", {"message": finding.message, "type": finding.severity}
    if finding.status == "not_applicable":
        return "skipped", {"message": f"not applicable: {finding.message}"}
    if finding.status == "error":
        return "error", {"message": finding.message, "type": "cannot verify"}
    return "error", {"message": f"status {finding.status!r} is not one this report knows: {finding.message}",
                     "type": "unknown status"}


_COUNTED = {"failure": "failures", "error": "errors", "skipped": "skipped"}


def _case(suite: ET.Element, name: str, classname: str, child: tuple[str, dict[str, str]] | None, text: str | None,
          counts: Counter[str]) -> None:
    case = ET.SubElement(suite, "testcase", name=xml_text(name), classname=xml_text(classname), time="0")
    counts["tests"] += 1
    if child is not None:
        tag, attributes = child
        element = ET.SubElement(case, tag, {key: xml_text(value) for key, value in attributes.items()})
        element.text = xml_text(text) if text else None
        counts[_COUNTED[tag]] += 1


def junit_timestamp(generated_at: str) -> str:
    """The run's time as the JUnit schema spells `timestamp`: ISO 8601 in UTC without a zone suffix."""
    try:
        moment = datetime.fromisoformat(generated_at)
    except ValueError:
        return ""
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment.isoformat(timespec="seconds")


def _suite(root: ET.Element, name: str, timestamp: str) -> tuple[ET.Element, Counter[str]]:
    suite = ET.SubElement(root, "testsuite", name=xml_text(name))
    if timestamp:
        suite.set("timestamp", timestamp)
    return suite, Counter()


def _close(suite: ET.Element, counts: Counter[str], totals: Counter[str]) -> None:
    for key in ("tests", "failures", "errors", "skipped"):
        suite.set(key, str(counts[key]))
    suite.set("time", "0")
    totals.update(counts)


def junit_document(result: AuditResult) -> ET.Element:
    by_check: dict[str, list[Finding]] = {c.id: [] for c in result.checks}
    for finding in result.findings:
        by_check.setdefault(finding.check_id, []).append(finding)
    tool = f"{result.tool.get('name', 'amlaudit')} {result.tool.get('version', '')}".strip()
    root = ET.Element("testsuites", name=xml_text(tool))
    totals: Counter[str] = Counter()
    timestamp = junit_timestamp(result.generated_at)
    for check_id, findings in by_check.items():
        suite, counts = _suite(root, check_id, timestamp)
        for finding in findings:
            child = outcome(finding)
            _case(suite, subject(finding.resource_id).label, finding.check_id, child,
                  _details(finding) if child is not None else None, counts)
        _close(suite, counts, totals)
    if result.errors:
        suite, counts = _suite(root, COLLECTION_SUITE, timestamp)
        for error in result.errors:
            _case(suite, subject(str(error.get("scope") or "")).label, COLLECTION_SUITE, _collection_error(error),
                  str(error.get("message") or ""), counts)
        _close(suite, counts, totals)
    for key in ("tests", "failures", "errors", "skipped"):
        root.set(key, str(totals[key]))
    root.set("time", "0")
    return root


def _collection_error(error: dict[str, Any]) -> tuple[str, dict[str, str]]:
    status = collection_error_status(error)
    what = error.get("operation") or "the resource"
    return "error", {"message": f"could not read {what}" + (f": {status}" if status else ""), "type": "collection error"}


class JunitReporter:
    filename = "junit.xml"
    # Rendered in the scan's process: 0.25 s, and the worker (auditor/render_workers.py) is busy
    # with the workbook and the CSV, which share their rows there.
    render_apart = False

    def render(self, result: AuditResult) -> bytes:
        return ET.tostring(junit_document(result), encoding="utf-8", xml_declaration=True) + b"\n"
