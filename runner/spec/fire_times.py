"""A schedule's next fire times, each marked where a clock change affects it.

The times are the scheduler's own (`ticks`); this module only explains them, so that a
preview can never disagree with what runs. A clock change can move a tick (a fixed time
that does not exist that day runs once right after the gap), swallow ticks (a schedule
that follows the wall clock has none in the gap), or make a local time happen twice (the
schedule runs at the first, or at both). Whether a tick was moved or swallowed is read
off the same crons read in UTC, a zone whose clock never changes: that is the wall clock.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from runner.spec.durations import format_seconds
from runner.spec.schedules import Timing, cron_times, load_zone, ticks

GAP = "gap"
REPEAT = "repeat"
_INSTANT = timedelta(microseconds=1)
_STEP = timedelta(days=1)  # clock changes are further apart than this
_LISTED = 3  # skipped times named one by one; more are given as a range


@dataclass(frozen=True, slots=True)
class FireTime:
    """One tick: when (UTC), its time in the schedule's zone, and how a clock change
    affects it (`dst`: None, "gap" or "repeat", with a note saying what runner does)."""

    at: datetime
    local: datetime
    dst: str | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class ClockChange:
    """The instant a zone's offset changes, with the offsets before and after it."""

    at: datetime
    before: timedelta
    after: timedelta

    @property
    def forward(self) -> bool:
        return self.after > self.before

    @property
    def wall_from(self) -> datetime:
        """The wall clock just before the change, as a naive time."""
        return (self.at + self.before).replace(tzinfo=None)

    @property
    def wall_to(self) -> datetime:
        """The wall clock at the change, as a naive time."""
        return (self.at + self.after).replace(tzinfo=None)

    @property
    def told(self) -> str:
        back = "" if self.forward else " back"
        shape = "%H:%M" if self.wall_from.date() == self.wall_to.date() else "%a %Y-%m-%d %H:%M"
        return f"the clocks go{back} from {self.wall_from:{shape}} to {self.wall_to:{shape}}"


def fire_times(timing: Timing, *, start: datetime, count: int) -> list[FireTime]:
    """The first `count` ticks of `timing` at or after `start`, explained; fewer where
    the calendar ends (the year 9999) first."""
    since = start - _INSTANT
    out: list[FireTime] = []
    found = ticks(timing, after=since)
    while len(out) < count:
        try:
            at = next(found, None)
            if at is None:
                break
            out.append(explain(timing, at, since=since))
        except OverflowError:
            break
        since = at
    return out


def explain(timing: Timing, at: datetime, *, since: datetime) -> FireTime:
    """The tick at `at`, with what the clock changes since the tick before it (at
    `since`) and at its own local time do to it."""
    zone = load_zone(timing.zone)
    local = at.astimezone(zone)
    repeat = _repeat_mark(timing, local)
    marks = [_change_mark(timing, c, at) for c in clock_changes(zone, since, at)]
    if repeat is not None and not timing.cron:
        marks = []  # an interval's tick in a repeated hour: the repeat says it all
    found = [m for m in [*marks, repeat] if m is not None]
    if not found:
        return FireTime(at, local)
    kind = GAP if any(k == GAP for k, _ in found) else REPEAT
    return FireTime(at, local, kind, "; ".join(text for _, text in found))


def clock_changes(zone: ZoneInfo, start: datetime, end: datetime) -> list[ClockChange]:
    """The changes of `zone`'s offset in (start, end], oldest first."""
    out = []
    lo = start
    while lo < end:
        hi = min(lo + _STEP, end)
        before, after = lo.astimezone(zone).utcoffset(), hi.astimezone(zone).utcoffset()
        if before is not None and after is not None and before != after:
            out.append(ClockChange(_change_instant(zone, lo, hi), before, after))
        lo = hi
    return out


def _change_instant(zone: ZoneInfo, lo: datetime, hi: datetime) -> datetime:
    """The first second in (lo, hi] with `hi`'s offset (found by halving)."""
    low, high = math.floor(lo.timestamp()), math.ceil(hi.timestamp())
    target = hi.astimezone(zone).utcoffset()
    while high - low > 1:
        mid = (low + high) // 2
        if datetime.fromtimestamp(mid, zone).utcoffset() == target:
            high = mid
        else:
            low = mid
    return datetime.fromtimestamp(high, UTC)


