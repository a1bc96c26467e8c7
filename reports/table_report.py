"""`findings.csv` and `findings.xlsx`: one row per finding, for security reviewers' spreadsheets.

Both files come from one set of rows (`finding_rows`, one tuple of text per finding, in
the stable, documented column order `COLUMNS`, docs/formats.md), built once per run and
shared; `findings_table` is the same rows as a pandas table, and the workbook adds a
per-check summary sheet made with pandas (`summary_table`).

Resource names, tags and messages are Azure data, so an attacker who can name a
resource controls cell text. A spreadsheet runs a cell that starts with `=`, `+`, `-`
or `@` (or a tab, carriage return or NUL before such text) as a formula, so:
  * in the CSV, such a cell is prefixed with `'`, as OWASP's CSV-injection guidance
    says (the file is text; the apostrophe is what spreadsheets honour);
  * in the workbook every text cell is written as a string cell, never a formula, a
    number or a hyperlink (xlsxwriter's `strings_to_formulas`/`_urls`/`_numbers` off),
    so the value is kept exactly and nothing in it is evaluated.

The bytes are written from the rows, not through pandas' writers: the CSV quoted as the
standard library's `csv` writer quotes (each distinct cell once, `_CsvCells`), the
workbook with xlsxwriter, its findings' rows as inline-string cells by a worksheet class
of ours (`_InlineRowsSheet`, the same XML as xlsxwriter's `constant_memory` mode); a
workbook cell longer than Excel's 32,767 characters is cut and says so. pandas and
xlsxwriter are imported when a table or a workbook is made, so a run without csv/xlsx,
or with csv alone, does not load them.
"""

from __future__ import annotations

import codecs
import io
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from functools import cache
from typing import TYPE_CHECKING, Any

from amlaudit.auditor.findings import AuditResult, Finding
from amlaudit.reports.common import STATUS_ORDER, evidence_text, is_accepted, subject

if TYPE_CHECKING:
    import pandas as pd
    import xlsxwriter

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


Row = tuple[str, ...]  # one finding's cells, in `COLUMNS` order, every one text


def finding_row(finding: Finding) -> Row:
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


class _LastRows:
    """The rows of the findings rendered last: the CSV and the workbook of one run share them.

    Keyed by the findings themselves (a tuple compared item by item, identity first, so a
    hit costs one pointer comparison per finding and a changed list is never served old
    rows). One entry: building the rows (evidence flattened to text, subjects read from
    their ids) is the part both formats share, and keeping more than the current run's
    would only hold memory.
    """

    def __init__(self) -> None:
        self._key: tuple[Finding, ...] | None = None
        self._rows: list[Row] = []

    def of(self, findings: Iterable[Finding]) -> list[Row]:
        key = tuple(findings)
        if self._key != key:
            self._key, self._rows = key, [finding_row(f) for f in key]
        return self._rows


_last_rows = _LastRows()


def finding_rows(findings: Iterable[Finding]) -> list[Row]:
    """One row per finding in the run's order: the cells of `COLUMNS`, as text (shared by CSV and XLSX)."""
    return _last_rows.of(findings)


def findings_table(findings: Iterable[Finding]) -> pd.DataFrame:
    """The rows as a pandas table: one row per finding, every cell text, columns in `COLUMNS` order."""
    import pandas as pd

    return pd.DataFrame.from_records(finding_rows(findings), columns=list(COLUMNS))


def summary_table(result: AuditResult) -> pd.DataFrame:
    """Per check (catalog order, then checks only the findings name): counts per status.

    `accepted` counts the failures a waiver accepts (they are also in `fail`); `other`
    counts statuses this version does not know. The baseline columns are empty when
    the run had no baseline.
    """
    import pandas as pd

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
        baseline = [tally["baseline_new"], tally["baseline_persisting"]] if any_baseline else [None, None]
        rows.append([check_id, title, severity, *statuses, total, *baseline])
    table = pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))
    return table.astype({name: "Int64" for name in SUMMARY_COLUMNS[3:]})


CSV_LINE_END = "\r\n"  # RFC 4180


class _CsvCells:
    """Cells as the standard library's CSV writer writes them, each distinct value quoted once.

    The writer (the `excel` dialect, minimal quoting) quotes a field from its own
    characters alone: one holding the delimiter, the quote or a line break is enclosed in
    quotes with each quote doubled (RFC 4180), any other is written as it is. So a field's
    text in a row is the text the writer gives it alone, and a row is its fields joined by
    the delimiter. At 25,000 findings most cells repeat (the checks' titles, remediations
    and references, resource ids): each distinct value is quoted once. The rule is applied
    here with string operations rather than by a `writerow` per value, which copies the
    text a character at a time (0.25 s for the 27 MB of distinct text at 25,000 findings,
    0.05 s here); a property test compares every file with the writer's own, byte for
    byte. The one exception to "alone" is a record of a single empty field, which the
    writer quotes: an empty cell is empty here, as in a row of several fields. Formula
    neutralising is done on the same miss, so each distinct value is checked once.
    """

    def __init__(self) -> None:
        self.known: dict[str, str] = {"": ""}  # value -> its cell text

    def new(self, value: str) -> str:
        text = neutralise_formula(value) if value[:1] in _RISKY_FIRST else value
        if '"' in text:
            text = '"' + text.replace('"', '""') + '"'
        elif "," in text or "\n" in text or "\r" in text:
            text = '"' + text + '"'
        self.known[value] = text
        return text


