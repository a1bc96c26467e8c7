"""findings.csv and findings.xlsx: pandas round trips, the documented columns, no formula from Azure text."""

from __future__ import annotations

import codecs
import csv
import dataclasses
import io
from datetime import datetime

import openpyxl
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amlaudit.auditor.findings import AuditResult
from amlaudit.reports.common import evidence_text
from amlaudit.reports.table_report import (
    COLUMNS,
    EXCEL_CELL_LIMIT,
    FINDINGS_SHEET,
    SUMMARY_COLUMNS,
    SUMMARY_SHEET,
    CsvReporter,
    XlsxReporter,
    csv_bytes,
    findings_table,
    neutralise_formula,
    summary_table,
)
from tests.report_helpers import HOSTILE_NAMES, WAIVER, annotated_demo, demo_result, finding, result, rid, rule

DOCUMENTED_COLUMNS = (
    "check_id", "severity", "status", "resource_id", "resource_name", "resource_type", "resource_group",
    "subscription", "title", "message", "evidence", "remediation", "reference", "fingerprint",
    "waiver_expires", "waiver_owner", "waiver_reason", "waiver_selector", "baseline",
)


def read_csv(audit: AuditResult) -> pd.DataFrame:
    data = CsvReporter().render(audit)
    assert data.startswith(b"\xef\xbb\xbf")  # UTF-8 byte-order mark, for Excel
    return pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False, encoding="utf-8-sig")


def read_xlsx(audit: AuditResult) -> dict[str, pd.DataFrame]:
    return pd.read_excel(io.BytesIO(XlsxReporter().render(audit)), sheet_name=None, dtype=str, keep_default_na=False)


def test_the_column_order_is_the_documented_one() -> None:
    assert COLUMNS == DOCUMENTED_COLUMNS
    assert list(read_csv(demo_result()).columns) == list(DOCUMENTED_COLUMNS)


def test_csv_round_trip_gives_back_one_row_per_finding() -> None:
    demo = demo_result()
    table = read_csv(demo)
    assert len(table) == len(demo.findings)
    pd.testing.assert_frame_equal(table, findings_table(demo.findings).map(neutralise_formula))
    for (_, row), f in zip(table.iterrows(), demo.findings, strict=True):
        assert (row.check_id, row.status, row.resource_id) == (f.check_id, f.status, f.resource_id)
        assert row.fingerprint == f.fingerprint
        assert row.evidence == evidence_text(f.evidence)
    storage = table[table.resource_id.str.endswith("/storageAccounts/stfrauddetect01")].iloc[0]
    assert (storage.resource_name, storage.resource_type, storage.resource_group) == \
        ("stfrauddetect01", "Microsoft.Storage/storageAccounts", "rg-fraud-ml")
    assert storage.subscription == "9b8e7d6c-5a4b-4c3d-8e2f-1a0b9c8d7e02"
    assert "default_action: Deny; network_acls_present: true" in storage.evidence


def test_xlsx_round_trip_and_per_check_summary() -> None:
    demo = demo_result()
    sheets = read_xlsx(demo)
    assert list(sheets) == [FINDINGS_SHEET, SUMMARY_SHEET]
    pd.testing.assert_frame_equal(sheets[FINDINGS_SHEET], findings_table(demo.findings))
    summary = sheets[SUMMARY_SHEET]
    assert list(summary.columns) == list(SUMMARY_COLUMNS)
    assert list(summary.check_id) == [c.id for c in demo.checks]
    for status in ("fail", "error", "pass", "not_applicable"):
        assert summary[status].astype(int).sum() == demo.summary[status]
    assert summary.total.astype(int).sum() == len(demo.findings)
    assert set(summary.accepted) == {"0"} and set(summary.baseline_new) == {""}  # no waivers, no baseline run
    vault = summary[summary.check_id == "keyvault-vnet-rule"].iloc[0]
    assert (vault.fail, vault.error) == ("1", "1")


def test_waiver_and_baseline_columns() -> None:
    annotated = annotated_demo()
    table = read_csv(annotated)
    waived = table[table.waiver_expires != ""]
    assert len(waived) == 1
    row = waived.iloc[0]
    assert (row.status, row.waiver_expires, row.waiver_owner, row.waiver_reason, row.waiver_selector) == \
        ("fail", "2027-03-31", WAIVER["owner"], WAIVER["reason"], "resource")
    assert list(table.baseline) == [f.baseline for f in annotated.findings]
    summary = summary_table(annotated)
    assert int(summary.accepted.sum()) == 1
    assert int(summary.baseline_persisting.sum()) == 2
    assert int(summary.baseline_new.sum()) == len(annotated.findings) - 2


@pytest.mark.parametrize("text", [
    "=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1", "\x00=1", " =1", "\n\t =1", "\uff1d1+1", "\uff20x",
])
def test_formula_triggers_are_neutralised(text: str) -> None:
    assert neutralise_formula(text) == "'" + text


