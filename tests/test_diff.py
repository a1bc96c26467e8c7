"""`amlaudit diff OLD NEW`: categories by fingerprint, the unverified rule, exit statuses, --json shape."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from amlaudit.auditor.diff import DIFF_CATEGORIES, diff_document, diff_findings
from amlaudit.auditor.findings import fingerprint
from amlaudit.auditor.findings_file import parse_findings_document
from tests.annotation_helpers import (
    AKS_SCORING, CPU_SMALL, CPU_TRAIN, FRAUD_WS, OLD_FINDINGS, assert_one_line_error, finding, old_findings, run, write_json,
)

REMOTE_LOGIN = fingerprint("compute-remote-login", CPU_SMALL)
ENTRY_KEYS = {"fingerprint", "check_id", "resource_id", "severity", "title", "old_status", "new_status"}


def diff_json(capsys: pytest.CaptureFixture[str], old: Path, new: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    status, stdout, err = run(capsys, "diff", old, new, "--json", *extra)
    assert err == ""
    return status, json.loads(stdout)


def fingerprints(document: dict[str, Any], category: str) -> list[str]:
    return [e["fingerprint"] for e in document["findings"][category]]


def test_a_file_against_itself_is_all_persisting_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    status, document = diff_json(capsys, OLD_FINDINGS, OLD_FINDINGS)
    assert status == 0
    assert set(document) == {"format", "old", "new", "fail_on", "exit_status", "counts", "findings"}
    assert document["format"] == "amlaudit.diff/v1" and document["exit_status"] == 0 and document["fail_on"] == "low"
    assert document["old"] == {"file": str(OLD_FINDINGS), "generated_at": old_findings()["generated_at"], "tool_version": "0.1.0"}
    assert document["counts"] == {"new": 0, "persisting": 23, "resolved": 0, "unverified": 0, "changed": 0}
    assert set(document["findings"]) == set(DIFF_CATEGORIES)
    entry = document["findings"]["persisting"][0]
    assert set(entry) == ENTRY_KEYS | {"changed"} and entry["changed"] == []
    assert (entry["old_status"], entry["new_status"]) == ("fail", "fail")


def test_a_new_failure_exits_1_and_fail_on_filters_by_severity(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = old_findings()
    finding(old, "compute-remote-login", CPU_SMALL)["status"] = "pass"
    old_path = write_json(tmp_path / "old.json", old)
    status, document = diff_json(capsys, old_path, OLD_FINDINGS)
    assert status == 1 and document["exit_status"] == 1
    assert fingerprints(document, "new") == [REMOTE_LOGIN]
    assert document["findings"]["new"][0] | {"title": ""} == {
        "fingerprint": REMOTE_LOGIN, "check_id": "compute-remote-login", "resource_id": CPU_SMALL, "severity": "medium",
        "title": "", "old_status": "pass", "new_status": "fail"}
    # compute-remote-login is medium: with --fail-on high it does not fail the diff.
    status, document = diff_json(capsys, old_path, OLD_FINDINGS, "--fail-on", "high")
    assert status == 0 and fingerprints(document, "new") == [REMOTE_LOGIN]


def test_a_subject_new_in_NEW_and_failing_is_new(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = old_findings()
    old["findings"] = [f for f in old["findings"] if f["fingerprint"] != REMOTE_LOGIN]
    status, document = diff_json(capsys, write_json(tmp_path / "old.json", old), OLD_FINDINGS)
    assert status == 1 and document["findings"]["new"][0]["old_status"] == "absent"


def test_a_new_failure_waived_in_NEW_is_listed_but_does_not_fail_the_diff(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = old_findings()
    finding(old, "compute-remote-login", CPU_SMALL)["status"] = "pass"
    new = old_findings()
    waiver = {"entry": 1, "check": "compute-remote-login", "resource": CPU_SMALL, "reason": "CHG-1042", "owner": "netops",
              "expires": "2999-01-01"}
    finding(new, "compute-remote-login", CPU_SMALL)["waiver"] = waiver
    status, document = diff_json(capsys, write_json(tmp_path / "old.json", old), write_json(tmp_path / "new.json", new))
    assert status == 0
    assert fingerprints(document, "new") == [REMOTE_LOGIN] and document["findings"]["new"][0]["waiver"] == waiver
    status, stdout, _ = run(capsys, "diff", tmp_path / "old.json", tmp_path / "new.json")
    assert status == 0 and "waived until 2999-01-01" in stdout


def test_resolved_and_unverified_follow_what_NEW_could_verify(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    new = old_findings()
    finding(new, "compute-remote-login", CPU_SMALL)["status"] = "pass"  # fixed
    batch = finding(new, "compute-batch-inbound", CPU_TRAIN)
    new["findings"].remove(batch)  # gone, but NEW could not read the workspace's computes
    new["errors"].append({"scope": f"{FRAUD_WS}/computes", "operation": "Microsoft.MachineLearningServices/workspaces/computes/read",
                          "status": 403, "code": "AuthorizationFailed", "message": "denied"})
    cidr = finding(new, "aks-service-cidr", AKS_SCORING)
    cidr["status"], cidr["message"] = "error", "cannot verify: the cluster could not be read"
    status, document = diff_json(capsys, OLD_FINDINGS, write_json(tmp_path / "new.json", new))
    assert status == 0
    assert fingerprints(document, "resolved") == [REMOTE_LOGIN]
    unverified = {e["check_id"]: e["unverified_reason"] for e in document["findings"]["unverified"]}
    assert unverified == {
        "compute-batch-inbound": f"collection error at {FRAUD_WS}/computes: could not be read (HTTP 403 AuthorizationFailed: denied)",
        "aks-service-cidr": "cannot verify now: cannot verify: the cluster could not be read",
    }
    assert document["counts"]["persisting"] == 20 and document["counts"]["changed"] == 0


def test_a_NEW_file_without_the_check_in_its_catalog_leaves_its_failures_unverified(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    new = old_findings()
    new["findings"] = [f for f in new["findings"] if f["check_id"] != "compute-remote-login"]
    new["checks"] = [c for c in new["checks"] if c["id"] != "compute-remote-login"]
    _, document = diff_json(capsys, OLD_FINDINGS, write_json(tmp_path / "new.json", new))
    assert [(e["check_id"], e["unverified_reason"]) for e in document["findings"]["unverified"]] == [
        ("compute-remote-login", "check compute-remote-login did not run in this audit")]
    assert document["findings"]["resolved"] == []


def test_changed_lists_status_and_evidence_changes_not_told_elsewhere(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    new = old_findings()
    moved = finding(new, "compute-remote-login", CPU_SMALL)
    moved["evidence"] = dict(moved["evidence"], region="northeurope")  # still failing, evidence moved
    passing = next(f for f in new["findings"] if f["status"] == "pass")
    passing["status"] = "error"  # a pass that can no longer be verified
    status, document = diff_json(capsys, OLD_FINDINGS, write_json(tmp_path / "new.json", new))
    assert status == 0
    changed = {e["fingerprint"]: e for e in document["findings"]["changed"]}
    assert set(changed) == {REMOTE_LOGIN, passing["fingerprint"]}
    assert changed[REMOTE_LOGIN]["changed"] == ["evidence"] and changed[passing["fingerprint"]]["changed"] == ["status"]
    assert (changed[passing["fingerprint"]]["old_status"], changed[passing["fingerprint"]]["new_status"]) == ("pass", "error")
    persisting = {e["fingerprint"]: e["changed"] for e in document["findings"]["persisting"]}
    assert persisting[REMOTE_LOGIN] == ["evidence"]


def test_the_human_table_puts_new_first_and_says_the_exit_status(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = old_findings()
    finding(old, "compute-remote-login", CPU_SMALL)["status"] = "pass"
    new = old_findings()
    finding(new, "aks-service-cidr", AKS_SCORING)["resource_id"] = "/subscriptions/[bold red]x[/]"
    status, stdout, err = run(capsys, "diff", write_json(tmp_path / "old.json", old), write_json(tmp_path / "new.json", new))
    assert status == 1 and err == ""
    rows = [line for line in stdout.splitlines() if line.startswith("│ ")]
    assert rows[0].startswith("│ NEW ") and "compute-remote-login" in rows[0]
    assert "/subscriptions/[bold red]x[/]" in stdout  # file data is text, never console markup
    assert "1 new, 0 unverified, 0 resolved, 0 changed, 22 persisting." in stdout
    assert stdout.rstrip().endswith("exit 1: new failures")


def test_the_function_level_document_matches_the_command(capsys: pytest.CaptureFixture[str]) -> None:
    old = parse_findings_document(old_findings(), "old.json")
    diff = diff_findings(old, old)
    document = diff_document(diff, "low")
    assert document["counts"]["persisting"] == 23 and diff.exit_status("low") == 0


@pytest.mark.parametrize(("which", "content", "said"), [
    ("old", None, "no such file"),
    ("new", b"{", "not valid JSON"),
    ("new", b'{"format": "amlaudit.snapshot/v1", "resources": []}', "format is 'amlaudit.snapshot/v1'"),
    ("old", b'{"format": "amlaudit.findings/v1", "findings": [{"check_id": "x"}]}', "invalid findings file: findings.0.status: Field required"),
])
def test_bad_input_exits_2_in_one_line(which: str, content: bytes | None, said: str, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / f"{which}.json"
    if content is not None:
        bad.write_bytes(content)
    args = (bad, OLD_FINDINGS) if which == "old" else (OLD_FINDINGS, bad)
    status, stdout, err = run(capsys, "diff", *args, "--json")
    assert status == 2 and stdout == ""
    assert_one_line_error(err, f"{bad}: {said}")


def test_diff_needs_two_files(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(capsys, "diff", OLD_FINDINGS)
    assert status == 2 and "Missing argument 'NEW'" in err
