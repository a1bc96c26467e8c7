"""What the history stage hands to reporters: plain data, no database handle.

The CLI reads this from the history database after recording a run and attaches it to
the `AuditResult` (`result.history`); reporters only read it, so data flows one way:
history -> result -> reporters.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class RunPoint:
    """One recorded run's totals."""

    run_id: int
    started_at: datetime  # UTC, timezone-aware
    fail: int
    error: int
    findings: int
    current: bool  # the run this report belongs to


@dataclass(frozen=True, slots=True)
class HistoryTrend:
    """The last runs of the history database, oldest first (the current run included)."""

    runs: tuple[RunPoint, ...]
    total_runs: int  # runs in the database; `runs` holds at most the last few

    @property
    def current_run(self) -> RunPoint | None:
        return next((point for point in self.runs if point.current), None)
