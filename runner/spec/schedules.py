"""Schedule maths: cron expressions and intervals, as pure functions of a reference time.

Cron follows Debian cron across clock changes (SPEC 2.1): jobs at a fixed time through
cronsim, jobs run by the wall clock (a `*` starts minute or hour) by matching cronsim's
minutes on the naive wall clock and placing them on the time line here.
Times go in and come out aware; results are in UTC.
"""

from __future__ import annotations

import heapq
import json
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

MACROS: dict[str, str] = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
CRON_HELP = (
    "5 fields (minute hour day-of-month month day-of-week) or one of "
    "@hourly, @daily, @midnight, @weekly, @monthly, @yearly"
)
NEXT_RUNS = 3  # ticks a plan or `runner status` shows
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_PROBE = datetime(2000, 1, 1, tzinfo=UTC)
_SEPARATOR = re.compile(r"[ \t]+")  # as Vixie cron: spaces and tabs, nothing else
_DAY_OF_MONTH = 2
CRON_FIELDS = (  # each field's name, and the values it takes
    ("minute", "0-59"),
    ("hour", "0-23"),
    ("day-of-month", "1-31 or L"),
    ("month", "1-12 or JAN-DEC"),
    ("day-of-week", "0-7 or SUN-SAT (5L: the last Friday, 5#2: the second)"),
)


def cron_fields(expr: str) -> list[str]:
    """The fields of `expr`, split at runs of spaces and tabs only."""
    return [f for f in _SEPARATOR.split(expr) if f]


def expand_cron(expr: str) -> str:
    """The 5-field form of `expr` (macros expanded, spaces collapsed)."""
    text = " ".join(cron_fields(expr))
    return MACROS.get(text.lower(), text)


@lru_cache(maxsize=4096)
def cron_error(expr: str) -> str | None:
    """Why `expr` is not a cron expression we run, or None when it is."""
    stray = _stray_character(expr)
    if stray:
        return stray
    text = expand_cron(expr)
    if text.startswith("@"):
        return f'"{expr}" is not a supported cron macro; use {CRON_HELP}'
    if len(text.split()) != 5:
        count = len(text.split())
        return f'"{expr}" has {count} field{"" if count == 1 else "s"}; use {CRON_HELP}'
    if "W" in text.split()[_DAY_OF_MONTH].upper():
        return (
            f'"{expr}": W (the weekday nearest a day, also in LW) is not supported; '
            "use a day of the month, L (the last day) or a day-of-week such as 1-5"
        )
    if _parses(text):
        return None
    bad = _invalid_part(text.split())
    if bad is None:  # each field is fine alone: together they name no date
        return f'"{expr}" can never fire: {_no_date(text.split())}'
    return f'"{expr}" is not a valid cron expression: {bad}'


def _parses(text: str) -> bool:
    try:
        CronSim(text, _PROBE)
    except CronSimError:
        return False
    return True


def _invalid_part(fields: list[str]) -> str | None:
    """Which field cronsim refuses, found by trying each one alone, so that the message
    is runner's own and not cronsim's wording; None when each parses alone."""
    for i, (name, allowed) in enumerate(CRON_FIELDS):
        probe = ["*"] * len(CRON_FIELDS)
        probe[i] = fields[i]
        if not _parses(" ".join(probe)):
            return f'bad {name} "{fields[i]}"; use {allowed}, or a list, range or step of them'
    return None


_MONTH_NAMES = (
    *("January", "February", "March", "April", "May", "June"),
    *("July", "August", "September", "October", "November", "December"),
)


_LONGEST = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # days, in a leap year


def _no_date(fields: list[str]) -> str:
    """Why a valid day-of-month and month never meet (`0 0 30 2 *`): which months."""
    months = sorted(getattr(CronSim(f"0 0 1 {fields[3]} *", _PROBE), "months", ()))
    names = [_MONTH_NAMES[m - 1] for m in months if 1 <= m <= 12]
    shown = ", ".join(names[:-1]) + " or " + names[-1] if len(names) > 1 else "".join(names)
    last = min((_LONGEST[m - 1] for m in months if 1 <= m <= 12), default=28)
    return (
        f'no date has this day-of-month ("{fields[2]}") in {shown or "these months"}; '
        f"use a day from 1 to {last}, or L for the last day of the month"
    )


def _stray_character(expr: str) -> str | None:
    """A character no cron expression has: fields are printable ASCII, and only spaces
    and tabs separate them (a no-break space pasted from a web page looks like a space
    but is not one)."""
    for i, char in enumerate(expr, start=1):
        if char == "\t" or " " <= char <= "~":
            continue
        name = unicodedata.name(char, "a control character")
        shown = json.dumps(expr)
        what = f"character {i} is U+{ord(char):04X} ({name})"
        if char.isspace() or unicodedata.category(char) in ("Zs", "Cf"):
            return f"{shown}: {what}; separate the fields with spaces or tabs only"
        return f"{shown}: {what}; write the expression in plain ASCII"
    return None


