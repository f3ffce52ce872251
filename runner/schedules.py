"""Schedule maths: cron expressions and intervals, as pure functions of a reference time.

Cron follows Debian cron across clock changes (SPEC 2.1) through cronsim, which passes
SPEC's DST table without special cases of ours. Times go in and come out aware; results
are in UTC.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
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
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_PROBE = datetime(2000, 1, 1, tzinfo=UTC)


def expand_cron(expr: str) -> str:
    """The 5-field form of `expr` (macros expanded, spaces collapsed)."""
    text = " ".join(expr.split())
    return MACROS.get(text.lower(), text)


@lru_cache(maxsize=4096)
def cron_error(expr: str) -> str | None:
    """Why `expr` is not a cron expression we run, or None when it is."""
    text = expand_cron(expr)
    if text.startswith("@"):
        return f'"{expr}" is not a supported cron macro; use {CRON_HELP}'
    if len(text.split()) != 5:
        count = len(text.split())
        return f'"{expr}" has {count} field{"" if count == 1 else "s"}; use {CRON_HELP}'
    try:
        CronSim(text, _PROBE)
    except CronSimError as exc:
        reason = str(exc).rstrip(".").lower() or "does not parse"
        hint = f"; use {CRON_HELP}" if "fields" in reason else ""
        return f'"{expr}" is not a valid cron expression: {reason}{hint}'
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
    for tick in CronSim(expand_cron(expr), after.astimezone(zone)):
        yield tick.astimezone(UTC)


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
