"""The `amlaudit` command line as contracts.md describes it: outputs, exit statuses, bad input.

Most tests call `amlaudit.auditor.cli.main(argv)`, which returns the exit status; a few run the
installed console script in a subprocess to prove no traceback reaches the user.
"""

from __future__ import annotations

import copy
import gzip
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from amlaudit.auditor.check import SEVERITIES, STATUSES
from amlaudit.auditor.cli import main
from amlaudit.auditor.ids import id_key
from amlaudit.auditor.registry import load_checks
from amlaudit.fixtures import build_demo, build_estates

ESTATES = Path(build_estates.__file__).resolve().parent / "estates"
HTML_AVAILABLE = importlib.util.find_spec("amlaudit.reports.html_report") is not None
needs_html = pytest.mark.skipif(not HTML_AVAILABLE, reason="the HTML reporter (reports/html_report.py) is not written yet")
FINDING_KEYS = {"check_id", "status", "severity", "resource_id", "title", "message", "evidence", "remediation",
                "reference", "fingerprint"}


def run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def scan(capsys: pytest.CaptureFixture[str], snapshot: Path | None, out: Path, *extra: str) -> tuple[int, str, str]:
    source = ["--demo"] if snapshot is None else ["--snapshot", snapshot]
    return run(capsys, "scan", *source, "--out", out, "--format", "json", *extra)


