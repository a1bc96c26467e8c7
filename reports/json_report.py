"""`findings.json`: the `amlaudit.findings/v1` document (see contracts.md)."""

from __future__ import annotations

import orjson

from amlaudit.auditor.findings import AuditResult


def _fallback(value: object) -> object:
    # Evidence is meant to be plain JSON; anything else (a set, an address object) is shown as text.
    if isinstance(value, (set, frozenset)):
        return sorted(str(v) for v in value)
    return str(value)


class JsonReporter:
    filename = "findings.json"

    def render(self, result: AuditResult) -> bytes:
        return orjson.dumps(result.to_document(), default=_fallback, option=orjson.OPT_INDENT_2) + b"\n"
