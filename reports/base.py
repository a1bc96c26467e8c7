"""What a reporter is: a format name, a file name, and bytes rendered from an audit result.

Reporters register in the entry-point group ``amlaudit.reporters``; the entry
point's name is the `--format` value. Rendering is pure (no I/O); the CLI
writes every rendered file atomically, and only after all of them rendered.

Two optional class attributes (auditor/render_workers.py): `render_apart = True`
lets the format render in a forked worker process beside the others (for a format
that costs much CPU for the bytes it makes), and `prepare(result)` runs before the
fork, for work the format shares with others rendered in this process.
"""

from __future__ import annotations

from typing import Protocol

from amlaudit.auditor.findings import AuditResult


class Reporter(Protocol):
    filename: str

    def render(self, result: AuditResult) -> bytes: ...
