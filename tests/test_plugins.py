"""Third-party check packs register through `amlaudit.checks` exactly as the built-in pack does.

Each test writes a pack and its `*.dist-info` (METADATA + entry_points.txt) into
tmp_path and puts tmp_path on sys.path, which is all `importlib.metadata`
needs to see an installed distribution.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import re
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import amlaudit.checks as builtin_pack
from amlaudit.auditor.check import Check
from amlaudit.auditor.cli import main
from amlaudit.auditor.registry import CHECK_GROUP, RegistryError, load_checks
from tests.estates import EstateBuilder

DOCS = Path(__file__).resolve().parent.parent / "docs" / "writing-checks.md"

ACME_CHECK = '''
"""ACME's naming rule."""

from amlaudit.auditor.check import check, failed, passed


@check(id="acme-workspace-naming", title="Workspace names start with mlw-", severity="medium",
       subject="workspace", applies="always", passes="the name starts with mlw-", source="Naming standard 1.2",
       document="ACME cloud naming standard", reference="https://acme.example/standards/naming",
       rationale="Operators find workspaces by prefix.", remediation="Recreate the workspace with an mlw- name.")
def workspace_naming(estate, settings):
    for workspace in estate.workspaces:
        if workspace.name.startswith("mlw-"):
            yield passed(workspace, f"{workspace.name} starts with mlw-", name=workspace.name)
        else:
            yield failed(workspace, f"{workspace.name} does not start with mlw-", name=workspace.name)


