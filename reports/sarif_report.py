"""`findings.sarif`: SARIF 2.1.0 for GitHub code scanning and the Azure DevOps SARIF viewer.

One run; one rule per check; one result per finding that needs attention. The choices,
made for what GitHub code scanning does with a file (docs/formats.md has the detail):

* Results: `fail` findings (`kind: "fail"`, the check's level) and `error` findings
  (`kind: "review"`, level `none`: the control could not be verified). An `error` keeps
  the fingerprint of the failure it may be hiding, so an alert stays open while its
  subject cannot be seen and is not closed as fixed. Passing and not-applicable
  findings are left out: GitHub ignores `kind` and would open an alert for each, and
  rejects a run of more than 25,000 results.
* Locations: GitHub drops a result without a physical location, and the estate has no
  source file. Each result's physical location is the pseudo path
  `azure/<ARM id without its leading slash>` (segments percent-encoded), line 1: stable
  across runs, readable in the alert list, never a file of the repository. The ARM id is
  also the result's logical location (`kind: "resource"`).
* Identity: `partialFingerprints.primaryLocationLineHash` (the only one GitHub reads) and
  `amlaudit/v1` carry the finding's fingerprint, so alerts follow a check and subject
  across runs, whatever the message says.
* Waived failures carry `suppressions` (`kind: "external"`, `status: "accepted"`, the
  reason as justification, owner/expiry/selector in properties). GitHub does not act on
  suppressions itself; the advanced-security/dismiss-alerts action dismisses them.
* With `--baseline`, `baselineState` is `new` or `unchanged`. Resolved findings are not
  written as `absent` results: GitHub would open alerts for them; it closes an alert
  when its result is no longer uploaded.

Collection errors (403s, timeouts) are tool execution notifications of the invocation.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

import orjson

from amlaudit.auditor.check import SOURCE_URL, Check
from amlaudit.auditor.findings import AuditResult, Finding
from amlaudit.reports.common import (
    collection_error_status,
    is_accepted,
    json_default,
    markdown_text,
    severity_terms,
    subject,
)
from amlaudit.reports.html_report import reference_link, safe_http_url

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"
PSEUDO_ROOT = "azure"
FINGERPRINT_KEY = "amlaudit/v1"
RULE_TAGS = ("security", "azure", "azure-machine-learning", "network-isolation")
# GitHub: rule shortDescription and fullDescription are limited to 1,024 characters.
_DESCRIPTION_LIMIT = 1024
_EMBEDDED_LINK_SYNTAX = re.compile(r"([\\\[\]])")


def message_text(text: str) -> str:
    """Plain SARIF message text: `[`, `]` and `\\` escaped, so Azure text never forms an embedded link."""
    return _EMBEDDED_LINK_SYNTAX.sub(r"\\\1", text)


def _limited(text: str, limit: int = _DESCRIPTION_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def pseudo_path(resource_id: str) -> str:
    """The result's physical location: `azure/subscriptions/…/<name>`, each segment percent-encoded."""
    trimmed = resource_id.strip().strip("/")
    if not trimmed:
        return f"{PSEUDO_ROOT}/no-subject"
    return "/".join([PSEUDO_ROOT, *(quote(part, safe="") for part in trimmed.split("/"))])


def _help(check: Check) -> dict[str, str]:
    source = f"{check.document}: {check.source}"
    text = (f"{check.title}\n\nApplies when: {check.applies}\nPasses when: {check.passes}\n\nWhy: {check.rationale}\n\n"
            f"Remediation: {check.remediation}\n\nSource: {source} ({check.reference})")
    link = safe_http_url(check.reference)
    source_md = f"[{markdown_text(source)}]({link})" if link else markdown_text(f"{source} ({check.reference})")
    markdown = (f"**{markdown_text(check.title)}**\n\n"
                f"**Applies when:** {markdown_text(check.applies)}\n\n**Passes when:** {markdown_text(check.passes)}\n\n"
                f"**Why:** {markdown_text(check.rationale)}\n\n**Remediation:** {markdown_text(check.remediation)}\n\n"
                f"**Source:** {source_md}")
    return {"text": text, "markdown": markdown}


def _full_description(check: Check) -> str:
    parts = [f"Passes when: {check.passes.rstrip('.')}." if check.passes else "", check.rationale]
    return " ".join(p for p in parts if p) or check.title


