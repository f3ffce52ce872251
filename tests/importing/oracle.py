"""An independent cron for round trips: which times would Vixie cron (as Debian runs it)
fire an entry at?

croniter says which wall-clock minutes match, given Vixie cron's day rule (day-of-month
OR day-of-week when both are restricted, AND when either field starts with `*`), and
this module applies Debian cron's clock changes as SPEC 2.1 states them: a job at a fixed
time (no `*` at the start of minute or hour) that falls in a spring-forward gap runs once
right after the gap, and once, at the first, when its time happens twice; a job with a
`*` there follows the wall clock (nothing in the gap, the repeated hour again). Neither
croniter nor this module is what runner schedules with (cronsim).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter

# Vixie cron's macros (entry.c): each the fields it sets.
VIXIE_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_MARGIN = timedelta(hours=4)
_ONE_VALUE_RANGE = re.compile(
    r"^([0-9A-Za-z]+)-\1(/[0-9]+)?$"
)  # wider than any clock change, so edges are not missed


def is_wildcard(expr: str) -> bool:
    """Whether cron runs `expr` by the wall clock (a `*` starts minute or hour)."""
    fields = VIXIE_MACROS.get(expr, expr).split()
    return fields[0].startswith("*") or fields[1].startswith("*")


def fire_times(expr: str, zone: str, start: datetime, end: datetime) -> list[datetime]:
    """The instants (UTC) in (start, end] at which cron fires `expr` read in `zone`."""
    fields = VIXIE_MACROS.get(expr, expr).split()
    fixed = not is_wildcard(expr)
    day_or = not (fields[2].startswith("*") or fields[4].startswith("*"))
    tz = ZoneInfo(zone)
    first = start.astimezone(tz).replace(tzinfo=None) - _MARGIN
    last = end.astimezone(tz).replace(tzinfo=None) + _MARGIN
    walls = croniter(" ".join(_plain(field) for field in fields), first, day_or=day_or)
    fires: set[datetime] = set()
    while (wall := walls.get_next(datetime)) <= last:
        fires.update(_instants(wall, tz, fixed=fixed))
    return sorted(t for t in fires if start < t <= end)


def _plain(field: str) -> str:
    """`field` with one-value ranges (`5-5`) written as the value: croniter 7 reads them
    as `*`, Vixie cron as the one value."""
    return ",".join(_ONE_VALUE_RANGE.sub(r"\1", item) for item in field.split(","))


def _instants(wall: datetime, tz: ZoneInfo, *, fixed: bool) -> list[datetime]:
    early = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    late = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    if early.astimezone(tz).replace(tzinfo=None) != wall:  # in a spring-forward gap
        return [_gap_end(early, tz)] if fixed else []
    if early != late:  # a time that happens twice
        return [early] if fixed else [early, late]
    return [early]


def _gap_end(inside: datetime, tz: ZoneInfo) -> datetime:
    """The instant the clock jumped (the first minute after the gap)."""
    offset = inside.astimezone(tz).utcoffset()
    moment = inside
    while (moment - timedelta(minutes=1)).astimezone(tz).utcoffset() == offset:
        moment -= timedelta(minutes=1)
    return moment