def estate_document(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((ESTATES / f"{name}.json").read_text())
    return document


def write_json(path: Path, document: Any) -> Path:
    path.write_text(json.dumps(document))
    return path


def assert_one_line_error(err: str) -> None:
    assert "Traceback" not in err
    lines = err.strip("\n").split("\n")
    assert len(lines) == 1 and lines[0].startswith("amlaudit: error: "), err


# -- scan: outputs and the findings contract -------------------------------------------------------


def test_scan_demo_writes_findings_json_and_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    status, stdout, _ = scan(capsys, None, out)
    assert status == 1
    assert sorted(p.name for p in out.iterdir()) == ["findings.json"]
    assert json.loads((out / "findings.json").read_text())["summary"]["fail"] > 0
    assert "exit 1" in stdout


@needs_html
def test_scan_demo_with_default_formats_writes_the_html_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    status, _, _ = run(capsys, "scan", "--demo", "--out", out)
    assert status == 1
    assert sorted(p.name for p in out.iterdir()) == ["findings.json", "report.html"]
    html = (out / "report.html").read_text(encoding="utf-8")
    assert html.lstrip().lower().startswith("<!doctype html") and "mlw-fraud-detection" in html


def test_quiet_scan_prints_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, stdout, stderr = scan(capsys, ESTATES / "clean.json", tmp_path / "out", "--quiet")
    assert (status, stdout, stderr) == (0, "", "")


def test_findings_json_follows_the_contract(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    assert scan(capsys, None, first)[0] == 1
    assert scan(capsys, None, second)[0] == 1
    document = json.loads((first / "findings.json").read_text())

    assert document["format"] == "amlaudit.findings/v1"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", document["generated_at"])
    assert document["tool"]["name"] == "amlaudit" and document["tool"]["version"]
    findings = document["findings"]
    assert findings and all(set(f) >= FINDING_KEYS for f in findings)
    assert {f["status"] for f in findings} <= set(STATUSES)
    assert {f["severity"] for f in findings} <= set(SEVERITIES)
    assert document["summary"] == {s: sum(1 for f in findings if f["status"] == s) for s in STATUSES}
    registered = {c.id: c.severity for c in load_checks()}
    assert all(registered[f["check_id"]] == f["severity"] for f in findings)
    assert all(f["resource_id"].startswith("/subscriptions/") for f in findings)
    pairs = [(f["check_id"], id_key(f["resource_id"])) for f in findings]
    assert len(pairs) == len(set(pairs)), "a (check, subject) pair reported twice"
    fingerprints = [f["fingerprint"] for f in findings]
    assert len(set(fingerprints)) == len(fingerprints)
    assert all(re.fullmatch(r"[0-9a-f]{16,64}", fp) for fp in fingerprints)

    rerun = json.loads((second / "findings.json").read_text())["findings"]
    assert {(f["check_id"], f["resource_id"]): f["fingerprint"] for f in rerun} == {
        (f["check_id"], f["resource_id"]): f["fingerprint"] for f in findings}

    (collection_error,) = document["errors"]
    assert collection_error["status"] == 403 and collection_error["scope"].endswith("/vaults/kv-mkt-sandbox")


def test_fingerprints_ignore_the_case_of_resource_ids(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    document = estate_document("shared-dependencies")
    upper = copy.deepcopy(document)
    for resource in upper["resources"]:
        if resource["type"] == "Microsoft.Storage/storageAccounts":
            resource["id"] = resource["id"].upper()
    for doc, name in ((document, "as-is"), (upper, "upper")):
        scan(capsys, write_json(tmp_path / f"{name}.json", doc), tmp_path / name)
    prints = [{f["check_id"] + " " + id_key(f["resource_id"]): f["fingerprint"]
               for f in json.loads((tmp_path / name / "findings.json").read_text())["findings"]}
              for name in ("as-is", "upper")]
    assert prints[0] == prints[1]


# -- checks and explain ------------------------------------------------------------------------------


def test_checks_lists_every_registered_check(capsys: pytest.CaptureFixture[str]) -> None:
    status, stdout, _ = run(capsys, "checks")
    assert status == 0
    ids = [c.id for c in load_checks()]
    assert len(ids) >= 16 and all(check_id in stdout for check_id in ids)
    status, stdout, _ = run(capsys, "checks", "--json")
    assert status == 0
    assert [row["id"] for row in json.loads(stdout)] == ids


def test_explain_shows_the_catalog_row(capsys: pytest.CaptureFixture[str]) -> None:
    status, stdout, _ = run(capsys, "explain", "storage-trusted-services")
    assert status == 0
    assert stdout.startswith("storage-trusted-services  [high]")
    for label in ("Subject:", "Applies when:", "Passes when:", "Source:", "Why:", "Remediation:", "Reference:"):
        assert label in stdout


def test_explain_an_unknown_check_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    status, stdout, stderr = run(capsys, "explain", "no-such-check")
    assert status == 2 and stdout == ""
    assert_one_line_error(stderr)
    assert "no-such-check" in stderr


# -- exit statuses -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["clean", "broken", "partial", "shared-dependencies"])
def test_exit_status_of_each_fixture_estate(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, stdout, _ = scan(capsys, ESTATES / f"{name}.json", tmp_path / "out")
    assert status == build_estates.EXPECTED_EXIT[name]
    assert f"exit {status}" in stdout


def test_fail_on_critical_ignores_lesser_failures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # shared-dependencies fails only a high-severity check (storage-vnet-rule).
    snapshot = ESTATES / "shared-dependencies.json"
    assert scan(capsys, snapshot, tmp_path / "a")[0] == 1
    assert scan(capsys, snapshot, tmp_path / "b", "--fail-on", "high")[0] == 1
    assert scan(capsys, snapshot, tmp_path / "c", "--fail-on", "critical")[0] == 0
    assert scan(capsys, snapshot, tmp_path / "d", "--fail-on", "CRITICAL")[0] == 0


def test_fail_on_critical_with_an_incomplete_audit_exits_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    document = estate_document("shared-dependencies")
    vault = next(r for r in document["resources"] if r["type"] == "Microsoft.KeyVault/vaults")
    document["resources"].remove(vault)
    document["errors"].append({"scope": vault["id"], "operation": "Microsoft.KeyVault/vaults/read", "status": 403,
                               "code": "AuthorizationFailed", "message": "no access"})
    snapshot = write_json(tmp_path / "s.json", document)
    assert scan(capsys, snapshot, tmp_path / "a")[0] == 1
    assert scan(capsys, snapshot, tmp_path / "b", "--fail-on", "critical")[0] == 3


def test_fail_on_from_the_config_file_and_the_flag_overrides_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "amlaudit.toml"
    config.write_text('fail_on = "critical"\nformat = ["json"]\n')
    snapshot = ESTATES / "shared-dependencies.json"
    assert run(capsys, "scan", "--snapshot", snapshot, "--out", tmp_path / "a", "--config", config)[0] == 0
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["findings.json"]
    assert run(capsys, "scan", "--snapshot", snapshot, "--out", tmp_path / "b", "--config", config, "--fail-on", "low")[0] == 1


def test_save_snapshot_round_trips_the_demo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    saved = tmp_path / "demo-copy.json.gz"
    assert scan(capsys, None, tmp_path / "a", "--save-snapshot", str(saved))[0] == 1
    assert json.loads(gzip.decompress(saved.read_bytes())) == build_demo.build()[0]
    assert scan(capsys, saved, tmp_path / "b")[0] == 1
    findings = [json.loads((tmp_path / d / "findings.json").read_text())["findings"] for d in ("a", "b")]
    assert [(f["fingerprint"], f["status"]) for f in findings[0]] == [(f["fingerprint"], f["status"]) for f in findings[1]]


# -- bad input: exit 2, one line on stderr, nothing written ------------------------------------------------

BadCase = Callable[[Path], list[str]]


def _snapshot_file(content: bytes, name: str = "snapshot.json") -> BadCase:
    def make(tmp_path: Path) -> list[str]:
        path = tmp_path / name
        path.write_bytes(content)
        return ["--snapshot", str(path)]
    return make


def _mutated(mutate: Callable[[dict[str, Any]], Any]) -> BadCase:
    def make(tmp_path: Path) -> list[str]:
        document = estate_document("clean")
        mutate(document)
        return ["--snapshot", str(write_json(tmp_path / "snapshot.json", document))]
    return make


def _config(text: str | None) -> BadCase:
    def make(tmp_path: Path) -> list[str]:
        path = tmp_path / "amlaudit.toml"
        if text is not None:
            path.write_text(text)
        return ["--snapshot", str(ESTATES / "clean.json"), "--config", str(path)]
    return make


def _set_id(document: dict[str, Any], value: Any) -> None:
    document["resources"][0]["id"] = value


CLEAN_BYTES = (ESTATES / "clean.json").read_bytes()
DEMO_GZ = (Path(build_demo.__file__).parent / "demo.json.gz").read_bytes()
BAD_INPUTS: dict[str, BadCase] = {
    "truncated JSON": _snapshot_file(CLEAN_BYTES[: len(CLEAN_BYTES) // 2]),
    "not JSON": _snapshot_file(b"resources: [this is not json]\n"),
    "corrupt gzip": _snapshot_file(b"\x1f\x8b\x08\x00" + b"\x00not a deflate stream" * 4, "snapshot.json.gz"),
    "truncated gzip": _snapshot_file(DEMO_GZ[: len(DEMO_GZ) // 2], "snapshot.json.gz"),
    "empty file": _snapshot_file(b""),
    "JSON but not an object": _snapshot_file(b'["amlaudit.snapshot/v1"]'),
    "wrong format": _mutated(lambda d: d.update(format="amlaudit.snapshot/v2")),
    "resources is a string": _mutated(lambda d: d.update(resources="x")),
    "resource without id": _mutated(lambda d: d["resources"][0].pop("id")),
    "resource with a numeric id": _mutated(lambda d: _set_id(d, 42)),
    "resource with a null id": _mutated(lambda d: _set_id(d, None)),
    "usage without a name": _mutated(lambda d: d["usages"][0]["value"][0].pop("name")),
    "missing file": lambda tmp_path: ["--snapshot", str(tmp_path / "nowhere.json")],
    "a directory": lambda tmp_path: ["--snapshot", str(tmp_path)],
    "an unknown flag": lambda tmp_path: ["--snapshot", str(ESTATES / "clean.json"), "--no-such-flag"],
    "an unknown format": lambda tmp_path: ["--snapshot", str(ESTATES / "clean.json"), "--format", "json,pdf"],
    "an unknown --fail-on": lambda tmp_path: ["--snapshot", str(ESTATES / "clean.json"), "--fail-on", "severe"],
    "--snapshot with --demo": lambda tmp_path: ["--snapshot", str(ESTATES / "clean.json"), "--demo"],
    "config: missing file": _config(None),
    "config: not TOML": _config("fail_on = \n"),
    "config: unknown key": _config('fail_onn = "high"\n'),
    "config: bad value": _config('fail_on = "severe"\n'),
    "config: wrong type": _config("planned_new_clusters = \"two\"\n"),
}


@pytest.fixture(scope="module")
def earlier_run_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """What an earlier, successful run left in --out."""
    out = tmp_path_factory.mktemp("earlier") / "out"
    assert main(["scan", "--snapshot", str(ESTATES / "broken.json"), "--out", str(out), "--quiet"]) == 1
    return {p.name: p.read_bytes() for p in out.iterdir()}


@pytest.mark.parametrize("earlier_run", [False, True], ids=["fresh out dir", "out dir from an earlier run"])
@pytest.mark.parametrize("case", list(BAD_INPUTS), ids=list(BAD_INPUTS))
def test_bad_input_exits_2_with_one_line_and_writes_nothing(case: str, earlier_run: bool, tmp_path: Path,
                                                            earlier_run_files: dict[str, bytes],
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    before: dict[str, bytes] = {}
    if earlier_run:
        out.mkdir()
        for name, data in earlier_run_files.items():
            (out / name).write_bytes(data)
        before = dict(earlier_run_files)
        assert "findings.json" in before
    args = BAD_INPUTS[case](tmp_path)
    status, stdout, stderr = run(capsys, "scan", "--out", out, "--format", "json", *args)
    assert status == 2
    assert_one_line_error(stderr)
    assert "exit " not in stdout
    after = {p.name: p.read_bytes() for p in out.iterdir()} if out.exists() else {}
    assert after == before


def test_an_out_path_that_is_a_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "out"
    blocker.write_text("not a directory")
    status, _, stderr = scan(capsys, ESTATES / "clean.json", blocker)
    assert status == 2
    assert_one_line_error(stderr)
    assert blocker.read_text() == "not a directory"


def test_an_unwritable_out_dir_leaves_no_saved_snapshot_behind(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a-file").write_text("")
    saved = tmp_path / "saved.json.gz"
    status, _, stderr = scan(capsys, None, tmp_path / "a-file" / "out", "--save-snapshot", str(saved))
    assert status == 2
    assert_one_line_error(stderr)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


# -- odd shapes inside a valid snapshot never crash the scan ---------------------------------------------


def _shape_paths(document: dict[str, Any]) -> list[tuple[str, tuple[str, ...]]]:
    """(resource type, path under the resource) for every value in the estate; list items as '*'."""
    found: set[tuple[str, tuple[str, ...]]] = set()

    def walk(kind: str, value: Any, path: tuple[str, ...]) -> None:
        items = value.items() if isinstance(value, dict) else (("*", v) for v in value) if isinstance(value, list) else ()
        for key, child in items:
            found.add((kind, (*path, key)))
            walk(kind, child, (*path, key))

    for resource in document["resources"]:
        walk(resource["type"], resource.get("properties"), ("properties",))
    return sorted(found)


def _replace(value: Any, path: tuple[str, ...], odd: Callable[[Any], Any]) -> None:
    head, rest = path[0], path[1:]
    if head == "*" and isinstance(value, list):
        children: list[Any] = list(range(len(value)))
    else:
        children = [head] if isinstance(value, dict) and head in value else []
    for child in children:
        if rest:
            _replace(value[child], rest, odd)
        else:
            value[child] = odd(value[child])


def _wrong_type(value: Any) -> Any:
    """A value of another JSON type than `value`."""
    if isinstance(value, dict):
        return "x"
    if isinstance(value, list):
        return {"id": 3}
    if isinstance(value, str):
        return 7
    return ["x"]


CLEAN = estate_document("clean")
SHAPE_PATHS = _shape_paths(CLEAN)
# Paths are dealt round-robin (sorted, so a path and its parent land in different groups) and
# each group is mutated at once: every path is exercised in a few dozen scans instead of hundreds.
SHAPE_GROUPS = 24
ODD_KINDS: dict[str, Callable[[Any], Any]] = {"wrong type": _wrong_type, "null": lambda value: None}


def _scan_mutated(capsys: pytest.CaptureFixture[str], paths: list[tuple[str, tuple[str, ...]]],
                  odd: Callable[[Any], Any]) -> tuple[int, str]:
    document = copy.deepcopy(CLEAN)
    for kind, path in paths:
        for resource in document["resources"]:
            if resource["type"] == kind:
                _replace(resource, path, odd)
    with tempfile.TemporaryDirectory() as work:
        snapshot = write_json(Path(work) / "s.json", document)
        try:
            status, _, stderr = run(capsys, "scan", "--snapshot", snapshot, "--out", Path(work) / "out",
                                    "--format", "json,html" if HTML_AVAILABLE else "json")
        except Exception as exc:  # noqa: BLE001 - the point is to name the shape that crashed the scan
            return -1, f"{type(exc).__name__}: {exc}"
    return status, stderr


@pytest.mark.parametrize("odd_kind", list(ODD_KINDS))
@pytest.mark.parametrize("group", range(SHAPE_GROUPS))
def test_odd_shapes_in_a_valid_snapshot_never_crash_the_scan(group: int, odd_kind: str,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    paths = SHAPE_PATHS[group::SHAPE_GROUPS]
    odd = ODD_KINDS[odd_kind]
    status, stderr = _scan_mutated(capsys, paths, odd)
    if status not in (0, 1, 3) or stderr:
        culprits = [f"{kind} {'.'.join(path)}: {_scan_mutated(capsys, [(kind, path)], odd)}" for kind, path in paths]
        pytest.fail(f"scan gave {status} {stderr!r}; one path at a time:\n" + "\n".join(culprits))


# -- the installed console script -----------------------------------------------------------------------


def _console_script() -> str:
    script = Path(sys.executable).with_name("amlaudit")
    if not script.exists():
        pytest.skip("the amlaudit console script is not installed beside this Python")
    return str(script)


def test_console_script_reports_bad_input_without_a_traceback(tmp_path: Path) -> None:
    truncated = tmp_path / "truncated.json"
    truncated.write_bytes(CLEAN_BYTES[:1000])
    out = tmp_path / "out"
    done = subprocess.run([_console_script(), "scan", "--snapshot", str(truncated), "--out", str(out)],
                          capture_output=True, text=True, cwd=tmp_path, env=dict(os.environ), timeout=120)
    assert done.returncode == 2
    assert_one_line_error(done.stderr)
    assert done.stdout == "" and not out.exists()


def test_console_script_scans_the_demo(tmp_path: Path) -> None:
    done = subprocess.run([_console_script(), "scan", "--demo", "--format", "json", "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, cwd=tmp_path, env=dict(os.environ), timeout=120)
    assert done.returncode == 1, done.stderr
    assert done.stderr == ""
    assert (tmp_path / "out" / "findings.json").exists()
