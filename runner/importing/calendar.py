"""systemd calendar events (`OnCalendar=`) as 5-field cron, where cron can say them.

An event is `[WEEKDAYS] [[YEAR-]MONTH-DAY] [HOUR:MINUTE[:SECOND]] [TIMEZONE]`, or a
shorthand (`daily`, `weekly`, ...). Each part is `*`, a value, a list (`,`), a range
(`..`) or a repetition (`/`). Cron has no seconds and no year, and no `~` (days counted
from the end of the month); and where systemd fires when the weekday AND the day match,
cron fires when either does (unless the day starts with `*`), so both restricted is
refused, except for days 1..7, 8..14, ... (the first, second, ... such weekday: `1#1`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from runner.spec.schedules import cron_error, timezone_error

SHORTHANDS = {
    "minutely": "*-*-* *:*:00",
    "hourly": "*-*-* *:00:00",
    "daily": "*-*-* 00:00:00",
    "weekly": "Mon *-*-* 00:00:00",
    "monthly": "*-*-01 00:00:00",
    "yearly": "*-01-01 00:00:00",
    "annually": "*-01-01 00:00:00",
    "quarterly": "*-01,04,07,10-01 00:00:00",
    "semiannually": "*-01,07-01 00:00:00",
}
_WEEKDAYS = {name: i for i, name in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])}
_FULL_WEEKDAYS = {
    "sunday": 0, "monday": 1, "tuesday": 2, "wednesday": 3,
    "thursday": 4, "friday": 5, "saturday": 6,
}  # fmt: skip
_NTH_WEEK = {"1-7": 1, "8-14": 2, "15-21": 3, "22-28": 4}
_RANGES = {"minute": (0, 59), "hour": (0, 23), "day": (1, 31), "month": (1, 12)}


class CalendarRefused(ValueError):
    """An event cron cannot say; the message says why."""


@dataclass(frozen=True, slots=True)
class CalendarCron:
    cron: str
    zone: str | None  # the event's own time zone, if it names one


def calendar_cron(event: str) -> CalendarCron:
    """The cron expression that fires when `event` does."""
    words = event.split()
    if not words:
        raise CalendarRefused("an empty calendar event")
    zone = None
    if len(words) > 1 and timezone_error(words[-1]) is None:
        zone = words.pop()
    text = " ".join(words)
    words = SHORTHANDS.get(text.lower(), text).split()
    if "~" in text:
        raise CalendarRefused("~ (days counted from the end of the month) has no cron form")
    weekdays = _weekdays(words.pop(0)) if words and words[0][0].isalpha() else "*"
    date, time = _date_and_time(words, event)
    day, month = _date(date)
    minute, hour = _time(time)
    day, weekdays = _day_and_weekdays(day, weekdays)
    cron = f"{minute} {hour} {day} {month} {weekdays}"
    problem = cron_error(cron)
    if problem:
        raise CalendarRefused(problem)
    return CalendarCron(cron, zone)


def _date_and_time(words: list[str], event: str) -> tuple[str, str]:
    """The date (default every day) and time (default midnight) words of an event."""
    date, time = None, None
    for word in words:
        if ":" in word and time is None:
            time = word
        elif "-" in word and ":" not in word and date is None and time is None:
            date = word
        else:
            raise CalendarRefused(
                f'"{event}" is not [WEEKDAYS] [YEAR-MONTH-DAY] [HOUR:MINUTE[:SECOND]] [ZONE]'
            )
    return date or "*-*-*", time or "00:00:00"


def _date(text: str) -> tuple[str, str]:
    parts = text.split("-")
    if len(parts) == 3:
        year = parts.pop(0)
        if year != "*":
            raise CalendarRefused(f'a year ("{year}"): cron has no year field')
    if len(parts) != 2:
        raise CalendarRefused(f'"{text}" is not a date such as *-*-01 or 12-24')
    month, day = parts
    return _part(day, "day"), _part(month, "month")


def _time(text: str) -> tuple[str, str]:
    parts = text.split(":")
    if len(parts) not in (2, 3):
        raise CalendarRefused(f'"{text}" is not a time such as 02:00 or *:0/15')
    if len(parts) == 3 and not re.fullmatch(r"0+(\.0+)?", parts[2]):
        raise CalendarRefused(
            f'seconds "{parts[2]}": cron fires on whole minutes only (use :00, or `every`)'
        )
    hour, minute = parts[0], parts[1]
    return _part(minute, "minute"), _part(hour, "hour")


def _part(text: str, unit: str) -> str:
    """One component as a cron field: `*`, `5`, `1,3`, `1..5` -> `1-5`, `0/15` -> `0-59/15`."""
    return ",".join(_item(item, unit) for item in text.split(","))


def _item(item: str, unit: str) -> str:
    high = _RANGES[unit][1]
    base, _, step = item.partition("/")
    if step and not step.isdigit():
        raise CalendarRefused(f'{unit} "{item}": the repetition must be a whole number')
    if base == "*":
        start, end = "*", ""
    else:
        first, _, second = base.partition("..")
        start = _number(first, unit)
        end = _number(second, unit) if second else (str(high) if step else "")
    field = f"{start}-{end}" if end else start
    return f"{field}/{int(step)}" if step else field


def _number(text: str, unit: str) -> str:
    low, high = _RANGES[unit]
    if not text.isdigit() or not low <= int(text) <= high:
        raise CalendarRefused(f'{unit} "{text}": use {low}-{high}')
    return str(int(text))


def _weekdays(text: str) -> str:
    """`Mon..Fri,Sun` as `1-5,0`."""
    items = []
    for item in text.split(","):
        first, _, second = item.replace("-", "..").partition("..")
        start = _weekday(first)
        if not second:
            items.append(str(start))
            continue
        end = _weekday(second)
        if end < start and end != 0:
            raise CalendarRefused(f'weekdays "{item}" wrap around the week; list them instead')
        items.append(f"{start}-{end or 7}")
    return ",".join(items)


def _weekday(name: str) -> int:
    day = _WEEKDAYS.get(name.lower(), _FULL_WEEKDAYS.get(name.lower()))
    if day is None:
        raise CalendarRefused(f'"{name}" is not a weekday (Mon, Tue, ... or Monday, ...)')
    return day


def _day_and_weekdays(day: str, weekdays: str) -> tuple[str, str]:
    """Both restricted: systemd wants both, cron either (Vixie cron), unless the day
    starts with `*`. Days 1-7, 8-14, 15-21, 22-28 with weekdays become `#`."""
    if day.startswith("*") or weekdays == "*":
        return day, weekdays
    if day in _NTH_WEEK:
        nth = _NTH_WEEK[day]
        return "*", ",".join(f"{d}#{nth}" for d in _expand_weekdays(weekdays))
    raise CalendarRefused(
        "both a weekday and a day of the month: systemd fires when both match, cron when "
        "either does"
    )


def _expand_weekdays(field: str) -> list[int]:
    days: list[int] = []
    for item in field.split(","):
        start, _, end = item.partition("-")
        days.extend(range(int(start), int(end or start) + 1))
    return sorted({d % 7 for d in days})
