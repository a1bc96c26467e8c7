"""`findings.csv` and `findings.xlsx`: one row per finding, for security reviewers' spreadsheets.

Both files come from one pandas table (`findings_table`) with a stable, documented
column order (`COLUMNS`, docs/formats.md); the workbook adds a per-check summary sheet.

Resource names, tags and messages are Azure data, so an attacker who can name a
resource controls cell text. A spreadsheet runs a cell that starts with `=`, `+`, `-`
or `@` (or a tab, carriage return or NUL before such text) as a formula, so:
  * in the CSV, such a cell is prefixed with `'`, as OWASP's CSV-injection guidance
    says (the file is text; the apostrophe is what spreadsheets honour);
  * in the workbook every text cell is written as a string cell, never a formula, a
    number or a hyperlink (xlsxwriter's `strings_to_formulas`/`_urls`/`_numbers` off),
    so the value is kept exactly and nothing in it is evaluated.

The workbook is written with xlsxwriter from the pandas tables; a cell longer than
Excel's 32,767 characters is cut and says so.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Iterable
from typing import Any

import pandas as pd
import xlsxwriter

from amlaudit.auditor.findings import AuditResult, Finding
from amlaudit.reports.common import STATUS_ORDER, evidence_text, is_accepted, subject

COLUMNS: tuple[str, ...] = (
    "check_id", "severity", "status", "resource_id", "resource_name", "resource_type", "resource_group",
    "subscription", "title", "message", "evidence", "remediation", "reference", "fingerprint",
    "waiver_expires", "waiver_owner", "waiver_reason", "waiver_selector", "baseline",
)
SUMMARY_COLUMNS: tuple[str, ...] = (
    "check_id", "title", "severity", "fail", "accepted", "error", "pass", "not_applicable", "other", "total",
    "baseline_new", "baseline_persisting",
)
FINDINGS_SHEET = "findings"
EXCEL_CELL_LIMIT = 32_767  # characters a cell holds
_CUT_MARK = "\u2026 (cut at Excel's cell limit; findings.json has all of it)"
SUMMARY_SHEET = "summary by check"

# OWASP: cells starting with these are read as formulas (the full-width forms too, by some
# locales' spreadsheets).
_FORMULA_TRIGGERS = ("=", "+", "-", "@", "\uff1d", "\uff0b", "\uff0d", "\uff20")
_CONTROL_STARTS = ("\t", "\r", "\0")  # OWASP lists these openers too
_LEADING = " \t\r\n\0"  # what may stand before a trigger and hide it
_RISKY_FIRST = frozenset(_FORMULA_TRIGGERS) | frozenset(_LEADING)  # a cell starting otherwise is safe


def neutralise_formula(text: str) -> str:
    """`text`, prefixed with `'` when a spreadsheet would run it as a formula."""
    if text.startswith(_CONTROL_STARTS) or text.lstrip(_LEADING).startswith(_FORMULA_TRIGGERS):
        return "'" + text
    return text


def _row(finding: Finding) -> tuple[Any, ...]:
    where = subject(finding.resource_id)
    waiver = finding.waiver or {}
    return (
        finding.check_id, finding.severity, finding.status, finding.resource_id, where.name if finding.resource_id else "",
        where.type, where.resource_group, where.subscription, finding.title, finding.message,
        evidence_text(finding.evidence), finding.remediation, finding.reference, finding.fingerprint,
        _text(waiver.get("expires")), _text(waiver.get("owner")), _text(waiver.get("reason")),
        _text(waiver.get("selector")), finding.baseline or "",
    )


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def findings_table(findings: Iterable[Finding]) -> pd.DataFrame:
    """One row per finding in the run's order, every cell text, columns in `COLUMNS` order."""
    return pd.DataFrame.from_records([_row(f) for f in findings], columns=list(COLUMNS))


class _LastTable:
    """The table of the findings rendered last: the CSV and the workbook of one run share it.

    Keyed by the findings themselves (a tuple compared item by item, identity first, so a
    hit costs one pointer comparison per finding and a changed list is never served an old
    table). One entry: building the table is a third of either report's time at 25,000
    findings, and keeping more than the current run's would only hold memory.
    """

    def __init__(self) -> None:
        self._key: tuple[Finding, ...] | None = None
        self._table: pd.DataFrame | None = None

    def of(self, findings: Iterable[Finding]) -> pd.DataFrame:
        key = tuple(findings)
        if self._table is None or self._key != key:
            self._key, self._table = key, findings_table(key)
        return self._table