@pytest.mark.parametrize("text", ["", "plain", "a=b", "10.0.0.0/24", "stfrauddetect01", "'quoted"])
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert neutralise_formula(text) == text


def _hostile_result() -> AuditResult:
    c = rule("rule-a")
    findings = [finding(c, "fail", rid(name), message=name, evidence={"tag": name}) for name in HOSTILE_NAMES]
    return result(findings, [c])


def test_csv_cells_from_azure_never_start_a_formula() -> None:
    table = read_csv(_hostile_result())
    for column in ("resource_name", "message"):
        for name, cell in zip(HOSTILE_NAMES, table[column], strict=True):
            if column == "resource_name" and "/" in name:
                continue  # a "/" in a name makes more id segments; the name is its first part
            assert cell == neutralise_formula(name)
    risky = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
    for column in table.columns:
        for cell in table[column]:
            assert not cell.lstrip(" \n").startswith(risky), (column, cell)


def test_xlsx_keeps_hostile_text_exactly_as_string_cells() -> None:
    data = XlsxReporter().render(_hostile_result())
    workbook = openpyxl.load_workbook(io.BytesIO(data))
    sheet = workbook[FINDINGS_SHEET]
    header = [cell.value for cell in sheet[1]]
    message_column = header.index("message") + 1
    for row, name in enumerate(HOSTILE_NAMES, start=2):
        cell = sheet.cell(row=row, column=message_column)
        assert cell.data_type == "s" and cell.hyperlink is None
        # XML cannot hold NUL and similar controls; openpyxl reads them back escaped as _x0000_.
        assert cell.value == name or "_x00" in cell.value
    assert all(cell.data_type in ("s", "n") for row in sheet.iter_rows() for cell in row if cell.value is not None)


def test_xlsx_cuts_a_cell_past_excels_limit_and_says_so() -> None:
    c = rule("rule-a")
    huge = {"routes": ["10.0.0.0/8 -> VirtualAppliance 10.1.1.1"] * 2_000}
    sheets = read_xlsx(result([finding(c, "fail", rid("a"), evidence=huge)], [c]))
    cell = sheets[FINDINGS_SHEET].evidence.iloc[0]
    assert len(cell) == EXCEL_CELL_LIMIT and cell.endswith("findings.json has all of it)")
    assert read_csv(result([finding(c, "fail", rid("a"), evidence=huge)], [c])).evidence.iloc[0] == evidence_text(huge)


def test_non_ascii_names_round_trip() -> None:
    c = rule("rule-a")
    audit = result([finding(c, "pass", rid("störäge-ü"), message="Zürich 東京 ✓")], [c])
    assert read_csv(audit).message.iloc[0] == "Zürich 東京 ✓"
    assert read_xlsx(audit)[FINDINGS_SHEET].message.iloc[0] == "Zürich 東京 ✓"


def test_checks_outside_the_catalog_and_unknown_statuses_are_summarised() -> None:
    known, stray = rule("known"), rule("stray", title="Stray")
    summary = summary_table(result([finding(stray, "suppressed", rid("a")), finding(stray, "fail", rid("b"))], [known]))
    assert list(summary.check_id) == ["known", "stray"]
    stray_row = summary.iloc[1]
    assert (stray_row.title, stray_row.other, stray_row.fail, stray_row.total) == ("Stray", 1, 1, 2)
    assert summary.iloc[0].total == 0


def test_the_csv_and_the_workbook_of_different_findings_never_share_a_table() -> None:
    c = rule("rule-a")
    first = result([finding(c, "fail", rid("first"))], [c])
    second = result([finding(c, "pass", rid("second"))], [c])
    assert read_csv(first).resource_name.tolist() == ["first"]
    assert read_xlsx(second)[FINDINGS_SHEET].resource_name.tolist() == ["second"]
    # The same findings in a new list, and a list changed in place, are rendered from what they hold.
    same = result(list(second.findings), [c])
    assert read_csv(same).resource_name.tolist() == ["second"]
    same.findings.append(finding(c, "error", rid("third")))
    assert read_xlsx(same)[FINDINGS_SHEET].resource_name.tolist() == ["second", "third"]


def test_the_workbook_is_dated_by_the_run_not_by_the_render() -> None:
    c = rule("rule-a")
    audit = result([finding(c, "fail", rid("a"))], [c])  # generated at 2026-01-02T03:04:05Z
    data = XlsxReporter().render(audit)
    assert openpyxl.load_workbook(io.BytesIO(data)).properties.created == datetime(2026, 1, 2, 3, 4, 5)
    # So the same result gives the same file, whenever (and in whichever process) it is rendered.
    assert XlsxReporter().render(dataclasses.replace(audit, findings=list(audit.findings))) == data


