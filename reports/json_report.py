"""`findings.json`: the `amlaudit.findings/v1` document (see contracts.md)."""

from __future__ import annotations

import orjson

from amlaudit.auditor.findings import AuditResult
from amlaudit.reports.common import json_default


class JsonReporter:
    filename = "findings.json"

    def render(self, result: AuditResult) -> bytes:
        return orjson.dumps(result.to_document(), default=json_default, option=orjson.OPT_INDENT_2) + b"\n"
