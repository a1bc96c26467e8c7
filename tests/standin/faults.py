"""Failures and delays the stand-in injects, chosen per request path by regular expression."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Fault:
    """Answer requests whose path matches `pattern` with `status` (or a malformed body when `malformed`,
    a redirect to `location` + the request's path and query when `location` is set, no answer at
    all, the connection closed, when `drop`, or the normal answer only after `hold` seconds of silence).

    `after` matching requests are served normally first (so page 2 of a list can fail while page 1
    does not: pages share their path); then `times` of them get the fault (None: all the rest).
    """

    pattern: re.Pattern[str]
    status: int = 200
    code: str | None = None
    message: str | None = None
    retry_after: float | None = None
    malformed: bool = False
    body: bytes = b'{"value": [{"id": "/subscriptions/trunc'  # what a malformed answer carries
    times: int | None = None
    after: int = 0
    location: str | None = None
    drop: bool = False  # close the connection without answering
    hold: float | None = None  # keep the connection open and silent this long, then answer normally
    seen: int = 0
    applied: int = 0


@dataclass
class Delay:
    pattern: re.Pattern[str]
    seconds: float


@dataclass
class NextLinkBase:
    """Lists whose path matches `pattern` carry nextLinks at `base_url` (another host) once `after`
    pages have been served with the stand-in's own, as a hostile or misconfigured service might."""

    pattern: re.Pattern[str]
    base_url: str
    after: int = 0
    seen: int = 0


@dataclass
class FaultPlan:
    """The faults and delays of one stand-in; thread-safe."""

    faults: list[Fault] = field(default_factory=list)
    delays: list[Delay] = field(default_factory=list)
    next_link_bases: list[NextLinkBase] = field(default_factory=list)
    # Lists whose nextLink is the page itself, with how many more such pages each may serve: a
    # client that never notices the loop then fails a test on request counts instead of hanging it.
    next_link_loops: list[list[Any]] = field(default_factory=list)
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
                if not fault.pattern.search(path):
                    continue
                fault.seen += 1
                if fault.seen > fault.after and (fault.times is None or fault.applied < fault.times):
                    fault.applied += 1
                    return fault
        return None

    def add_next_link_base(self, rewrite: NextLinkBase) -> None:
        with self._lock:
            self.next_link_bases.append(rewrite)

    def next_link_base_for(self, path: str) -> str | None:
        """The foreign base for the nextLink of this page of `path`, counting this page; None: the stand-in's own."""
        with self._lock:
            for rewrite in self.next_link_bases:
                if rewrite.pattern.search(path):
                    rewrite.seen += 1
                    if rewrite.seen > rewrite.after:
                        return rewrite.base_url
        return None

    def add_next_link_loop(self, pattern: re.Pattern[str], limit: int) -> None:
        with self._lock:
            self.next_link_loops.append([pattern, limit])

    def next_link_loops_at(self, path: str) -> bool:
        """Whether this page of `path` points back at itself, counting it."""
        with self._lock:
            for loop in self.next_link_loops:
                if loop[0].search(path) and loop[1] > 0:
                    loop[1] -= 1
                    return True
        return False

    def delay_for(self, path: str) -> float:
        with self._lock:
            return sum(d.seconds for d in self.delays if d.pattern.search(path))


def compile_pattern(pattern: str) -> re.Pattern[str]:
    # Paths compare case-insensitively, like ARM ids.
    return re.compile(pattern, re.IGNORECASE)
