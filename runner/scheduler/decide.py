"""Which ticks of a schedule become runs, and which are missed (SPEC 2.3).

Ticks after `up_since` happened while a daemon was up: they are live, each one a run
with trigger `schedule` (the overlap policy then decides what it does). Ticks at or
before it passed while nothing ran them: `catchup` says what becomes of them (none,
the latest, or all of them, at most 100, oldest first), and `startingDeadline` drops
those too old to start. Every tick that does not become a run is counted by reason.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from runner.domain.jobs import ScheduleView
from runner.spec.schedules import ticks as schedule_ticks

CATCHUP_ALL_LIMIT = 100
SCAN_LIMIT = 10_000  # ticks looked at in one decision; a longer gap is summarised


@dataclass(frozen=True, slots=True)
class Due:
    """A run to create: for the tick at `due`, made by `trigger`."""

    due: datetime
    trigger: str  # schedule | catchup


@dataclass(frozen=True, slots=True)
class Decision:
    runs: tuple[Due, ...] = ()
    missed: Mapping[str, int] = field(default_factory=dict)  # reason -> ticks
    missed_between: tuple[datetime, datetime] | None = None
    cursor: datetime | None = None  # the last tick handled, to store for the next call
    more_than: bool = False  # more ticks passed than were looked at (SCAN_LIMIT)

    @property
    def summary(self) -> str | None:
        """The one event SPEC 2.3 asks for: "12 ticks missed between ... and ..."."""
        total = sum(self.missed.values())
        if not total or self.missed_between is None:
            return None
        first, last = self.missed_between
        count = f"more than {total}" if self.more_than else str(total)
        why = ", ".join(f"{n} {reason}" for reason, n in sorted(self.missed.items()))
        return (
            f"{count} tick{'s' if total != 1 else ''} missed between "
            f"{first:%Y-%m-%d %H:%M:%S}Z and {last:%Y-%m-%d %H:%M:%S}Z ({why})"
        )


def ticks(schedule: ScheduleView, *, after: datetime) -> Iterator[datetime]:
    """The ticks of a schedule strictly after `after`, in order (UTC)."""
    return schedule_ticks(schedule.timing, after=after)


def decide(
    schedule: ScheduleView, *, cursor: datetime, up_since: datetime, now: datetime
) -> Decision:
    """The runs to create for the ticks in (cursor, now], and the ticks missed."""
    passed, more = _passed(schedule, cursor, now)
    if not passed:
        return Decision(cursor=cursor)
    live = [t for t in passed if t > up_since]
    behind = [t for t in passed if t <= up_since]
    deadline = schedule.starting_deadline
    fresh = [t for t in behind if deadline is None or now - t <= timedelta(seconds=deadline)]
    missed: dict[str, int] = {}
    if len(behind) > len(fresh):
        missed["deadline"] = len(behind) - len(fresh)
    caught = _catch_up(schedule.catchup, fresh)
    if len(fresh) > len(caught):
        missed["catchup"] = len(fresh) - len(caught)
    runs = [Due(t, "catchup") for t in caught] + [Due(t, "schedule") for t in live]
    dropped = [t for t in behind if t not in set(caught)]
    return Decision(
        runs=tuple(runs),
        missed=missed,
        missed_between=(dropped[0], dropped[-1]) if dropped else None,
        cursor=passed[-1],
        more_than=more,
    )


def jitter(job: str, due: datetime, limit: float) -> float:
    """The delay in [0, limit] added to a tick's start: random across jobs and ticks,
    but the same every time it is asked (a restart does not move a start)."""
    if limit <= 0:
        return 0.0
    digest = hashlib.sha256(f"{job}@{due.isoformat()}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 * limit


def _passed(schedule: ScheduleView, cursor: datetime, now: datetime) -> tuple[list[datetime], bool]:
    """The ticks in (cursor, now], and whether there were more than SCAN_LIMIT. After a
    long gap only the ticks near `now` matter (the latest, the last 100); the ones
    before them are summarised as "more than", not walked one by one (a year of a
    per-minute job is half a million ticks)."""
    found = _until(schedule, cursor, now, SCAN_LIMIT + 1)
    if len(found) <= SCAN_LIMIT:
        return found, False
    span = found[-1] - found[0]  # as long as SCAN_LIMIT ticks took at the start
    while True:  # look back from now; narrower where the ticks are denser
        tail = _until(schedule, max(cursor, now - span), now, 4 * SCAN_LIMIT)
        if len(tail) < 4 * SCAN_LIMIT:
            return tail[-SCAN_LIMIT:], True
        span /= 4


def _until(schedule: ScheduleView, after: datetime, now: datetime, limit: int) -> list[datetime]:
    out: list[datetime] = []
    for tick in ticks(schedule, after=after):
        if tick > now or len(out) >= limit:
            break
        out.append(tick)
    return out


def _catch_up(policy: str, fresh: list[datetime]) -> list[datetime]:
    if not fresh or policy == "none":
        return []
    if policy == "all":
        return fresh[-CATCHUP_ALL_LIMIT:]
    return fresh[-1:]
