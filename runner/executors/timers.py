"""The supervisor's timers: a task's timeout, a retry's backoff, a kill's grace, the
heartbeat. One heap on the clock's monotonic time; a cancelled timer stays in the heap
and is dropped when it reaches the top."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from typing import Any

from runner.clock import Clock


class Timer:
    __slots__ = ("action", "active")

    def __init__(self, action: Callable[[], Any]) -> None:
        self.action = action
        self.active = True

    def cancel(self) -> None:
        self.active = False


class Timers:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._heap: list[tuple[float, int, Timer]] = []
        self._seq = itertools.count()

    def after(self, seconds: float, action: Callable[[], Any]) -> Timer:
        """Call `action` once `seconds` have passed (in a later `fire`)."""
        timer = Timer(action)
        heapq.heappush(self._heap, (self.clock.monotonic() + seconds, next(self._seq), timer))
        return timer

    def until_next(self) -> float | None:
        """Seconds until the nearest active timer; None when there is none."""
        while self._heap and not self._heap[0][2].active:
            heapq.heappop(self._heap)
        if not self._heap:
            return None
        return max(0.0, self._heap[0][0] - self.clock.monotonic())

    def fire(self) -> None:
        """Run the actions of the timers that are due, each once."""
        now = self.clock.monotonic()
        while self._heap and self._heap[0][0] <= now:
            _, _, timer = heapq.heappop(self._heap)
            if timer.active:
                timer.active = False
                timer.action()
