"""`scan --baseline`: new vs persisting failures, resolved vs unverified, old-version files, bad input."""

from __future__ import annotations

import gzip
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from amlaudit.auditor.baseline import apply_baseline, compare
from amlaudit.auditor.coverage import Coverage
from amlaudit.auditor.findings import Finding, fingerprint
from amlaudit.auditor.findings_file import FindingsFileError, parse_findings_document, read_findings_file
from tests.annotation_helpers import (
    CPU_SMALL, FRAUD_SUB, FRAUD_WS, KV_FRAUD, OLD_FINDINGS, add_collection_error, assert_one_line_error,
    close_public_ssh, current_findings, current_findings_file, demo_document, demo_result, finding, old_findings,
    remove_resource, run, write_json,
)

REMOTE_LOGIN = fingerprint("compute-remote-login", CPU_SMALL)


def scan_with_baseline(capsys: pytest.CaptureFixture[str], tmp_path: Path, baseline: Path, snapshot: dict[str, Any] | None = None,
                       *extra: str) -> tuple[int, dict[str, Any], str]:
    source: list[str | Path] = ["--demo"]
    if snapshot is not None:
        source = ["--snapshot", write_json(tmp_path / "snapshot.json", snapshot)]
    out = tmp_path / "out"
    status, stdout, err = run(capsys, "scan", *source, "--out", out, "--format", "json", "--baseline", baseline, *extra)
    assert err == "", err
    return status, json.loads((out / "findings.json").read_text()), stdout


def categories(document: dict[str, Any]) -> dict[str, set[str]]:
    section = document["baseline"]
    return {
        "new": {f["fingerprint"] for f in document["findings"] if f.get("baseline") == "new"},
        "persisting": {f["fingerprint"] for f in document["findings"] if f.get("baseline") == "persisting"},
        "resolved": {e["fingerprint"] for e in section["resolved"]},
        "unverified": {e["fingerprint"] for e in section["unverified"]},
    }


# -- an earlier version's findings.json -----------------------------------------------------------


def test_the_0_1_0_findings_file_reads_as_a_baseline() -> None:
    old = read_findings_file(OLD_FINDINGS)
    raw = old_findings()
    assert raw["tool"]["version"] == "0.1.0" and "waivers" not in raw and "subscriptions" not in raw["snapshot"]
    assert len(old.findings) == len(raw["findings"]) and old.describe()["tool_version"] == "0.1.0"
    # Written before findings.json recorded the audited subscriptions: taken from its findings.
    assert old.coverage.subscriptions == {f["resource_id"].split("/")[2].lower() for f in raw["findings"]}
    assert old.coverage.checks_run == {c["id"] for c in raw["checks"]}