CHECKS = [workspace_naming]
'''


def install_pack(root: Path, package: str, files: dict[str, str], entry_points: dict[str, str],
                 distribution: str | None = None, version: str = "0.1") -> None:
    """Write `package` (files relative to root) and the dist-info pip would have written."""
    for relative, source in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
    info = root / f"{distribution or package}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {distribution or package}\nVersion: {version}\n")
    lines = "".join(f"{name} = {value}\n" for name, value in entry_points.items())
    (info / "entry_points.txt").write_text(f"[{CHECK_GROUP}]\n{lines}")


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A directory on sys.path standing in for site-packages; packs imported from it are forgotten afterwards."""
    root = tmp_path / "site-packages"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    before = set(sys.modules)
    yield root
    for name in set(sys.modules) - before:
        module_file = getattr(sys.modules[name], "__file__", None) or ""
        if module_file.startswith(str(root)):
            del sys.modules[name]


@pytest.fixture
def acme(site: Path) -> Path:
    install_pack(site, "acme_checks", {"acme_checks/__init__.py": ACME_CHECK}, {"acme": "acme_checks"})
    return site


def _snapshot_file(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    b = EstateBuilder()
    good = b.workspace("mlw-prod", storage=b.storage_account(default_action="Deny", bypass="AzureServices"))
    bad = b.workspace("analytics")
    path = tmp_path / "estate.json"
    path.write_text(json.dumps(b.document()))
    return path, {"good": good["id"], "bad": bad["id"]}


def _one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, f"expected one line, got {lines!r}"
    return lines[0]


def test_load_checks_holds_the_builtin_pack_then_the_third_party_one(acme: Path) -> None:
    loaded = load_checks()
    ids = [c.id for c in loaded]
    builtin_ids = [c.id for c in builtin_pack.CHECKS]
    assert ids == [*builtin_ids, "acme-workspace-naming"]
    acme_check = loaded[-1]
    assert isinstance(acme_check, Check)
    assert acme_check is sys.modules["acme_checks"].CHECKS[0]
    assert acme_check.reference_text == "https://acme.example/standards/naming (ACME cloud naming standard: Naming standard 1.2)"
    # Same mechanism for both: the built-in pack is just the entry point named `builtin`.
    from importlib.metadata import entry_points

    registered = {ep.name: ep.value for ep in entry_points(group=CHECK_GROUP)}
    assert registered["builtin"] == "amlaudit.checks" and registered["acme"] == "acme_checks"


def test_without_the_pack_only_builtin_checks_load() -> None:
    assert [c.id for c in load_checks()] == [c.id for c in builtin_pack.CHECKS]


def test_cli_lists_and_explains_the_pack(acme: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["checks"]) == 0
    listing = capsys.readouterr().out
    assert "acme-workspace-naming" in listing
    assert f"{len(builtin_pack.CHECKS) + 1} checks" in listing

    assert main(["checks", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in rows][-1] == "acme-workspace-naming"
    assert rows[-1]["severity"] == "medium" and rows[-1]["subject"] == "workspace"

    assert main(["explain", "acme-workspace-naming"]) == 0
    assert "Workspace names start with mlw-" in capsys.readouterr().out


def test_scan_reports_the_pack_findings(acme: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    snapshot, ids = _snapshot_file(tmp_path)
    out = tmp_path / "out"
    status = main(["scan", "--snapshot", str(snapshot), "--out", str(out), "--format", "json,html", "-q"])
    assert status == 1  # at least the medium-severity naming failure, at the default --fail-on low
    document = json.loads((out / "findings.json").read_text())
    acme_findings = {f["resource_id"]: f for f in document["findings"] if f["check_id"] == "acme-workspace-naming"}
    assert {rid: f["status"] for rid, f in acme_findings.items()} == {ids["good"]: "pass", ids["bad"]: "fail"}
    assert acme_findings[ids["bad"]]["severity"] == "medium"
    assert acme_findings[ids["bad"]]["evidence"] == {"name": "analytics"}
    assert [c["id"] for c in document["checks"]][-1] == "acme-workspace-naming"
    # The built-in checks ran beside it.
    assert any(f["check_id"] == "storage-trusted-services" for f in document["findings"])

    report = (out / "report.html").read_text()
    assert 'data-check="acme-workspace-naming"' in report
    assert "ACME cloud naming standard: Naming standard 1.2" in report


BROKEN_PACKS = {
    "import-error": {"acme_checks/__init__.py": "import acme_missing_dependency\n"},
    "syntax-error": {"acme_checks/__init__.py": "def broken(:\n"},
    "raises": {"acme_checks/__init__.py": "raise RuntimeError('misconfigured\\nsecond line')\n"},
    "not-checks": {"acme_checks/__init__.py": "CHECKS = ['acme-workspace-naming']\n"},
}


@pytest.mark.parametrize("kind", sorted(BROKEN_PACKS))
@pytest.mark.parametrize("command", [["checks"], ["scan"]])
def test_a_pack_that_cannot_load_stops_the_run_with_one_line(
        kind: str, command: list[str], site: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    install_pack(site, "acme_checks", BROKEN_PACKS[kind], {"acme": "acme_checks"})
    snapshot, _ = _snapshot_file(tmp_path)
    out = tmp_path / "out"
    argv = [*command, "--snapshot", str(snapshot), "--out", str(out)] if command == ["scan"] else command
    assert main(argv) == 2
    captured = capsys.readouterr()
    line = _one_line(captured.err)
    assert line.startswith("amlaudit: error:") and "'acme'" in line
    assert "Traceback" not in captured.err and "acme-workspace-naming" not in captured.out
    assert not out.exists(), "a run that ends with exit 2 writes nothing"


def test_a_check_id_registered_twice_stops_the_run(site: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clash = ACME_CHECK.replace('id="acme-workspace-naming"', 'id="storage-trusted-services"')
    install_pack(site, "acme_checks", {"acme_checks/__init__.py": clash}, {"acme": "acme_checks"})
    with pytest.raises(RegistryError, match="storage-trusted-services"):
        load_checks()

    snapshot, _ = _snapshot_file(tmp_path)
    out = tmp_path / "out"
    assert main(["scan", "--snapshot", str(snapshot), "--out", str(out)]) == 2
    line = _one_line(capsys.readouterr().err)
    assert "'storage-trusted-services' is registered twice" in line
    assert "checks" in line and "acme_checks" in line
    assert not out.exists()
    assert main(["checks"]) == 2


def test_two_third_party_packs_with_one_id_stop_the_run(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    install_pack(site, "acme_checks", {"acme_checks/__init__.py": ACME_CHECK}, {"acme": "acme_checks"})
    install_pack(site, "other_checks", {"other_checks/__init__.py": ACME_CHECK}, {"other": "other_checks"})
    assert main(["checks"]) == 2
    line = _one_line(capsys.readouterr().err)
    assert "'acme-workspace-naming' is registered twice (acme_checks and other_checks)" in line


# -- the worked example in docs/writing-checks.md, built from the document itself ----------------

def documented_files() -> dict[str, str]:
    """Code blocks of the guide whose first line is a comment naming a file: {path: source}."""
    files: dict[str, str] = {}
    for block in re.findall(r"^```(?:python|toml)\n(.*?)^```", DOCS.read_text(), flags=re.S | re.M):
        first, _, rest = block.partition("\n")
        named = re.fullmatch(r"# ([\w./-]+\.(?:py|toml))", first.strip())
        if named:
            files[named.group(1)] = rest
    return files


def test_the_documented_example_pack_registers_and_its_tests_pass(
        site: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = documented_files()
    assert set(files) == {"pyproject.toml", "contoso_aml_checks/__init__.py", "contoso_aml_checks/workspace.py",
                          "tests/test_workspace_public_network_access.py"}
    # The dist-info is what pip would write from the documented pyproject.toml.
    project = tomllib.loads(files["pyproject.toml"])["project"]
    install_pack(site, "contoso_aml_checks",
                 {p: s for p, s in files.items() if p.startswith("contoso_aml_checks/")},
                 project["entry-points"][CHECK_GROUP], distribution=project["name"].replace("-", "_"),
                 version=project["version"])

    ids = [c.id for c in load_checks()]
    assert ids[-1] == "workspace-public-network-access" and ids[:-1] == [c.id for c in builtin_pack.CHECKS]

    # The documented tests, run as the pack's CI would.
    test_file = tmp_path / "pack_tests" / "test_workspace_public_network_access.py"
    test_file.parent.mkdir()
    test_file.write_text(files["tests/test_workspace_public_network_access.py"])
    spec = importlib.util.spec_from_file_location("contoso_pack_tests", test_file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    tests = [fn for name, fn in inspect.getmembers(module, inspect.isfunction) if name.startswith("test_")]
    assert len(tests) >= 4
    for test in tests:
        test()

    # And through the command line, against an estate whose workspace leaves public access on.
    snapshot, ids_by_role = _snapshot_file(tmp_path)
    out = tmp_path / "out"
    assert main(["scan", "--snapshot", str(snapshot), "--out", str(out), "--format", "json", "-q"]) == 1
    findings = json.loads((out / "findings.json").read_text())["findings"]
    statuses = {f["resource_id"]: f["status"] for f in findings if f["check_id"] == "workspace-public-network-access"}
    assert statuses == {ids_by_role["good"]: "fail", ids_by_role["bad"]: "fail"}
    assert main(["explain", "workspace-public-network-access"]) == 0
    explained = capsys.readouterr().out
    assert "Configure a private endpoint for an Azure Machine Learning workspace: Disable public access" in explained


def test_documented_snippets_match_the_registry() -> None:
    """The guide's registration snippet uses the group and value shape the registry loads."""
    text = DOCS.read_text()
    assert f'[project.entry-points."{CHECK_GROUP}"]' in text
    assert 'builtin = "amlaudit.checks"' in text
    pyproject = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text())
    assert pyproject["project"]["entry-points"][CHECK_GROUP] == {"builtin": "amlaudit.checks"}