def csv_bytes(rows: Iterable[Sequence[str]], header: Sequence[str] = COLUMNS) -> bytes:
    """The rows as RFC 4180 CSV in UTF-8 with a byte-order mark (Excel then reads non-ASCII
    names right): CRLF line ends, fields quoted where needed, formula cells neutralised.

    Written a line at a time into one buffer, so the file is held once (not as lines, text
    and bytes at the same time: 150 MB less at 25,000 findings).
    """
    cells = _CsvCells()
    known, new = cells.known.get, cells.new
    out = io.BytesIO()
    out.write(codecs.BOM_UTF8)
    for row in (header, *rows):
        out.write((",".join([cell if (cell := known(value)) is not None else new(value) for value in row])
                   + CSV_LINE_END).encode("utf-8"))
    return out.getvalue()


class CsvReporter:
    # In a worker beside the other formats (auditor/render_workers.py), with the workbook: the
    # two share their rows (0.17 s at 25,000 findings), which the worker then builds once.
    render_apart = True
    filename = "findings.csv"

    def render(self, result: AuditResult) -> bytes:
        return csv_bytes(finding_rows(result.findings))


class XlsxReporter:
    filename = "findings.xlsx"
    # 350,000 cells for 3.5 MB of output: costly for its size; rendered in a worker process
    # beside the other formats, with the CSV (auditor/render_workers.py).
    render_apart = True

    def render(self, result: AuditResult) -> bytes:
        from xlsxwriter.exceptions import FileCreateError

        try:
            return self._workbook(result, in_memory=False)
        except (FileCreateError, OSError):  # no writable temporary folder: the parts are held in memory
            return self._workbook(result, in_memory=True)

    @staticmethod
    def _workbook(result: AuditResult, in_memory: bool) -> bytes:
        """The workbook's bytes.

        Its parts are staged in temporary files (xlsxwriter's default: private, 0600, removed
        as they are zipped), not in memory: held in memory, the findings sheet's XML (66 MB
        at 25,000 findings) is kept as text, then as bytes, then compressed, and the fresh
        memory's page faults cost more time than the files do (0.9 s against 0.7 s).
        """
        import xlsxwriter

        buffer = io.BytesIO()
        # Text stays text: no formula, hyperlink or number is ever made from a cell's content.
        workbook = xlsxwriter.Workbook(buffer, {"in_memory": in_memory, "strings_to_formulas": False,
                                                "strings_to_urls": False, "strings_to_numbers": False})
        created = _run_time(result.generated_at)
        if created is not None:  # the run's time, not the render's: the same result gives the same file
            workbook.set_properties({"created": created})
        bold = workbook.add_format({"bold": True})
        _write_findings_sheet(workbook, finding_rows(result.findings), bold)
        _write_summary_sheet(workbook, summary_table(result), bold)
        workbook.close()
        return buffer.getvalue()