def test_scanning_the_same_estate_against_an_old_version_baseline_makes_its_failures_persisting(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, document, stdout = scan_with_baseline(capsys, tmp_path, OLD_FINDINGS)
    failing = {f["fingerprint"] for f in document["findings"] if f["status"] == "fail"}
    # Issue 7 corrected the catalog: the retail training subnet's 0.0.0.0/0 route puts every address
    # in VirtualNetwork, so AllowVnetInBound admits SSH. 0.1.0 passed those three computes; an
    # upgrade therefore reports them as new failures, and everything 0.1.0 failed persists.
    retail = [f["resource_id"] for f in document["findings"] if f["check_id"] == "compute-remote-login"
              and "/rg-retail-ml/" in f["resource_id"] and f["status"] == "fail"]
    newly_failing = {fingerprint("compute-remote-login", rid) for rid in retail}
    assert len(newly_failing) == 3
    old_failing = {f["fingerprint"] for f in old_findings()["findings"] if f["status"] == "fail"}
    assert categories(document) == {"new": newly_failing, "persisting": old_failing, "resolved": set(), "unverified": set()}
    assert failing == old_failing | newly_failing
    assert all("baseline" not in f for f in document["findings"] if f["status"] != "fail")
    assert document["resolved"] == [] and document["baseline"]["counts"] == {"new": 3, "persisting": 23, "resolved": 0, "unverified": 0}
    assert document["baseline"]["tool_version"] == "0.1.0"
    assert status == 1  # the three new failures count
    assert "3 new failure(s), 23 persisting, 0 resolved, 0 unverified" in " ".join(stdout.split())


def test_a_new_failure_counts_and_the_persisting_ones_do_not(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    baseline = current_findings()
    finding(baseline, "compute-remote-login", CPU_SMALL)["status"] = "pass"  # yesterday it passed
    status, document, _ = scan_with_baseline(capsys, tmp_path, write_json(tmp_path / "baseline.json", baseline))
    assert categories(document)["new"] == {REMOTE_LOGIN}
    assert status == 1
    # --fail-on still applies to new failures: compute-remote-login is medium.
    status, _, _ = scan_with_baseline(capsys, tmp_path, tmp_path / "baseline.json", None, "--fail-on", "high")
    assert status == 3


def test_a_new_failure_that_is_waived_does_not_count(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    baseline = current_findings()
    baseline["findings"] = [f for f in baseline["findings"] if f["fingerprint"] != REMOTE_LOGIN]
    waivers = tmp_path / "waivers.toml"
    waivers.write_text(f'[[waiver]]\ncheck = "compute-remote-login"\nresource = "{CPU_SMALL}"\nreason = "r"\nowner = "o"\nexpires = 2999-01-01\n')
    status, document, _ = scan_with_baseline(capsys, tmp_path, write_json(tmp_path / "b.json", baseline), None, "--waivers", str(waivers))
    annotated = [f for f in document["findings"] if f["fingerprint"] == REMOTE_LOGIN][0]
    assert annotated["baseline"] == "new" and annotated["waiver"]["entry"] == 1
    assert status == 3


def test_a_fixed_failure_is_resolved(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    snapshot = demo_document()
    close_public_ssh(snapshot)
    status, document, _ = scan_with_baseline(capsys, tmp_path, current_findings_file(tmp_path), snapshot)
    assert categories(document)["resolved"] == {REMOTE_LOGIN}
    assert document["resolved"] == [REMOTE_LOGIN]
    (entry,) = document["baseline"]["resolved"]
    assert entry == {"fingerprint": REMOTE_LOGIN, "check_id": "compute-remote-login", "resource_id": CPU_SMALL,
                     "severity": "medium", "title": entry["title"], "old_status": "fail", "new_status": "pass"}
    assert status == 3


def test_a_deleted_subject_the_run_could_see_is_resolved(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    snapshot = demo_document()
    remove_resource(snapshot, CPU_SMALL)
    _, document, _ = scan_with_baseline(capsys, tmp_path, current_findings_file(tmp_path), snapshot)
    assert REMOTE_LOGIN in categories(document)["resolved"]
    assert [e["new_status"] for e in document["baseline"]["resolved"] if e["fingerprint"] == REMOTE_LOGIN] == ["absent"]


def test_a_subject_hidden_by_a_collection_error_is_unverified_not_resolved(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    snapshot = demo_document()
    remove_resource(snapshot, CPU_SMALL)
    add_collection_error(snapshot, f"{FRAUD_WS}/computes", "Microsoft.MachineLearningServices/workspaces/computes/read")
    status, document, stdout = scan_with_baseline(capsys, tmp_path, current_findings_file(tmp_path), snapshot)
    found = categories(document)
    assert REMOTE_LOGIN in found["unverified"] and REMOTE_LOGIN not in found["resolved"]
    assert REMOTE_LOGIN not in document["resolved"]
    reason = [e["unverified_reason"] for e in document["baseline"]["unverified"] if e["fingerprint"] == REMOTE_LOGIN]
    assert reason == [f"collection error at {FRAUD_WS}/computes: could not be read (HTTP 403 AuthorizationFailed: "
                      "The client does not have authorization to perform this action.)"]
    assert status == 3
    assert "unverified: compute-remote-login" in stdout


def test_a_subject_that_is_now_an_error_finding_is_unverified(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    snapshot = demo_document()
    remove_resource(snapshot, KV_FRAUD)
    add_collection_error(snapshot, KV_FRAUD, "Microsoft.KeyVault/vaults/read")
    _, document, _ = scan_with_baseline(capsys, tmp_path, current_findings_file(tmp_path), snapshot)
    kv_failures = {f["fingerprint"] for f in current_findings()["findings"] if f["resource_id"] == KV_FRAUD and f["status"] == "fail"}
    assert len(kv_failures) == 2 and kv_failures <= categories(document)["unverified"]
    assert not kv_failures & categories(document)["resolved"]
    assert all(e["new_status"] == "error" and e["unverified_reason"].startswith("cannot verify now: ")
               for e in document["baseline"]["unverified"] if e["fingerprint"] in kv_failures)


def test_a_subscription_left_out_of_the_run_is_unverified(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    snapshot = demo_document()
    snapshot["subscriptions"] = [s for s in snapshot["subscriptions"] if s["subscriptionId"] != FRAUD_SUB]
    snapshot["resources"] = [r for r in snapshot["resources"] if FRAUD_SUB not in r["id"]]
    _, document, _ = scan_with_baseline(capsys, tmp_path, current_findings_file(tmp_path), snapshot)
    fraud_failures = {f["fingerprint"] for f in current_findings()["findings"] if FRAUD_SUB in f["resource_id"] and f["status"] == "fail"}
    assert fraud_failures and fraud_failures <= categories(document)["unverified"]
    assert not categories(document)["resolved"]
    assert {e["unverified_reason"] for e in document["baseline"]["unverified"]} == {"its subscription was not audited in this run"}


def test_a_run_narrowed_to_one_workspace_leaves_the_rest_unverified(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    snapshot = demo_document()
    snapshot["scope"] = {"subscriptions": [], "workspaces": ["rg-fraud-ml/mlw-fraud-detection"]}
    remove_resource(snapshot, CPU_SMALL)  # gone from a workspace in scope: resolved
    retail = [r["id"] for r in snapshot["resources"] if "/computes/" in r["id"] and "rg-retail-ml" in r["id"]]
    for resource_id in retail:  # out of scope: not collected, so absent
        remove_resource(snapshot, resource_id)
    _, document, _ = scan_with_baseline(capsys, tmp_path, current_findings_file(tmp_path), snapshot)
    found = categories(document)
    assert REMOTE_LOGIN in found["resolved"]
    docker_bridge = finding(current_findings(), "aks-docker-bridge", next(r for r in retail if r.endswith("/aks-forecast")))
    assert docker_bridge["fingerprint"] in found["unverified"]
    assert [e["unverified_reason"] for e in document["baseline"]["unverified"]
            if e["fingerprint"] == docker_bridge["fingerprint"]] == ["outside this run's workspace filter"]
    assert document["snapshot"]["workspaces"] == ["rg-fraud-ml/mlw-fraud-detection"]


def test_a_check_that_did_not_run_leaves_its_failures_unverified(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    baseline = current_findings()
    retired = dict(finding(baseline, "compute-remote-login", CPU_SMALL), check_id="acme-retired-check",
                   fingerprint=fingerprint("acme-retired-check", CPU_SMALL))
    baseline["findings"].append(retired)
    baseline["checks"].append({"id": "acme-retired-check"})
    status, document, _ = scan_with_baseline(capsys, tmp_path, write_json(tmp_path / "b.json", baseline))
    assert [(e["check_id"], e["unverified_reason"]) for e in document["baseline"]["unverified"]] == [
        ("acme-retired-check", "check acme-retired-check did not run in this audit")]
    assert status == 3


def test_a_check_that_crashed_leaves_its_failures_unverified(tmp_path: Path) -> None:
    old = demo_result().findings
    remote_login_failures = [f.fingerprint for f in old if f.check_id == "compute-remote-login" and f.status == "fail"]
    assert REMOTE_LOGIN in remote_login_failures
    crash = Finding(check_id="compute-remote-login", status="error", severity="medium", resource_id="", title="t",
                    message="cannot verify: the check crashed (KeyError: 'properties')", evidence={}, remediation="",
                    reference="", fingerprint=fingerprint("compute-remote-login", ""))
    now = [f for f in old if f.check_id != "compute-remote-login"] + [crash]
    result = replace(demo_result(), findings=now)
    comparison = compare(old, now, Coverage.of_result(result))
    assert [c.old.fingerprint for c in comparison.unverified if c.old] == remote_login_failures
    assert {c.reason for c in comparison.unverified} == {
        "check compute-remote-login could not run: cannot verify: the check crashed (KeyError: 'properties')"}
    assert comparison.resolved == []
    annotated = apply_baseline(result, read_findings_file(current_findings_file(tmp_path)))
    assert annotated.incomplete and annotated.baseline is not None
    assert annotated.baseline["counts"]["unverified"] == len(remote_login_failures)


def test_a_coverage_gap_above_the_subject_makes_it_unverified() -> None:
    subject = f"{FRAUD_WS}/computes/cpu"
    coverage = Coverage.build([], ["compute-remote-login"], [], [{"kind": "workspace", "id": FRAUD_WS, "reason": "not in snapshot"}],
                              [FRAUD_SUB])
    assert coverage.unverified("compute-remote-login", subject, fingerprint("compute-remote-login", subject)) == (
        f"coverage gap: workspace {FRAUD_WS}: not in snapshot")
    assert coverage.unverified("compute-remote-login", f"/subscriptions/{FRAUD_SUB}/resourceGroups/other/x", "f") is None


def test_a_subscription_wide_list_error_hides_resources_of_that_type() -> None:
    subject = f"/subscriptions/{FRAUD_SUB}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st1"
    listing = f"/subscriptions/{FRAUD_SUB}/providers/Microsoft.Storage/storageAccounts"
    coverage = Coverage.build([], ["storage-vnet-rule"], [{"scope": listing, "status": 429}], [], [FRAUD_SUB])
    assert coverage.unverified("storage-vnet-rule", subject, "f") == f"collection error at {listing}: could not be read (HTTP 429 collection failed)"
    assert coverage.unverified("storage-vnet-rule", subject.replace("storageAccounts", "x"), "f") is None


def test_an_unknown_status_now_is_not_taken_as_resolved() -> None:
    old = [f for f in demo_result().findings if f.fingerprint == REMOTE_LOGIN]
    now = [replace(old[0], status="suppressed")]  # type: ignore[arg-type]
    comparison = compare(old, now, Coverage.build(now, ["compute-remote-login"], [], [], [FRAUD_SUB]))
    assert comparison.resolved == [] and comparison.unverified[0].reason == "status 'suppressed' is not a verdict this version knows"


# -- the file as input ----------------------------------------------------------------------------


def test_a_gzip_baseline_and_the_out_file_itself_are_accepted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    packed = tmp_path / "baseline.json.gz"
    packed.write_bytes(gzip.compress(current_findings_file(tmp_path).read_bytes()))
    failing = sum(f["status"] == "fail" for f in current_findings()["findings"])
    status, document, _ = scan_with_baseline(capsys, tmp_path, packed)
    assert document["baseline"]["counts"]["persisting"] == failing
    # The nightly pattern: compare with the previous run's file in the same --out, then replace it.
    status, document, _ = scan_with_baseline(capsys, tmp_path, tmp_path / "out" / "findings.json")
    assert document["baseline"]["file"] == str(tmp_path / "out" / "findings.json")
    assert document["baseline"]["counts"] == {"new": 0, "persisting": failing, "resolved": 0, "unverified": 0}


def _bad(document: Any) -> bytes:
    return json.dumps(document).encode()


def _without_fingerprint() -> bytes:
    document = current_findings()
    del document["findings"][2]["fingerprint"]
    return _bad(document)


def _bad_severity() -> bytes:
    document = current_findings()
    document["findings"][0]["severity"] = "urgent"
    return _bad(document)


@pytest.mark.parametrize(("content", "said"), [
    (b"", "file is empty"),
    (b"{not json", "not valid JSON"),
    (b"\x1f\x8bnot really gzip", "corrupt gzip data"),
    (_bad([]), "not a findings file (top level is list, expected an object)"),
    (_bad({"format": "amlaudit.snapshot/v1", "resources": []}), "format is 'amlaudit.snapshot/v1', expected 'amlaudit.findings/v1'"),
    (_bad({"format": "amlaudit.findings/v1"}), "invalid findings file: findings: Field required"),
    (_without_fingerprint(), "invalid findings file: findings.2.fingerprint: Field required"),
    (_bad_severity(), "invalid findings file: findings.0.severity: "),
])
def test_a_bad_baseline_exits_2_in_one_line_and_leaves_earlier_outputs(
        content: bytes, said: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "findings.json").write_text("earlier run")
    baseline = tmp_path / "baseline.json"
    baseline.write_bytes(content)
    status, stdout, err = run(capsys, "scan", "--demo", "--out", out, "--baseline", baseline)
    assert status == 2 and stdout == ""
    assert_one_line_error(err, f"{baseline}: {said}")
    assert sorted(p.name for p in out.iterdir()) == ["findings.json"] and (out / "findings.json").read_text() == "earlier run"


def test_a_missing_baseline_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(capsys, "scan", "--demo", "--out", tmp_path / "out", "--baseline", tmp_path / "nope.json")
    assert status == 2
    assert_one_line_error(err, "nope.json: no such file")
    assert not (tmp_path / "out").exists()


def test_findings_files_ignore_unknown_keys_and_keep_unknown_statuses() -> None:
    document = current_findings()
    document["from_the_future"] = {"x": 1}
    document["findings"][0] |= {"status": "suppressed", "new_key": [1]}
    parsed = parse_findings_document(document, "f.json")
    assert parsed.findings[0].status == "suppressed"
    with pytest.raises(FindingsFileError, match=r"^f\.json: invalid findings file: findings\.0\.check_id: Input should be a valid string$"):
        parse_findings_document(document | {"findings": [document["findings"][0] | {"check_id": 7}]}, "f.json")


def test_scan_help_explains_baseline_and_exit_status(capsys: pytest.CaptureFixture[str]) -> None:
    status, stdout, _ = run(capsys, "scan", "--help")
    text = " ".join(stdout.split())
    assert status == 0
    assert "--baseline" in text and "only new failures count toward exit 1" in text
    assert "--waivers" in text and "persisting from the baseline" in text