# Text a cell may hold: the CSV's delimiter, quote and line-break characters, formula openers,
# controls, spaces at either end, and any other character.
_CELL_TEXT = st.text(alphabet=st.one_of(st.sampled_from(',"\r\n \t\0=+-@\uff1d\'a;'), st.characters(codec="utf-8")), max_size=12)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_CELL_TEXT, _CELL_TEXT, _CELL_TEXT), max_size=8))
def test_csv_cells_are_exactly_what_the_csv_writer_writes(rows: list[tuple[str, str, str]]) -> None:
    # Each distinct value is quoted once and reused: the file must still be the writer's own, byte for byte.
    header = ("a", "b c", 'd"e')
    expected = io.StringIO()
    writer = csv.writer(expected, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([[neutralise_formula(value) for value in row] for row in rows])
    assert csv_bytes(rows, header) == codecs.BOM_UTF8 + expected.getvalue().encode("utf-8")


# --- The findings sheet's rows: written by reports/table_report.py's worksheet class, and
# byte for byte what xlsxwriter itself writes for the same text in `constant_memory` mode.

def _sheet_rows_xml(data: bytes) -> list[str]:
    """The <row> elements of the first sheet under its header, as written."""
    import re
    import zipfile

    sheet = zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml").decode("utf-8")
    rows = re.findall(r"<row [^>]*>.*?</row>", sheet, flags=re.DOTALL)
    return rows[1:]


def _ours(rows: list[tuple[str, ...]]) -> bytes:
    import xlsxwriter

    from amlaudit.reports.table_report import _write_findings_sheet

    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_formulas": False,
                                            "strings_to_urls": False, "strings_to_numbers": False})
    _write_findings_sheet(workbook, rows, workbook.add_format({"bold": True}))
    workbook.close()
    return buffer.getvalue()


def _xlsxwriters_own(rows: list[tuple[str, ...]], path) -> bytes:
    import xlsxwriter

    workbook = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_formulas": False,
                                               "strings_to_urls": False, "strings_to_numbers": False})
    sheet = workbook.add_worksheet(FINDINGS_SHEET)
    sheet.write_row(0, 0, list(COLUMNS), workbook.add_format({"bold": True}))
    for number, row in enumerate(rows, start=1):
        for column, value in enumerate(row):
            if value:
                sheet.write_string(number, column, value)
    workbook.close()
    return path.read_bytes()


# Text of every kind xlsxwriter escapes: XML's specials, controls (XML cannot hold them), a
# literal _xHHHH_, the two non-characters, whitespace at either end (Unicode's too), any character.
_SHEET_PIECES = ["&", "<", ">", '"', "'", "\0", "\x01", "\x0b", "\x1f", "\t", "\n", "\r", " ", "\u00a0", "\u2003",
                 "\ufffe", "\uffff", "_x0041_", "_x00", "_X0041_", "_x004g_", "a", "=", "\u00e9", "\u6771"]
_SHEET_TEXT = st.lists(st.one_of(st.sampled_from(_SHEET_PIECES), st.characters(codec="utf-8")), max_size=8).map("".join)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(_SHEET_TEXT, min_size=len(COLUMNS), max_size=len(COLUMNS)).map(tuple), min_size=1, max_size=5))
def test_the_findings_rows_are_what_xlsxwriter_writes_for_the_same_text(tmp_path_factory, rows) -> None:
    reference = _xlsxwriters_own(rows, tmp_path_factory.mktemp("xlsx") / "own.xlsx")
    assert _sheet_rows_xml(_ours(rows)) == _sheet_rows_xml(reference)


def test_the_findings_sheet_reads_back_every_text_and_its_extent() -> None:
    rows = [tuple(f"{column}{n} &<>'\"\u00e9" if (n + i) % 3 else "" for i, column in enumerate(COLUMNS)) for n in range(40)]
    rows[-1] = ("last",) + ("",) * (len(COLUMNS) - 1)
    data = _ours(rows)
    sheet = pd.read_excel(io.BytesIO(data), sheet_name=FINDINGS_SHEET, dtype=str, keep_default_na=False)
    assert [tuple(row) for row in sheet.itertuples(index=False)] == rows
    workbook = openpyxl.load_workbook(io.BytesIO(data))
    assert workbook[FINDINGS_SHEET].dimensions == f"A1:S{len(rows) + 1}"
    assert workbook[FINDINGS_SHEET].auto_filter.ref == f"A1:S{len(rows) + 1}"


def test_without_a_writable_temporary_folder_the_workbook_is_made_in_memory(tmp_path, monkeypatch) -> None:
    import tempfile

    c = rule("rule-a")
    audit = result([finding(c, "fail", rid("a"), message="kept")], [c])
    expected = XlsxReporter().render(audit)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "absent"))  # xlsxwriter stages its parts there
    data = XlsxReporter().render(audit)
    assert read_xlsx(audit)[FINDINGS_SHEET].message.tolist() == ["kept"]
    assert pd.read_excel(io.BytesIO(data), sheet_name=FINDINGS_SHEET, dtype=str).message.tolist() == ["kept"]
    assert openpyxl.load_workbook(io.BytesIO(data)).properties.created == \
        openpyxl.load_workbook(io.BytesIO(expected)).properties.created
