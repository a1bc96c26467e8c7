"""What a reporter is: a format name, a file name, and bytes rendered from an audit result.

Reporters register in the entry-point group ``amlaudit.reporters``; the entry
point's name is the `--format` value. Rendering is pure (no I/O); the CLI
stages each rendered file as it comes and renames them all into place only after all
of them rendered (auditor/pipeline.py, write_reports).

An optional class attribute (auditor/render_workers.py): `render_apart = True` lets
the format render in a worker process beside the others (for a format that costs much
CPU for the bytes it makes). Such a reporter is sent to the worker pickled, so its
instance holds only what pickles (its class is found there by its module and name).
"""

from __future__ import annotations

from typing import Protocol

from amlaudit.auditor.findings import AuditResult


class Reporter(Protocol):
    filename: str

    def render(self, result: AuditResult) -> bytes: ...
