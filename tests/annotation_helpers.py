"""Shared data for the waiver, baseline and diff tests: the bundled demo estate and its findings.

The demo is a realistic four-subscription estate (fixtures/build_demo.py); tests change it the
way an estate changes between two nightly runs (a rule fixed, a compute deleted, a key vault
that became unreadable) and write it back as a snapshot file for `amlaudit scan --snapshot`.
"""

from __future__ import annotations

import copy
import gzip
import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from amlaudit.auditor.cli import main
from amlaudit.auditor.findings import AuditResult
from amlaudit.auditor.pipeline import audit_snapshot
from amlaudit.auditor.snapshot import parse_snapshot
from amlaudit.reports.json_report import JsonReporter

DATA = Path(__file__).resolve().parent / "data" / "baselines"
OLD_FINDINGS = DATA / "findings-0.1.0-demo.json"  # written by amlaudit 0.1.0, before waivers and baselines

FRAUD_SUB = "9b8e7d6c-5a4b-4c3d-8e2f-1a0b9c8d7e02"
FRAUD_WS = (f"/subscriptions/{FRAUD_SUB}/resourceGroups/rg-fraud-ml/providers/"
            "Microsoft.MachineLearningServices/workspaces/mlw-fraud-detection")
CPU_SMALL = f"{FRAUD_WS}/computes/cpu-fraud-small"  # fails compute-remote-login (AllowSshInbound in nsg-fraud-small)
CPU_TRAIN = f"{FRAUD_WS}/computes/cpu-fraud-train"
AKS_SCORING = f"{FRAUD_WS}/computes/aks-fraud-scoring"
NSG_SMALL = (f"/subscriptions/{FRAUD_SUB}/resourceGroups/rg-fraud-network/providers/"
             "Microsoft.Network/networkSecurityGroups/nsg-fraud-small")
KV_FRAUD = f"/subscriptions/{FRAUD_SUB}/resourceGroups/rg-fraud-ml/providers/Microsoft.KeyVault/vaults/kv-fraud-detect"
KV_UNREADABLE = ("/subscriptions/c4d5e6f7-0a1b-4c2d-9e3f-5a6b7c8d9e03/resourceGroups/rg-marketing-ml/providers/"
                 "Microsoft.KeyVault/vaults/kv-mkt-sandbox")  # 403 in the demo: its key vault checks are `error`


@cache
def _demo_bytes() -> bytes:
    return gzip.decompress(resources.files("amlaudit.fixtures").joinpath("demo.json.gz").read_bytes())


def demo_document() -> dict[str, Any]:
    """A fresh, mutable copy of the demo snapshot document."""
    document: dict[str, Any] = json.loads(_demo_bytes())
    return document


@cache
def _demo_result() -> AuditResult:
    return audit_snapshot(parse_snapshot(demo_document(), "demo estate"))


def demo_result() -> AuditResult:
    """The demo's audit result (computed once; stages return new results, never change this one)."""
    return _demo_result()


def current_findings() -> dict[str, Any]:
    """The demo's findings.json as this version writes it: "yesterday" for tests in which nothing
    changed between two runs but what the test itself changes. (`old_findings()` is the same
    estate as amlaudit 0.1.0 judged it, before issue 7 corrected the catalog.)"""
    document: dict[str, Any] = json.loads(JsonReporter().render(demo_result()))
    return document


def current_findings_file(folder: Path) -> Path:
    return write_json(folder / "yesterday-findings.json", current_findings())


def old_findings() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(OLD_FINDINGS.read_text())
    return document


def resource(document: dict[str, Any], resource_id: str) -> dict[str, Any]:
    found = [r for r in document["resources"] if r["id"].lower() == resource_id.lower()]
    assert len(found) == 1, resource_id
    return found[0]


def remove_resource(document: dict[str, Any], resource_id: str) -> None:
    before = len(document["resources"])
    document["resources"] = [r for r in document["resources"] if r["id"].lower() != resource_id.lower()]
    assert len(document["resources"]) == before - 1, resource_id


def add_collection_error(document: dict[str, Any], scope: str, operation: str = "Microsoft.Resources/read") -> None:
    document["errors"].append({"scope": scope, "operation": operation, "status": 403, "code": "AuthorizationFailed",
                               "message": "The client does not have authorization to perform this action."})


def close_public_ssh(document: dict[str, Any]) -> None:
    """The fix for compute-remote-login on cpu-fraud-small: its NSG's AllowSshInbound becomes Deny."""
    nsg = resource(document, NSG_SMALL)
    rules = [r for r in nsg["properties"]["securityRules"] if r["name"] == "AllowSshInbound"]
    assert len(rules) == 1
    rules[0]["properties"]["access"] = "Deny"


def write_json(path: Path, document: Any) -> Path:
    path.write_text(json.dumps(document))
    return path


def finding(document: dict[str, Any], check_id: str, resource_id: str) -> dict[str, Any]:
    found = [f for f in document["findings"] if f["check_id"] == check_id and f["resource_id"].lower() == resource_id.lower()]
    assert len(found) == 1, (check_id, resource_id)
    return found[0]


def run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def assert_one_line_error(err: str, *fragments: str) -> None:
    assert "Traceback" not in err
    lines = err.strip("\n").split("\n")
    assert len(lines) == 1 and lines[0].startswith("amlaudit: error: "), err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def copy_of(document: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(document)
