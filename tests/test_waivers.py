"""Waivers: the file format (fail closed, one line naming the entry), matching, expiry, stale, exit status."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from amlaudit.auditor import waivers
from amlaudit.auditor.check import Check
from amlaudit.auditor.findings import AuditResult, Finding, fingerprint
from amlaudit.auditor.registry import load_checks
from amlaudit.auditor.waivers import WaiverError, apply_waivers, glob_matches_below, parse_waivers
from tests.annotation_helpers import (
    AKS_SCORING, CPU_SMALL, CPU_TRAIN, FRAUD_SUB, FRAUD_WS, KV_UNREADABLE, add_collection_error, assert_one_line_error,
    demo_document, demo_result, remove_resource, run, write_json,
)

CHECK_IDS = [c.id for c in load_checks()]
TODAY = date(2026, 12, 3)


def entry(check: str = "compute-remote-login", selector: str = f'resource = "{CPU_SMALL}"', reason: str = '"jump host pending, CHG-1042"',
          owner: str = '"netops@contoso.com"', expires: str = "2027-03-31", extra: str = "") -> str:
    lines = ["[[waiver]]", f'check = "{check}"' if check else "", selector,
             f"reason = {reason}" if reason else "", f"owner = {owner}" if owner else "",
             f"expires = {expires}" if expires else "", extra]
    return "\n".join(line for line in lines if line) + "\n\n"


def parse(text: str) -> waivers.WaiverSet:
    return parse_waivers(text, "waivers.toml", CHECK_IDS)


def problem(text: str) -> str:
    with pytest.raises(WaiverError) as caught:
        parse(text)
    message = str(caught.value)
    assert "\n" not in message
    return message


def fail_findings(result: AuditResult, check_id: str | None = None) -> list[Finding]:
    return [f for f in result.findings if f.status == "fail" and (check_id is None or f.check_id == check_id)]


def waived(result: AuditResult) -> dict[str, dict[str, object]]:
    return {f.fingerprint: f.waiver for f in result.findings if f.waiver is not None}


# -- the file format ------------------------------------------------------------------------------


def test_a_valid_file_gives_one_waiver_per_entry_with_its_selector() -> None:
    text = (entry() + entry("aks-service-cidr", 'resource_glob = "*/rg-fraud-ml/*"', expires="2026-12-31")
            + entry("COMPUTE-BATCH-INBOUND", f'fingerprint = "{"AB" * 16}"'))
    parsed = parse(text)
    assert [(w.index, w.check, w.selector) for w in parsed.waivers] == [
        (1, "compute-remote-login", "resource"), (2, "aks-service-cidr", "resource_glob"),
        (3, "compute-batch-inbound", "fingerprint")]
    assert parsed.waivers[0].expires == date(2027, 3, 31)
    assert parsed.waivers[0].to_dict() == {"entry": 1, "check": "compute-remote-login", "resource": CPU_SMALL,
                                           "reason": "jump host pending, CHG-1042", "owner": "netops@contoso.com",
                                           "expires": "2027-03-31"}
    assert parsed.waivers[2].value == "ab" * 16


def test_an_empty_file_has_no_waivers() -> None:
    assert parse("").waivers == ()


def test_malformed_toml_is_one_line() -> None:
    message = problem(entry() + "[[waiver]\ncheck = 'x'\n")
    assert message.startswith("waivers.toml: not valid TOML (")


def test_an_unknown_check_id_names_the_entry() -> None:
    assert problem(entry() + entry("compute-remote-logins")) == (
        "waivers.toml: waiver 2 (check 'compute-remote-logins'): unknown check 'compute-remote-logins' "
        "(run 'amlaudit checks' for the list)")


@pytest.mark.parametrize("missing", ["reason", "owner", "expires"])
def test_a_missing_field_names_the_entry_and_the_field(missing: str) -> None:
    assert problem(entry() + entry(**{missing: ""})) == (
        f"waivers.toml: waiver 2 (check 'compute-remote-login'): '{missing}' is required")


def test_a_missing_check_names_the_entry_by_number() -> None:
    assert problem(entry(check="")) == "waivers.toml: waiver 1: 'check' is required"


def test_two_selectors_are_refused() -> None:
    message = problem(entry(selector=f'resource = "{CPU_SMALL}"\nfingerprint = "{"0" * 32}"'))
    assert message == ("waivers.toml: waiver 1 (check 'compute-remote-login'): give exactly one of 'resource', "
                       "'fingerprint' or 'resource_glob' (found 'resource' and 'fingerprint')")


def test_no_selector_is_refused() -> None:
    assert "(none given)" in problem(entry(selector=""))


@pytest.mark.parametrize(("expires", "said"), [
    ('"2027-03-31"', "a string ('2027-03-31'; write the date without quotes)"),
    ("2027-03-31T00:00:00Z", "a date-time (2027-03-31T00:00:00+00:00)"),
    ("2027-03-31T12:00:00", "a date-time (2027-03-31T12:00:00)"),
    ("20270331", "int 20270331"),
    ("12:00:00", "time"),
])
def test_an_expiry_that_is_not_a_toml_date_is_refused(expires: str, said: str) -> None:
    message = problem(entry(expires=expires))
    assert message.startswith("waivers.toml: waiver 1 (check 'compute-remote-login'): 'expires' must be a TOML date "
                              "such as 2027-03-31, not ")
    assert said in message


@pytest.mark.parametrize(("text", "said"), [
    (entry(extra='expiry = 2027-01-01'), "unknown field 'expiry'"),
    (entry(reason='"   "'), "'reason' must not be empty"),
    (entry(owner="42"), "'owner' must be a string"),
    (entry(selector='resource = "cpu-fraud-small"'), "'resource' must be an ARM id"),
    (entry(selector='fingerprint = "0a8dd056"'), "'fingerprint' must be a finding fingerprint"),
    (entry(selector='resource_glob = ""'), "'resource_glob' must not be empty"),
])
def test_other_bad_fields_are_refused(text: str, said: str) -> None:
    message = problem(text)
    assert message.startswith("waivers.toml: waiver 1 (check 'compute-remote-login'): ") and said in message


def test_the_document_must_be_an_array_of_waiver_tables() -> None:
    assert problem('[waiver]\ncheck = "compute-remote-login"\n') == (
        "waivers.toml: 'waiver' must be an array of tables, written [[waiver]]")
    assert problem(entry().replace("[[waiver]]", "[[waivers]]")) == (
        "waivers.toml: unknown key 'waivers' (each waiver is a [[waiver]] table)")


def test_load_waivers_reports_a_missing_file_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(WaiverError, match=r"no-such\.toml: no such waivers file$"):
        waivers.load_waivers(tmp_path / "no-such.toml", CHECK_IDS)


# -- matching -------------------------------------------------------------------------------------


def test_a_resource_waiver_matches_case_insensitively_and_keeps_the_status() -> None:
    spelled = CPU_SMALL.upper().replace("/SUBSCRIPTIONS/", "/subscriptions/") + "/"
    result = apply_waivers(demo_result(), parse(entry(selector=f'resource = "{spelled}"')), TODAY)
    target = fingerprint("compute-remote-login", CPU_SMALL)
    assert list(waived(result)) == [target]
    annotated = next(f for f in result.findings if f.fingerprint == target)
    assert annotated.status == "fail" and annotated.waiver is not None
    assert annotated.waiver["reason"] == "jump host pending, CHG-1042" and annotated.waiver["expires"] == "2027-03-31"
    assert result.waivers is not None and result.waivers["applied"] == 1
    assert [e["entry"] for e in result.waivers["active"]] == [1] and result.waivers["active"][0]["matched"] == [target]
    # Nothing else changed: the stage only annotates.
    assert [replace(f, waiver=None) for f in result.findings] == demo_result().findings


def test_a_fingerprint_waiver_matches_that_finding_only() -> None:
    target = fingerprint("aks-service-cidr", AKS_SCORING)
    result = apply_waivers(demo_result(), parse(entry("aks-service-cidr", f'fingerprint = "{target.upper()}"')), TODAY)
    assert list(waived(result)) == [target]


def test_a_glob_matches_case_insensitively_across_slashes() -> None:
    glob = f"/SUBSCRIPTIONS/{FRAUD_SUB}/*/MLW-FRAUD-DETECTION/computes/cpu-*"
    text = entry("compute-outbound-internet", f'resource_glob = "{glob}"') + entry(selector='resource_glob = "*/computes/cpu-fraud-smal?"')
    result = apply_waivers(demo_result(), parse(text), TODAY)
    assert set(waived(result)) == {fingerprint("compute-outbound-internet", CPU_TRAIN),
                                   fingerprint("compute-remote-login", CPU_SMALL)}


def test_a_glob_character_class_and_a_non_match() -> None:
    glob = f"/subscriptions/{FRAUD_SUB}/*/computes/cpu-fraud-[!s]*"
    result = apply_waivers(demo_result(), parse(entry(selector=f'resource_glob = "{glob}"')), TODAY)
    assert waived(result) == {}
    assert [e["entry"] for e in result.waivers["stale"]] == [1]  # type: ignore[index]


def test_a_glob_that_could_reach_into_a_collection_error_is_unverified_not_stale() -> None:
    # The demo could not read a key vault in another subscription: a pattern starting with `*`
    # (which crosses `/`) could match ids below it, so the run cannot call the waiver stale.
    result = apply_waivers(demo_result(), parse(entry(selector='resource_glob = "*/computes/cpu-fraud-[!s]*"')), TODAY)
    section = result.waivers
    assert section is not None and section["stale"] == []
    assert section["unverified"][0]["unverified_reason"] == (
        f"this run could not see into {KV_UNREADABLE.lower()} (collection error or coverage gap)")


def test_the_first_matching_waiver_in_file_order_is_the_one_shown() -> None:
    text = entry(reason='"first"', selector='resource_glob = "*"') + entry(reason='"second"')
    result = apply_waivers(demo_result(), parse(text), TODAY)
    # The glob waives every compute-remote-login failure; cpu-fraud-small is matched by both.
    shown = waived(result)[fingerprint("compute-remote-login", CPU_SMALL)]
    assert shown["reason"] == "first" and shown["entry"] == 1
    assert {w["entry"] for w in waived(result).values()} == {1}
    # The second one matched too, so it is in force (not stale), though not the one shown.
    assert [e["entry"] for e in result.waivers["active"]] == [1, 2]  # type: ignore[index]


def test_error_findings_are_never_waived_and_the_waiver_is_unverified_not_stale() -> None:
    text = entry("keyvault-vnet-rule", f'resource = "{KV_UNREADABLE}"') + entry("keyvault-vnet-rule", 'resource_glob = "*"')
    result = apply_waivers(demo_result(), parse(text), TODAY)
    errors = [f for f in result.findings if f.status == "error"]
    assert errors and all(f.waiver is None for f in errors)
    section = result.waivers
    assert section is not None
    assert [e["entry"] for e in section["unverified"]] == [1]
    assert section["unverified"][0]["unverified_reason"].startswith("cannot verify now: ")
    assert section["unverified"][0]["reason"] == "jump host pending, CHG-1042"  # the entry's own reason is kept
    # The glob also matched the failing key vault: that one is waived, the error one is not.
    assert list(waived(result).values())[0]["entry"] == 2
    assert result.exit_status("low") == 1


def test_a_waiver_naming_a_passing_finding_is_stale() -> None:
    passing = next(f for f in demo_result().findings if f.check_id == "compute-remote-login" and f.status == "pass")
    result = apply_waivers(demo_result(), parse(entry(selector=f'resource = "{passing.resource_id}"')), TODAY)
    assert waived(result) == {}
    assert [e["entry"] for e in result.waivers["stale"]] == [1]  # type: ignore[index]


def test_a_waiver_naming_nothing_is_stale() -> None:
    gone = f"{FRAUD_WS}/computes/deleted-last-month"
    result = apply_waivers(demo_result(), parse(entry(selector=f'resource = "{gone}"')), TODAY)
    assert result.waivers is not None and [e["entry"] for e in result.waivers["stale"]] == [1]
    assert result.waivers["active"] == [] and result.waivers["unverified"] == []


def test_a_waiver_whose_subject_sits_under_a_collection_error_is_unverified() -> None:
    from amlaudit.auditor.pipeline import audit_snapshot
    from amlaudit.auditor.snapshot import parse_snapshot

    document = demo_document()
    remove_resource(document, CPU_SMALL)
    add_collection_error(document, f"{FRAUD_WS}/computes", "Microsoft.MachineLearningServices/workspaces/computes/read")
    result = apply_waivers(audit_snapshot(parse_snapshot(document)), parse(entry()), TODAY)
    section = result.waivers
    assert section is not None and section["stale"] == []
    assert [e["entry"] for e in section["unverified"]] == [1]
    assert section["unverified"][0]["unverified_reason"].startswith(f"collection error at {FRAUD_WS}/computes")


def test_a_waiver_for_a_check_that_crashed_is_unverified() -> None:
    crashed = Finding(check_id="compute-remote-login", status="error", severity="medium", resource_id="", title="t",
                      message="cannot verify: the check crashed (KeyError: 'x')", evidence={}, remediation="",
                      reference="", fingerprint=fingerprint("compute-remote-login", ""))
    base = demo_result()
    result = replace(base, findings=[f for f in base.findings if f.check_id != "compute-remote-login"] + [crashed])
    section = apply_waivers(result, parse(entry() + entry(selector='resource_glob = "*/nothing-like-this"')), TODAY).waivers
    assert section is not None and section["stale"] == []
    assert [e["unverified_reason"] for e in section["unverified"]] == [
        "check compute-remote-login could not run: cannot verify: the check crashed (KeyError: 'x')"] * 2


# -- expiry ---------------------------------------------------------------------------------------


def test_a_waiver_is_valid_through_its_expiry_day_and_expired_the_day_after() -> None:
    parsed = parse(entry(expires="2027-03-31"))
    target = fingerprint("compute-remote-login", CPU_SMALL)
    on_the_day = apply_waivers(demo_result(), parsed, date(2027, 3, 31))
    assert list(waived(on_the_day)) == [target]
    day_after = apply_waivers(demo_result(), parsed, date(2027, 4, 1))
    assert waived(day_after) == {}
    section = day_after.waivers
    assert section is not None and section["evaluated_on"] == "2027-04-01" and section["applied"] == 0
    assert [(e["entry"], e["expires"], e["matched"]) for e in section["expired"]] == [(1, "2027-03-31", [target])]
    assert section["stale"] == [] and section["active"] == []


def test_an_expired_waiver_is_reported_even_when_it_matches_nothing() -> None:
    section = apply_waivers(demo_result(), parse(entry(selector='resource_glob = "*/none"', expires="2020-01-01")), TODAY).waivers
    assert section is not None and [(e["entry"], e["matched"]) for e in section["expired"]] == [(1, [])]
    assert section["stale"] == []


# -- exit status ----------------------------------------------------------------------------------


def _all_failures_waived(checks: list[Check], keep: str | None = None) -> str:
    failing = sorted({f.check_id for f in fail_findings(demo_result())} - {keep})
    return "".join(entry(check, 'resource_glob = "*"') for check in failing)


def test_waived_failures_do_not_count_toward_the_exit_status() -> None:
    assert demo_result().exit_status("low") == 1
    everything = apply_waivers(demo_result(), parse(_all_failures_waived(load_checks())), TODAY)
    assert everything.summary == demo_result().summary  # statuses unchanged
    assert everything.exit_status("low") == 3  # no counted failure left; the demo has error findings
    all_but_one = apply_waivers(demo_result(), parse(_all_failures_waived(load_checks(), keep="compute-remote-login")), TODAY)
    kept = [f for f in demo_result().findings if f.check_id == "compute-remote-login" and f.status == "fail"]
    assert all_but_one.exit_failures("low") == kept and len(kept) == 4
    assert all_but_one.exit_status("low") == 1
    expired = apply_waivers(demo_result(), parse(_all_failures_waived(load_checks())), date(2099, 1, 1))
    assert expired.exit_status("low") == 1


def test_the_waivers_section_is_in_findings_json_only_with_waivers() -> None:
    assert "waivers" not in demo_result().to_document()
    document = apply_waivers(demo_result(), parse(entry()), TODAY).to_document()
    assert set(document["waivers"]) == {"file", "evaluated_on", "entries", "applied", "active", "expired", "stale", "unverified"}
    assert "resolved" not in document and "baseline" not in document


def test_glob_reach_below_a_scope() -> None:
    assert glob_matches_below("/subscriptions/s/resourcegroups/rg-sandbox/*", "/subscriptions/s")
    assert glob_matches_below("/subscriptions/s/resourcegroups/rg-sandbox/*", "/subscriptions/s/resourcegroups/rg-sandbox")
    assert not glob_matches_below("/subscriptions/s/resourcegroups/rg-sandbox/*", "/subscriptions/t")
    assert not glob_matches_below("/subscriptions/s/resourcegroups/rg-[!s]andbox/*", "/subscriptions/s/resourcegroups/rg-sandbox")
    assert not glob_matches_below("/subscriptions/s/resourcegroups/rg/x", "/subscriptions/s/resourcegroups/rg/x")


# -- through the command line ---------------------------------------------------------------------


def test_scan_with_waivers_writes_the_annotations_and_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "waivers.toml"
    path.write_text(entry() + entry("aks-service-cidr", f'resource = "{AKS_SCORING}"', expires="2020-01-01")
                    + entry("compute-batch-inbound", f'resource = "{FRAUD_WS}/computes/gone"'))
    out = tmp_path / "out"
    status, stdout, _ = run(capsys, "scan", "--demo", "--out", out, "--format", "json,html", "--waivers", path)
    assert status == 1
    document = json.loads((out / "findings.json").read_text())
    assert [f["fingerprint"] for f in document["findings"] if "waiver" in f] == [fingerprint("compute-remote-login", CPU_SMALL)]
    section = document["waivers"]
    assert (section["applied"], [e["entry"] for e in section["expired"]], [e["entry"] for e in section["stale"]]) == (1, [2], [3])
    assert f"waivers {path}: 1 failing finding(s) accepted by 1 waiver(s); 1 expired, 1 stale, 0 unverified" in " ".join(stdout.split())
    assert "accepted until 2027-03-31" in (out / "report.html").read_text()


def test_scan_exits_3_when_every_failure_is_waived(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "waivers.toml"
    path.write_text(_all_failures_waived(load_checks()))
    status, _, _ = run(capsys, "scan", "--demo", "--out", tmp_path / "out", "--format", "json", "--waivers", path, "-q")
    assert status == 3


def test_the_command_line_judges_expiry_on_the_utc_day(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "waivers.toml"
    path.write_text(entry(expires="2027-03-31"))
    for today, applied in ((date(2027, 3, 31), 1), (date(2027, 4, 1), 0)):
        monkeypatch.setattr(waivers, "utc_today", lambda today=today: today)
        run(capsys, "scan", "--demo", "--out", tmp_path / "out", "--format", "json", "--waivers", path, "-q")
        section = json.loads((tmp_path / "out" / "findings.json").read_text())["waivers"]
        assert (section["evaluated_on"], section["applied"]) == (today.isoformat(), applied)


@pytest.mark.parametrize(("text", "said"), [
    ("[[waiver]\n", "not valid TOML"),
    (entry() + entry("no-such-check"), "waiver 2 (check 'no-such-check'): unknown check 'no-such-check'"),
    (entry(owner=""), "waiver 1 (check 'compute-remote-login'): 'owner' is required"),
    (entry(selector=f'resource = "{CPU_SMALL}"\nresource_glob = "*"'), "give exactly one of"),
    (entry(expires='"2027-03-31"'), "'expires' must be a TOML date"),
])
def test_a_bad_waivers_file_exits_2_in_one_line_and_leaves_earlier_outputs(
        text: str, said: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "findings.json").write_text("earlier run")
    (out / "report.html").write_text("earlier report")
    path = tmp_path / "waivers.toml"
    path.write_text(text)
    status, stdout, err = run(capsys, "scan", "--demo", "--out", out, "--waivers", path, "--save-snapshot", tmp_path / "s.json")
    assert status == 2 and stdout == ""
    assert_one_line_error(err, f"{path}: ", said)
    assert (out / "findings.json").read_text() == "earlier run" and (out / "report.html").read_text() == "earlier report"
    assert sorted(p.name for p in out.iterdir()) == ["findings.json", "report.html"] and not (tmp_path / "s.json").exists()


def test_a_missing_waivers_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(capsys, "scan", "--demo", "--out", tmp_path / "out", "--waivers", tmp_path / "nope.toml")
    assert status == 2
    assert_one_line_error(err, "nope.toml: no such waivers file")
    assert not (tmp_path / "out").exists()


def test_the_run_config_names_the_waivers_file_relative_to_itself_and_the_flag_wins(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    config_dir = tmp_path / "audit"
    config_dir.mkdir()
    (config_dir / "waivers.toml").write_text(entry())
    (config_dir / "amlaudit.toml").write_text('waivers = "waivers.toml"\nformat = ["json"]\n')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # the config's folder, not the working directory, anchors the path
    run(capsys, "scan", "--demo", "--config", config_dir / "amlaudit.toml", "--out", tmp_path / "out", "-q")
    section = json.loads((tmp_path / "out" / "findings.json").read_text())["waivers"]
    assert section["file"] == str(config_dir / "waivers.toml") and section["applied"] == 1
    override = tmp_path / "other.toml"
    override.write_text(entry(selector='resource_glob = "*/no-match"'))
    run(capsys, "scan", "--demo", "--config", config_dir / "amlaudit.toml", "--out", tmp_path / "out", "--waivers", override, "-q")
    section = json.loads((tmp_path / "out" / "findings.json").read_text())["waivers"]
    assert section["file"] == str(override) and section["applied"] == 0
    (config_dir / "amlaudit.toml").write_text('waivers = "missing.toml"\n')
    status, _, err = run(capsys, "scan", "--demo", "--config", config_dir / "amlaudit.toml", "--out", tmp_path / "out2")
    assert status == 2
    assert_one_line_error(err, "missing.toml: no such waivers file")


def test_a_waiver_subject_in_an_unaudited_subscription_is_unverified(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    document = demo_document()
    document["subscriptions"] = [s for s in document["subscriptions"] if s["subscriptionId"] != FRAUD_SUB]
    document["resources"] = [r for r in document["resources"] if FRAUD_SUB not in r["id"]]
    snapshot = write_json(tmp_path / "snapshot.json", document)
    path = tmp_path / "waivers.toml"
    path.write_text(entry() + entry("compute-batch-inbound", f'resource_glob = "/subscriptions/{FRAUD_SUB}/*"'))
    run(capsys, "scan", "--snapshot", snapshot, "--out", tmp_path / "out", "--format", "json", "--waivers", path, "-q")
    section = json.loads((tmp_path / "out" / "findings.json").read_text())["waivers"]
    assert [(e["entry"], e["unverified_reason"]) for e in section["unverified"]] == [
        (1, "its subscription was not audited in this run"), (2, "its subscription was not audited in this run")]
