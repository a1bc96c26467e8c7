"""Pacing writes under a service's published write limits, so a sync never trips them.

A service that limits writes per window ("at most 80 in any minute and 500 in any hour")
answers the write that goes over with a refusal and a Retry-After, and punishes clients
that keep going. `SlidingWindows.wait_for_slot()` is called before each write: it returns at
once while every window has room and otherwise sleeps until the oldest write in the full
window leaves it; `record_done()` is called when the write's answer has arrived. A write is
counted from its answer, the latest moment the service can have counted it, so clock
differences and latency never make the service see more writes in a window than allowed.
Writes are never held back further than that, so a sync that writes less than a window's
worth runs at full speed.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence


class SlidingWindows:
    def __init__(self, limits: Sequence[tuple[int, float]], *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        """`limits`: (most writes, window seconds) pairs, e.g. ((80, 60), (500, 3600))."""
        self.limits = tuple((int(count), float(seconds)) for count, seconds in limits if count > 0)
        self._clock, self._sleep = clock, sleep
        self._sent: deque[float] = deque()  # answer times of the writes still inside the longest window
        self._lock = threading.Lock()
        self.waited = 0.0  # seconds spent waiting, for reports

    def wait_for_slot(self) -> None:
        with self._lock:
            while True:
                delay = self._delay(self._clock())
                if delay <= 0:
                    break
                self._sleep(delay)
                self.waited += delay

    def record_done(self) -> None:
        with self._lock:
            self._sent.append(self._clock())

    def _delay(self, now: float) -> float:
        longest = max((seconds for _, seconds in self.limits), default=0.0)
        while self._sent and self._sent[0] <= now - longest:
            self._sent.popleft()
        delay = 0.0
        for count, seconds in self.limits:
            inside = [t for t in self._sent if t > now - seconds]
            if len(inside) >= count:
                # The write `count` places back must leave the window first.
                delay = max(delay, inside[-count] + seconds - now)
        return delay
