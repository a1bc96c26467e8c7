"""`amlaudit diff OLD NEW`: what changed between two findings.json files, by fingerprint.

The failure categories are exactly `--baseline`'s (auditor/baseline.py), with NEW
judged as the current run: `new`, `persisting`, `resolved` and `unverified` (a
failure of OLD that NEW could not verify is never resolved). `changed` lists the
other fingerprints present in both files whose status or evidence differs: a
persisting failure whose evidence moved, a pass that became an error, and so on
(status changes already told as new/resolved/unverified are not repeated there).

Exit status (same rule as `scan`, `Finding.counts_toward_exit`): 1 if a new
failure at or above `--fail-on` is not waived in NEW, else 0; 2 on bad input.

`--json` prints one `amlaudit.diff/v1` object; see docs/waivers-and-baselines.md.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from amlaudit.auditor.baseline import CATEGORIES, Change, Comparison, by_fingerprint, compare
from amlaudit.auditor.findings import Finding, exit_failures
from amlaudit.auditor.findings_file import FindingsFile
from amlaudit.auditor.ids import id_key

DIFF_FORMAT = "amlaudit.diff/v1"
DIFF_CATEGORIES = (*CATEGORIES, "changed")


@dataclass(frozen=True, slots=True)
class FindingsDiff:
    old: FindingsFile
    new: FindingsFile
    comparison: Comparison
    changed: list[Change]

    def category(self, name: str) -> list[Change]:
        return self.changed if name == "changed" else getattr(self.comparison, name)

    def counts(self) -> dict[str, int]:
        return {name: len(self.category(name)) for name in DIFF_CATEGORIES}

    def exit_failures(self, fail_on: str) -> list[Finding]:
        """NEW's failures as `scan --baseline OLD` would count them: new ones not waived in NEW."""
        annotated = [replace(change.new, baseline="new") for change in self.comparison.new if change.new is not None]
        return exit_failures(annotated, fail_on)

    def exit_status(self, fail_on: str) -> int:
        return 1 if self.exit_failures(fail_on) else 0


def _changes(change: Change) -> list[str]:
    assert change.old is not None and change.new is not None
    return [name for name in ("status", "evidence") if getattr(change.old, name) != getattr(change.new, name)]


def diff_findings(old: FindingsFile, new: FindingsFile) -> FindingsDiff:
    comparison = compare(old.findings, new.findings, new.coverage)
    told = {c.finding.fingerprint for name in ("new", "resolved", "unverified") for c in getattr(comparison, name)}
    before = by_fingerprint(old.findings)
    changed = []
    for fingerprint, after in by_fingerprint(new.findings).items():
        then = before.get(fingerprint)
        if then is not None and fingerprint not in told and (then.status != after.status or then.evidence != after.evidence):
            changed.append(Change(then, after))
    changed.sort(key=lambda c: (c.finding.check_id, id_key(c.finding.resource_id)))
    return FindingsDiff(old, new, comparison, changed)


def _entry(change: Change, category: str) -> dict[str, Any]:
    entry = change.to_dict()
    if category == "changed" or (category == "persisting" and change.old is not None and change.new is not None):
        entry["changed"] = _changes(change)
    if change.new is not None and change.new.waiver is not None:
        entry["waiver"] = dict(change.new.waiver)
    return entry


def diff_document(diff: FindingsDiff, fail_on: str) -> dict[str, Any]:
    """The `amlaudit.diff/v1` object `--json` prints."""
    return {
        "format": DIFF_FORMAT,
        "old": diff.old.describe(),
        "new": diff.new.describe(),
        "fail_on": fail_on,
        "exit_status": diff.exit_status(fail_on),
        "counts": diff.counts(),
        "findings": {name: [_entry(change, name) for change in diff.category(name)] for name in DIFF_CATEGORIES},
    }


_ORDER = ("new", "unverified", "resolved", "changed", "persisting")
_LABELS = {"new": "NEW", "unverified": "unverified", "resolved": "resolved", "changed": "changed", "persisting": "persisting"}


def print_diff(diff: FindingsDiff, fail_on: str, console: Console) -> None:
    """The human table: what needs a look first (new, unverified), then the rest."""
    table = Table(title=Text(f"amlaudit diff: {diff.old.source} \u2192 {diff.new.source}"))
    for column in ("change", "severity", "check", "resource", "status", "note"):
        table.add_column(column, overflow="fold")
    for name in _ORDER:
        for change in diff.category(name):
            f = change.finding
            old_status = change.old.status if change.old is not None else "absent"
            new_status = change.new.status if change.new is not None else "absent"
            note = change.reason or ""
            if name in ("changed", "persisting") and change.old is not None and change.new is not None:
                note = ", ".join(f"{what} changed" for what in _changes(change))
            if change.new is not None and change.new.waiver is not None:
                note = "; ".join(filter(None, [note, f"waived until {change.new.waiver.get('expires')}"]))
            # Text, not markup: ids, reasons and waiver text come from the files.
            table.add_row(_LABELS[name], Text(f.severity), Text(f.check_id), Text(f.resource_id or "(no subject)"),
                          Text(f"{old_status} \u2192 {new_status}"), Text(note))
    console.print(table)
    counts = diff.counts()
    console.print(", ".join(f"{counts[name]} {name}" for name in _ORDER) + ".", markup=False)
    status = diff.exit_status(fail_on)
    console.print(f"exit {status}: " + ("new failures" if status else "no new failures"))