def _change_mark(timing: Timing, change: ClockChange, at: datetime) -> tuple[str, str] | None:
    kind = GAP if change.forward else REPEAT
    if not timing.cron:
        shift = format_seconds(int(abs((change.after - change.before).total_seconds())))
        later = "later" if change.forward else "earlier"
        return kind, (
            f"DST {kind}: on {change.wall_to:%a %Y-%m-%d} {change.told}; `every` counts "
            f"elapsed time, so its ticks fall {shift} {later} by the clock"
        )
    if not change.forward:
        return None  # a repeated local time is marked on the ticks in it
    return _gap_mark(timing, change, at)


def _gap_mark(timing: Timing, change: ClockChange, at: datetime) -> tuple[str, str] | None:
    """The local times a gap took from the crons: moved to the tick right after it (a
    fixed time, as Debian cron) or skipped (a schedule that follows the wall clock)."""
    moved: list[datetime] = []
    skipped: list[datetime] = []
    for cron in timing.cron:
        lost = list(_wall_times(cron, change.wall_from, change.wall_to))
        if at == change.at and _moved_here(cron, timing.zone, change):
            moved += lost
        else:
            skipped += lost
    today = at.astimezone(load_zone(timing.zone)).date()
    notes = []
    if moved:
        notes.append(
            f"DST gap: {_times_text(moved, today)} {_does(moved)} not exist ({change.told}); "
            f"runs once, at {change.wall_to:%H:%M}"
        )
    if skipped:
        they = "it does" if len(set(skipped)) == 1 else "they do"
        notes.append(
            f"DST gap: no run at {_times_text(skipped, today)}: {they} not exist ({change.told})"
        )
    return (GAP, "; ".join(notes)) if notes else None


def _moved_here(cron: str, zone: str, change: ClockChange) -> bool:
    """Whether `cron` alone ticks at the end of the gap without naming that wall time:
    a tick moved there from inside the gap."""
    own = next(ticks(Timing(cron=(cron,), zone=zone), after=change.at - _INSTANT), None)
    return own == change.at and not _on_wall(cron, change.wall_to)


def _wall_times(cron: str, start: datetime, end: datetime) -> Iterator[datetime]:
    """The wall-clock times in [start, end) that `cron` names (naive)."""
    found = cron_times((cron,), zone="UTC", after=start.replace(tzinfo=UTC) - _INSTANT)
    for tick in itertools.takewhile(lambda t: t < end.replace(tzinfo=UTC), found):
        yield tick.replace(tzinfo=None)


def _on_wall(cron: str, wall: datetime) -> bool:
    return next(_wall_times(cron, wall, wall + _INSTANT), None) is not None


def _repeat_mark(timing: Timing, local: datetime) -> tuple[str, str] | None:
    """A local time that happens twice: whether the schedule runs at both, or once."""
    other = local.replace(fold=1 - local.fold)
    if other.utcoffset() == local.utcoffset():
        return None
    first, second = (local, other) if local.fold == 0 else (other, local)
    twice = f"{local:%H:%M} happens twice (first {first:%Z}, then {second:%Z})"
    if _is_tick(timing, other.astimezone(UTC)):
        which = "the first" if local.fold == 0 else "the second"
        does = f"runs at both; this is {which}"
    else:
        does = "runs once, at the first" if local.fold == 0 else "runs once, at the second"
    if not timing.cron:
        does += "; `every` counts elapsed time, not the clock"
    return REPEAT, f"DST repeat: {twice}; {does}"


def _is_tick(timing: Timing, at: datetime) -> bool:
    return next(ticks(timing, after=at - _INSTANT), None) == at


def _times_text(times: list[datetime], today: date) -> str:
    """Wall times, with their day where it is not the tick's (`today`)."""
    unique = sorted(set(times))
    shown = [f"{t:%H:%M}" for t in unique]
    if len(shown) == 1:
        text = shown[0]
    elif len(shown) <= _LISTED:
        text = ", ".join(shown[:-1]) + " and " + shown[-1]
    else:
        text = f"{shown[0]} to {shown[-1]} ({len(shown)} times)"
    return text if unique[0].date() == today else f"{text} on {unique[0]:%a %Y-%m-%d}"


def _does(times: list[datetime]) -> str:
    return "does" if len(set(times)) == 1 else "do"
