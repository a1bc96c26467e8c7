"""`amlaudit scan --format sarif,junit,csv,xlsx,ocsf,markdown`: every machine format from the command line."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from junitparser import JUnitXml

from amlaudit.auditor.cli import main
from amlaudit.auditor.registry import load_reporters
from amlaudit.reports.junit_report import JunitReporter
from amlaudit.reports.markdown_report import MarkdownReporter
from amlaudit.reports.ocsf_report import OcsfReporter
from amlaudit.reports.sarif_report import SarifReporter
from amlaudit.reports.table_report import CsvReporter, XlsxReporter

FORMATS = {
    "sarif": (SarifReporter, "findings.sarif"),
    "junit": (JunitReporter, "junit.xml"),
    "csv": (CsvReporter, "findings.csv"),
    "xlsx": (XlsxReporter, "findings.xlsx"),
    "ocsf": (OcsfReporter, "findings.ocsf.json"),
    "markdown": (MarkdownReporter, "summary.md"),
}


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_each_format_is_registered_under_its_name(name: str) -> None:
    reporter, filename = FORMATS[name]
    assert load_reporters([name])[name] is reporter
    assert reporter.filename == filename


def test_scan_demo_writes_every_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    status = main(["scan", "--demo", "--out", str(out), "--format", ",".join(FORMATS)])
    _, err = capsys.readouterr()
    assert status == 1 and err == ""
    assert sorted(p.name for p in out.iterdir()) == sorted(["findings.json", *(f for _, f in FORMATS.values())])
    findings = json.loads((out / "findings.json").read_text())["findings"]
    assert len(json.loads((out / "findings.ocsf.json").read_text())) == len(findings)
    assert len(pd.read_csv(out / "findings.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig")) == len(findings)
    assert len(pd.read_excel(io.BytesIO((out / "findings.xlsx").read_bytes()), sheet_name="findings")) == len(findings)
    errors = json.loads((out / "findings.json").read_text())["errors"]
    assert JUnitXml.fromfile(str(out / "junit.xml")).tests == len(findings) + len(errors)  # + the collection suite
    sarif = json.loads((out / "findings.sarif").read_text())
    assert len(sarif["runs"][0]["results"]) == sum(1 for f in findings if f["status"] in ("fail", "error"))
    assert (out / "summary.md").read_text(encoding="utf-8").startswith("## amlaudit:")


def test_formats_repeat_and_mix_with_the_defaults(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(["scan", "--demo", "--out", str(out), "--format", "markdown", "--format", "SARIF,markdown", "-q"]) == 1
    assert sorted(p.name for p in out.iterdir()) == ["findings.json", "findings.sarif", "summary.md"]


_IMPORTS_PROBE = """
import json, sys
from amlaudit.auditor.cli import main
status = main(["scan", "--demo", "--out", sys.argv[1], "--format", sys.argv[2], "--quiet"])
print(json.dumps({"status": status, "loaded": sorted(m for m in ("pandas", "xlsxwriter", "py_ocsf_models") if m in sys.modules)}))
"""


@pytest.mark.parametrize(("formats", "loaded"), [
    ("json,html", []),  # the default scan loads none of the formats' libraries
    ("json,html,sarif,junit,csv,markdown", []),  # the CSV is written with the standard library
    ("json,csv,xlsx", ["pandas", "xlsxwriter"]),  # the workbook's summary sheet is a pandas table
    ("json,ocsf", ["py_ocsf_models"]),
])
def test_a_format_loads_its_libraries_only_when_asked_for(tmp_path: Path, formats: str, loaded: list[str]) -> None:
    # A fresh interpreter (this one has imported everything) with one render process, so what
    # a worker would import is seen here too.
    env = {**os.environ, "AMLAUDIT_RENDER_WORKERS": "0"}
    done = subprocess.run([sys.executable, "-c", _IMPORTS_PROBE, str(tmp_path / "out"), formats], env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer == {"status": answer["status"], "loaded": loaded} and answer["status"] in (1, 3)