_last_table = _LastTable()


def summary_table(result: AuditResult) -> pd.DataFrame:
    """Per check (catalog order, then checks only the findings name): counts per status.

    `accepted` counts the failures a waiver accepts (they are also in `fail`); `other`
    counts statuses this version does not know. The baseline columns are empty when
    the run had no baseline.
    """
    titles = {c.id: (c.title, c.severity) for c in result.checks}
    counts: dict[str, Counter[str]] = {c.id: Counter() for c in result.checks}
    any_baseline = False
    for finding in result.findings:
        if finding.check_id not in counts:
            counts[finding.check_id] = Counter()
            titles[finding.check_id] = (finding.title, finding.severity)
        tally = counts[finding.check_id]
        tally[finding.status if finding.status in STATUS_ORDER else "other"] += 1
        tally["accepted"] += is_accepted(finding)
        if finding.baseline is not None:
            any_baseline = True
            tally[f"baseline_{finding.baseline}"] += 1
    rows = []
    for check_id, tally in counts.items():
        title, severity = titles[check_id]
        statuses = [tally[s] for s in ("fail", "accepted", "error", "pass", "not_applicable", "other")]
        total = sum(tally[s] for s in (*STATUS_ORDER, "other"))
        baseline = [tally["baseline_new"], tally["baseline_persisting"]] if any_baseline else [pd.NA, pd.NA]
        rows.append([check_id, title, severity, *statuses, total, *baseline])
    table = pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))
    return table.astype({name: "Int64" for name in SUMMARY_COLUMNS[3:]})


class CsvReporter:
    filename = "findings.csv"

    def render(self, result: AuditResult) -> bytes:
        table = _last_table.of(result.findings)
        table = pd.DataFrame({column: [neutralise_formula(v) if v[:1] in _RISKY_FIRST else v for v in table[column]]
                              for column in table.columns})
        # UTF-8 with a byte-order mark so Excel reads non-ASCII names right; CRLF as RFC 4180 says.
        return table.to_csv(index=False, lineterminator="\r\n").encode("utf-8-sig")


class XlsxReporter:
    filename = "findings.xlsx"

    def render(self, result: AuditResult) -> bytes:
        buffer = io.BytesIO()
        # Text stays text: no formula, hyperlink or number is ever made from a cell's content.
        workbook = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_formulas": False,
                                                "strings_to_urls": False, "strings_to_numbers": False})
        bold = workbook.add_format({"bold": True})
        _write_sheet(workbook, FINDINGS_SHEET, _last_table.of(result.findings), bold)
        _write_sheet(workbook, SUMMARY_SHEET, summary_table(result), bold)
        workbook.close()
        return buffer.getvalue()


def excel_cell(text: str) -> str:
    """A cell's text within Excel's 32,767-character limit (the cut is marked; findings.json has it all)."""
    if len(text) <= EXCEL_CELL_LIMIT:
        return text
    return text[: EXCEL_CELL_LIMIT - len(_CUT_MARK)] + _CUT_MARK


def _write_sheet(workbook: xlsxwriter.Workbook, name: str, table: pd.DataFrame, header_format: Any) -> None:
    """The frame written column by column with xlsxwriter (pandas' `to_excel` formats every cell
    through Python objects of its own: twice the time for 25,000 findings)."""
    sheet = workbook.add_worksheet(name)
    sheet.write_row(0, 0, list(table.columns), header_format)
    sheet.freeze_panes(1, 0)
    for index, column in enumerate(table.columns):
        values = table[column].tolist()
        if pd.api.types.is_string_dtype(table[column]):
            write = sheet.write_string
            for row, value in enumerate(values, start=1):
                if value:  # an empty cell is left blank
                    write(row, index, excel_cell(value) if len(value) > EXCEL_CELL_LIMIT else value)
        else:  # the summary's counts; an empty baseline count is a blank cell
            sheet.write_column(1, index, [None if pd.isna(v) else int(v) for v in values])
    sheet.autofilter(0, 0, len(table), len(table.columns) - 1)