@lru_cache(maxsize=1024)
def load_zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def timezone_error(name: str) -> str | None:
    """Why `name` is not an IANA time zone, or None when it is."""
    if not name or name.startswith("/") or ".." in name:
        return f'"{name}" is not an IANA time zone name such as Europe/Berlin or UTC'
    try:
        load_zone(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return f'unknown time zone "{name}"; use an IANA name such as Europe/Berlin or UTC'
    return None


def _cron_iter(expr: str, zone: ZoneInfo, after: datetime) -> Iterator[datetime]:
    cron = expand_cron(expr)
    minute, hour = cron.split()[:2]
    if minute.startswith("*") or hour.startswith("*"):
        return _wall_clock_iter(cron, zone, after)
    return (tick.astimezone(UTC) for tick in CronSim(cron, after.astimezone(zone)))


def _wall_clock_iter(cron: str, zone: ZoneInfo, after: datetime) -> Iterator[datetime]:
    """The ticks of a job that cron runs by the wall clock (a `*` starts minute or hour):
    each matching minute the clock shows, none in a spring-forward gap, a repeated hour
    again. cronsim's own handling of these drops or invents minutes when a gap starts a
    day (Santiago's midnight) or after a half-hour fall-back (Lord Howe), so the minutes
    are matched on the naive wall clock and placed on the time line here."""
    start = after.astimezone(zone).replace(tzinfo=None) - _WIDEST_CHANGE
    pending: list[datetime] = []
    for wall in CronSim(cron, start):
        first = wall.replace(tzinfo=zone, fold=0)
        second = wall.replace(tzinfo=zone, fold=1)
        if first.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != wall:
            continue  # in a gap: the clock never shows this minute
        for instant in {first.astimezone(UTC), second.astimezone(UTC)}:
            heapq.heappush(pending, instant)
        # a later minute's first instant is never earlier than this one's
        floor = first.astimezone(UTC)
        while pending and pending[0] <= floor:
            tick = heapq.heappop(pending)
            if tick > after:
                yield tick
    yield from (tick for tick in sorted(pending) if tick > after)  # cronsim gave up


_WIDEST_CHANGE = timedelta(hours=3)  # no zone's clock moves by more in one change


def cron_times(exprs: Iterable[str], *, zone: str, after: datetime) -> Iterator[datetime]:
    """Every tick of any of `exprs` strictly after `after`, in order, without repeats."""
    tz = load_zone(zone)
    last: datetime | None = None
    for tick in heapq.merge(*(_cron_iter(e, tz, after) for e in exprs)):
        if tick > after and tick != last:
            last = tick
            yield tick


def every_times(seconds: float, *, after: datetime) -> Iterator[datetime]:
    """Ticks every `seconds` of elapsed time, phase anchored at the Unix epoch."""
    if seconds <= 0:
        raise ValueError("an interval must be positive")
    step = timedelta(seconds=seconds)
    n = (after - _EPOCH) // step + 1
    tick = _EPOCH + n * step
    while True:
        yield tick
        tick += step


def first_n(times: Iterator[datetime], n: int) -> list[datetime]:
    return [t for _, t in zip(range(n), times, strict=False)]


@dataclass(frozen=True, slots=True)
class Timing:
    """What makes a schedule tick: its crons, read in `zone`, or an interval in seconds."""

    cron: tuple[str, ...] = ()
    every: int | None = None
    zone: str = "UTC"

    @property
    def has_seconds(self) -> bool:
        """Whether its ticks fall between whole minutes (`every: 30s`, `every: 90s`)."""
        return self.every is not None and self.every % 60 != 0


def ticks(timing: Timing, *, after: datetime) -> Iterator[datetime]:
    """Every tick of a schedule strictly after `after`, in order (UTC); none for a
    schedule with neither cron nor interval."""
    if timing.cron:
        return cron_times(timing.cron, zone=timing.zone, after=after)
    if timing.every:
        return every_times(timing.every, after=after)
    return iter(())


def local_times(timing: Timing, times: Iterable[datetime]) -> list[str]:
    """Ticks in the schedule's time zone, for people: to the minute, or to the second
    where the schedule has seconds (or a tick is not on a whole minute)."""
    items = list(times)
    seconds = timing.has_seconds or any(t.second or t.microsecond for t in items)
    shape = "%Y-%m-%d %H:%M:%S %Z" if seconds else "%Y-%m-%d %H:%M %Z"
    zone = load_zone(timing.zone)
    return [t.astimezone(zone).strftime(shape) for t in items]


@lru_cache(maxsize=4096)
def preview(timing: Timing, after: datetime, count: int = NEXT_RUNS) -> tuple[str, ...]:
    """The next `count` ticks after `after`, for people (see `local_times`). Cached:
    10,000 new jobs in a plan share a few dozen schedules."""
    return tuple(local_times(timing, first_n(ticks(timing, after=after), count)))