def _run_time(generated_at: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(generated_at)
    except ValueError:
        return None
    # xlsxwriter writes the time as UTC ("…Z").
    return moment.astimezone(timezone.utc) if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def excel_cell(text: str) -> str:
    """A cell's text within Excel's 32,767-character limit (the cut is marked; findings.json has it all)."""
    if len(text) <= EXCEL_CELL_LIMIT:
        return text
    return text[: EXCEL_CELL_LIMIT - len(_CUT_MARK)] + _CUT_MARK


def _sheet(workbook: xlsxwriter.Workbook, name: str, columns: Sequence[str], rows: int, header_format: Any,
           worksheet_class: type | None = None) -> Any:
    sheet = workbook.add_worksheet(name, worksheet_class=worksheet_class)
    sheet.write_row(0, 0, list(columns), header_format)
    sheet.freeze_panes(1, 0)
    sheet.autofilter(0, 0, rows, len(columns) - 1)
    return sheet


def _write_findings_sheet(workbook: xlsxwriter.Workbook, rows: list[Row], header_format: Any) -> None:
    """The header through xlsxwriter, the findings' rows as inline-string cells (`_InlineRowsSheet`)."""
    sheet = _sheet(workbook, FINDINGS_SHEET, COLUMNS, len(rows), header_format, _inline_rows_sheet_class())
    sheet.attach_rows(rows)


@cache  # defined on first use, so that xlsxwriter is imported only for a workbook
def _inline_rows_sheet_class() -> type:
    from xlsxwriter.utility import xl_col_to_name
    from xlsxwriter.worksheet import Worksheet
    from xlsxwriter.xmlwriter import XMLwriter

    class _InlineRowsSheet(Worksheet):  # type: ignore[misc]
        """A worksheet whose data rows are text, written as xlsxwriter's `constant_memory` mode writes them.

        Why: through `write_string`, xlsxwriter spends about 5 µs of Python per cell (the
        cell's record, its dimensions, its shared-string entry, then its XML), 1.6 s of the
        workbook's 1.8 s at 25,000 findings (350,000 cells), and the six machine formats
        must add at most half the scan's time (benchmarks/README.md). Here each row's XML
        is one join, and each distinct text is escaped once and reused (titles, references
        and resource ids repeat thousands of times): 0.4 s for the same rows.

        What is xlsxwriter's and what is ours (the worksheet class is xlsxwriter's documented
        extension point, `add_worksheet(worksheet_class=...)`):
          * the workbook, its styles, properties, the header row, the frozen pane, the
            autofilter and the zip are xlsxwriter's, unchanged;
          * each data row is `<row r="N">` with one `<c r="A1" t="inlineStr"><is><t>...</t></is></c>`
            per non-empty cell, byte for byte what `constant_memory` mode writes for
            `write_string` (a test compares the two on generated text);
          * the text is escaped by xlsxwriter's own functions (control characters to
            `_xHHHH_`, a literal `_xHHHH_` protected, `&`, `<`, `>`), and a text with
            whitespace at either end keeps it (`xml:space="preserve"`), as there. A text
            holding none of the characters those functions change is used as it is.
        Every cell is a string cell, so nothing in it is ever read as a formula, number or link.
        """

        _data_rows: Sequence[Row] = ()

        def attach_rows(self, rows: Sequence[Row]) -> None:
            """The rows under the header (row 2 on), written when the workbook is closed."""
            self._data_rows = rows
            last = next((number for number in range(len(rows), 0, -1) if any(rows[number - 1])), 0)
            if last:
                self._check_dimensions(last, 0)  # the sheet's extent (<dimension>), as a write there would set it

        def _write_rows(self) -> None:
            super()._write_rows()  # the header row, written with write_row
            cell_text: dict[str, str] = {}  # value -> '" t="inlineStr"><is><t>…</t></is></c>'
            openers = [f'<c r="{xl_col_to_name(column)}' for column in range(len(COLUMNS))]
            write = self.fh.write
            for number, row in enumerate(self._data_rows, start=2):
                line = str(number)
                parts = [f'<row r="{line}">']
                for opener, value in zip(openers, row):
                    if value:
                        text = cell_text.get(value)
                        if text is None:
                            text = cell_text[value] = _inline_cell(value)
                        parts.append(opener + line + text)
                if len(parts) > 1:  # a row of empty cells is no row, as in xlsxwriter
                    parts.append("</row>")
                    write("".join(parts))

    escape_controls = XMLwriter._escape_control_characters
    escape_data = XMLwriter._escape_data

    def _inline_cell(value: str) -> str:
        text = excel_cell(value) if len(value) > EXCEL_CELL_LIMIT else value
        special = _SPECIAL.search(text) is not None  # one scan; most texts have none of these
        if special or "_x" in text:
            text = escape_controls(text)
        # xlsxwriter's test (`^\s`, `\s$`) as two character tests: the regex `\s$` tries every
        # position of a long text. Both use Python's Unicode whitespace; `$` also matches
        # before a final newline, itself whitespace.
        preserve = ' xml:space="preserve"' if text[:1].isspace() or text[-1:].isspace() else ""
        if special:
            text = escape_data(None, text)
        return f'" t="inlineStr"><is><t{preserve}>{text}</t></is></c>'

    return _InlineRowsSheet


# What xlsxwriter's escaping changes: control characters (and the two non-characters) become
# `_xHHHH_`, an existing `_xHHHH_` is protected (found by its "_x"), and &, <, > become entities.
_SPECIAL = re.compile(r"[&<>\x00-\x08\x0b-\x1f\ufffe\uffff]")


def _write_summary_sheet(workbook: xlsxwriter.Workbook, table: pd.DataFrame, header_format: Any) -> None:
    """The per-check counts: text columns as strings, counts as numbers, an empty count blank."""
    import pandas as pd

    sheet = _sheet(workbook, SUMMARY_SHEET, list(table.columns), len(table), header_format)
    for index, column in enumerate(table.columns):
        values = table[column].tolist()
        if pd.api.types.is_string_dtype(table[column]):
            for row, value in enumerate(values, start=1):
                if value:
                    sheet.write_string(row, index, excel_cell(value))
        else:  # an empty baseline count is a blank cell
            sheet.write_column(1, index, [None if pd.isna(v) else int(v) for v in values])
