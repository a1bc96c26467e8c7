"""What can go wrong reading Resource Manager, and how it is recorded in a snapshot's `errors`."""

from __future__ import annotations

from typing import Any


class CollectError(Exception):
    """Collection cannot proceed at all (no token, Resource Manager unreachable): nothing to audit."""


class ArmReadError(Exception):
    """One read failed for good (after retries): it becomes one entry of the snapshot's `errors`.

    `status` is the HTTP status Resource Manager answered, or None when there was no usable
    answer (the connection broke, or the collector refused to send the request).
    """

    def __init__(self, status: int | None, code: str, message: str) -> None:
        super().__init__(f"{status if status is not None else '-'} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message

    def entry(self, scope: str, operation: str) -> dict[str, Any]:
        """The snapshot `errors` entry for this failure at `scope` (an ARM id or a URL path)."""
        return {"scope": scope, "operation": operation, "status": self.status, "code": self.code, "message": self.message}
