"""Failures and delays the stand-in injects, chosen per request path by regular expression."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field


@dataclass
class Fault:
    """Answer requests whose path matches `pattern` with `status` (or a malformed body when `malformed`).

    `times` is how many matching requests get the fault (None: all of them); later ones are served normally.
    """

    pattern: re.Pattern[str]
    status: int = 200
    code: str | None = None
    message: str | None = None
    retry_after: float | None = None
    malformed: bool = False
    times: int | None = None
    applied: int = 0


@dataclass
class Delay:
    pattern: re.Pattern[str]
    seconds: float


@dataclass
class FaultPlan:
    """The faults and delays of one stand-in; thread-safe."""

    faults: list[Fault] = field(default_factory=list)
    delays: list[Delay] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add_fault(self, fault: Fault) -> None:
        with self._lock:
            self.faults.append(fault)

    def add_delay(self, delay: Delay) -> None:
        with self._lock:
            self.delays.append(delay)

    def fault_for(self, path: str) -> Fault | None:
        """The first fault matching `path` that has uses left, counting this use."""
        with self._lock:
            for fault in self.faults:
                if fault.pattern.search(path) and (fault.times is None or fault.applied < fault.times):
                    fault.applied += 1
                    return fault
        return None

    def delay_for(self, path: str) -> float:
        with self._lock:
            return sum(d.seconds for d in self.delays if d.pattern.search(path))


def compile_pattern(pattern: str) -> re.Pattern[str]:
    # Paths compare case-insensitively, like ARM ids.
    return re.compile(pattern, re.IGNORECASE)
