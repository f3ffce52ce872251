"""A normalised schedule (plain data, as stored) as the `Timing` its ticks come from."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runner.spec.durations import parse_seconds
from runner.spec.schedules import Timing


def timing_of(schedule: Mapping[str, Any]) -> Timing:
    """The crons or interval of a normalised schedule, with its time zone."""
    every = schedule.get("every")
    return Timing(
        cron=tuple(schedule.get("cron") or ()),
        every=parse_seconds(str(every)) if every else None,
        zone=str(schedule.get("timezone") or "UTC"),
    )