def rule(check: Check) -> dict[str, Any]:
    terms = severity_terms(check.severity)
    properties: dict[str, Any] = {
        "tags": [*RULE_TAGS, f"severity:{check.severity}"],
        "precision": "high",
        "problem.severity": terms.problem_severity,
        "severity": check.severity,
        "subject": check.subject,
        "source": f"{check.document}: {check.source}",
    }
    if terms.security_severity is not None:
        properties["security-severity"] = terms.security_severity
    return {
        "id": check.id,
        "name": _limited(check.title, 255),
        "shortDescription": {"text": _limited(check.title)},
        "fullDescription": {"text": _limited(_full_description(check))},
        "help": _help(check),
        "helpUri": safe_http_url(check.reference) or SOURCE_URL,
        "defaultConfiguration": {"level": terms.sarif_level},
        "properties": properties,
    }


def _uncatalogued(finding: Finding) -> Check:
    """A rule for findings of a check the result's catalog does not list (what the findings say of it)."""
    reference = reference_link(finding.reference)
    return Check(id=finding.check_id, title=finding.title, severity=finding.severity, subject="",  # type: ignore[arg-type]
                 applies="", passes="", source=reference.text, rationale="", remediation=finding.remediation,
                 function=lambda estate, settings: (), reference=reference.url or finding.reference, document="")


def _result(finding: Finding, rule_index: int) -> dict[str, Any]:
    where = subject(finding.resource_id)
    failing = finding.status == "fail"
    text = f"{where.name}: {finding.message}" if finding.resource_id else finding.message
    result: dict[str, Any] = {
        "ruleId": finding.check_id,
        "ruleIndex": rule_index,
        "kind": "fail" if failing else "review",
        "level": severity_terms(finding.severity).sarif_level if failing else "none",
        "message": {"text": message_text(text)},
        "locations": [{
            "physicalLocation": {"artifactLocation": {"uri": pseudo_path(finding.resource_id)}, "region": {"startLine": 1}},
            "logicalLocations": [{"name": where.name, "fullyQualifiedName": finding.resource_id or where.name,
                                  "kind": "resource"}],
        }],
        "partialFingerprints": {"primaryLocationLineHash": f"{finding.fingerprint}:1", FINGERPRINT_KEY: finding.fingerprint},
        "properties": {"status": finding.status, "severity": finding.severity, "resourceId": finding.resource_id,
                       "evidence": finding.evidence},
    }
    if finding.baseline in ("new", "persisting"):
        result["baselineState"] = "new" if finding.baseline == "new" else "unchanged"
    if is_accepted(finding):
        waiver = finding.waiver or {}
        result["suppressions"] = [{
            "kind": "external",
            "status": "accepted",
            "justification": str(waiver.get("reason") or ""),
            "properties": {key: waiver[key] for key in ("owner", "expires", "check", "selector") if key in waiver},
        }]
    return result


def _notification(error: dict[str, Any]) -> dict[str, Any]:
    scope = str(error.get("scope") or "")
    status = collection_error_status(error)
    what = error.get("operation") or "the resource"
    text = f"could not read {what} on {scope or 'an unknown scope'}" + (f" ({status})" if status else "")
    if error.get("message"):
        text += f": {error['message']}"
    return {"level": "error", "message": {"text": message_text(text)},
            "properties": {key: value for key, value in error.items()}}


def sarif_log(result: AuditResult) -> dict[str, Any]:
    checks: dict[str, Check] = {c.id: c for c in result.checks}
    reported = reported_findings(result.findings)
    for finding in reported:
        checks.setdefault(finding.check_id, _uncatalogued(finding))
    index = {check_id: i for i, check_id in enumerate(checks)}
    tool_name = result.tool.get("name", "amlaudit")
    version = result.tool.get("version", "")
    driver: dict[str, Any] = {"name": tool_name, "rules": [rule(c) for c in checks.values()]}
    if version:
        driver.update(version=version, semanticVersion=version)
    return {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [{
            "tool": {"driver": driver},
            "invocations": [{
                "executionSuccessful": True,
                "endTimeUtc": result.generated_at,
                "toolExecutionNotifications": [_notification(e) for e in result.errors],
            }],
            "results": [_result(f, index[f.check_id]) for f in reported],
            "properties": {"summary": result.summary, "snapshotCollectedAt": result.snapshot_collected_at,
                           "snapshotSource": result.snapshot_source},
        }],
    }


def reported_findings(findings: Iterable[Finding]) -> list[Finding]:
    """The findings that become results (fail and error), in the run's order."""
    return [f for f in findings if f.status in ("fail", "error")]


class SarifReporter:
    filename = "findings.sarif"

    def render(self, result: AuditResult) -> bytes:
        return orjson.dumps(sarif_log(result), default=json_default, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)
