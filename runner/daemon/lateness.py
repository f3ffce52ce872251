"""When the loop could not act on time (issue 17, defect 2): the clock seen at the start
of each pass, against the last pass and against the tick the loop went to sleep for.

* A gap of more than a minute since the last pass (the loop looks at least every
  `IDLE_LOOK` seconds): a suspend, or the clock stepped forward.
* A tick handled more than `LATE` seconds after it fell: the loop was held up (a store
  locked by another process, a full disk, a read-only file, a stopped process, a
  machine too busy to run it).

Either way the ticks that fell meanwhile passed while nothing could run them, as in a
downtime: each job's `catchup` and `startingDeadline` decide them, not the overlap
policy (a run that could not be marked ended while the store was away is no overlap).
A clock stepped back: each job's next tick is computed again from the new time, and the
ticks after it are live (not ticks missed before the daemon was up).

Each pass also tells systemd the loop is alive (`READY=1`, then `WATCHDOG=1`), so that
under `WatchdogSec=` a hung loop is killed and restarted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from runner.daemon.wording import EventWording
from runner.system.sdnotify import Notifier

LATE = 2.0  # seconds after its time a tick counts as fallen while the loop was away


class Catching(Protocol):
    up_since: datetime  # ticks at or before it are caught up, not run live


@dataclass(slots=True)
class Lateness:
    say: EventWording
    idle_look: float
    last_pass: datetime | None = None
    expected: datetime | None = None  # the tick the loop last went to sleep for
    systemd: Notifier = field(default_factory=Notifier)

    def look(self, now: datetime, ticks: Catching) -> bool:
        """At the start of a pass; True when the clock stepped back (the jobs' next
        ticks are to be computed again)."""
        self.systemd.alive()
        last, expected = self.last_pass, self.expected
        self.last_pass = now
        if last is None:
            return False
        if now - last > timedelta(seconds=2 * self.idle_look):
            self.say.clock_jumped(seconds=(now - last).total_seconds())
            ticks.up_since = now
        elif now < last - timedelta(seconds=1):
            self.say.clock_stepped_back(seconds=(last - now).total_seconds())
            ticks.up_since = now  # the ticks after the new time are live, not caught up
            return True
        elif expected is not None and (now - expected).total_seconds() > LATE:
            self.say.loop_late(seconds=(now - expected).total_seconds(), tick=expected)
            ticks.up_since = now
        return False

    def went_to_sleep(self, next_tick: datetime | None) -> None:
        """At the end of a pass that did its work: the tick it is to wake for."""
        self.expected = next_tick
