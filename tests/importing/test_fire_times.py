"""Round trips: the jobs imported from a crontab fire when cron would have fired the
entries, to the minute, over 2026 and across its clock changes. runner's ticks (cronsim)
are compared with an independent cron (croniter and Debian's clock-change rule, in
`oracle`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import takewhile
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runner.importing import import_crontab, render_job
from runner.spec.schedules import Timing, cron_error, ticks
from tests.importing.oracle import fire_times

YEAR = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
CORPUS = [
    "30 2 * * *",
    "0 2 * * *",
    "30 1 * * *",
    "0 3 * * *",
    "25 6 * * *",
    "47 6 * * 7",
    "52 6 1 * *",
    "0 0 * * 0",
    "0 0 1 1 *",
    "0 9 * * 1-5",
    "0 9 * * MON-FRI",
    "30 8 * jan-mar,oct-dec mon,wed,fri",
    "0 */2 * * *",
    "0 0-23/3 * * *",
    "*/20 2 * * *",
    "5,35 1-3 * * *",
    "0 12 1,15 * *",
    "0 0 1-7 * 1",  # both restricted: the 1st to 7th OR Mondays
    "0 0 */2 * 1",  # day-of-month starts with *: odd days AND Mondays
    "0 0 1 * */2",
    "0 4 13 * 5",
    "59 23 31 12 *",
    "0 22 * * 0-4",
    "15 3 * * sun",
    "0 6 * * 7",
    "1 0 * * *",
    "0 0 * feb *",
    "*/10 0-4 25-31 3,10 0",
    "0 2-3 * * *",
    "30 2 25-31 3 0",
    "00 05 * * *",
    "@daily",
    "@weekly",
    "@monthly",
    "@yearly",
]
# Many ticks a day: compared across the clock changes only.
DENSE = ["* * * * *", "*/5 * * * *", "*/15 9-17 * * mon-fri", "* 2 * * *", "0 * * * *"]
DENSE += ["17 * * * *", "0,30 * * * *", "@hourly"]
# Each zone's 2026 clock changes, as UTC instants an hour or so before them.
CHANGES = {
    "Europe/Berlin": [datetime(2026, 3, 29, 0, tzinfo=UTC), datetime(2026, 10, 25, 0, tzinfo=UTC)],
    "America/New_York": [datetime(2026, 3, 8, 6, tzinfo=UTC), datetime(2026, 11, 1, 5, tzinfo=UTC)],
    # half an hour back and forward
    "Australia/Lord_Howe": [
        datetime(2026, 4, 4, 14, tzinfo=UTC),
        datetime(2026, 10, 3, 15, tzinfo=UTC),
    ],
    # at midnight: 00:00 to 01:00 is skipped, 23:00 to 00:00 repeated
    "America/Santiago": [datetime(2026, 4, 5, 2, tzinfo=UTC), datetime(2026, 9, 6, 3, tzinfo=UTC)],
}
WINDOW = timedelta(hours=12)  # each change is within the 24 hours


def imported_ticks(expr: str, zone: str, start: datetime, end: datetime) -> list[datetime]:
    """runner's ticks in (start, end] of the job imported from a crontab line with `expr`,
    read back from the YAML the import writes."""
    imported = import_crontab(f"{expr} /usr/bin/true\n", source="crontab", timezone=zone)
    assert imported.skipped == ()
    schedule = yaml.safe_load(render_job(imported.jobs[0]))["schedule"]
    timing = Timing(cron=(schedule["cron"],), zone=schedule["timezone"])
    return list(takewhile(lambda t: t <= end, ticks(timing, after=start)))


def assert_same(expr: str, zone: str, start: datetime, end: datetime) -> None:
    runner = imported_ticks(expr, zone, start, end)
    cron = fire_times(expr, zone, start, end)
    assert runner == cron, (
        f"{expr} in {zone}: runner only {sorted(set(runner) - set(cron))[:3]}, "
        f"cron only {sorted(set(cron) - set(runner))[:3]}"
    )


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/New_York"])
@pytest.mark.parametrize("expr", CORPUS)
def test_a_year_of_fire_times_matches_cron(expr: str, zone: str) -> None:
    assert_same(expr, zone, *YEAR)


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/New_York", "America/Santiago"])
@pytest.mark.parametrize("expr", DENSE + CORPUS)
def test_fire_times_across_clock_changes_match_cron(expr: str, zone: str) -> None:
    for change in CHANGES[zone]:
        assert_same(expr, zone, change - WINDOW, change + WINDOW)


LORD_HOWE = "Australia/Lord_Howe"


@pytest.mark.parametrize("expr", DENSE + CORPUS)
def test_fire_times_across_half_hour_clock_changes_match_cron(expr: str) -> None:
    """Lord Howe moves its clock by half an hour: after the fall-back (02:00+11 back to
    01:30+10:30) a wall-clock job runs 01:30-01:59 again and then the clock's 02:00."""
    for change in CHANGES[LORD_HOWE]:
        assert_same(expr, LORD_HOWE, change - WINDOW, change + WINDOW)


@pytest.mark.parametrize(
    ("expr", "wall"),
    [("*/2 0 * * 0", []), ("*/2 * * * 0", ["01:00", "01:02"]), ("*/2 1 * * 0", ["01:00", "01:02"])],
)
def test_a_wall_clock_job_on_a_day_that_starts_in_a_gap(expr: str, wall: list[str]) -> None:
    """Santiago skips 00:00-00:59 on 2026-09-06 (a Sunday): a wall-clock job runs no
    minute of hour 0 and every matching minute of hour 1 (found by hypothesis)."""
    zone = "America/Santiago"
    change = CHANGES[zone][1]
    times = imported_ticks(expr, zone, change, change + timedelta(hours=2))
    assert [t.astimezone(ZoneInfo(zone)).strftime("%H:%M") for t in times][:2] == wall
    assert_same(expr, zone, change - WINDOW, change + WINDOW)


def _field(
    values: st.SearchStrategy[int], names: list[str] | None = None
) -> st.SearchStrategy[str]:
    one = values.map(str) if not names else st.one_of(values.map(str), st.sampled_from(names))
    step = st.integers(1, 12)
    return st.one_of(
        st.just("*"),
        one,
        st.builds(lambda s: f"*/{s}", step),
        st.builds(lambda a, b: f"{min(a, b)}-{max(a, b)}", values, values),
        st.builds(lambda a, b, s: f"{min(a, b)}-{max(a, b)}/{s}", values, values, step),
        st.lists(one, min_size=2, max_size=4, unique=True).map(",".join),
    )


_DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
EXPRESSIONS = st.builds(
    lambda *fields: " ".join(fields),
    _field(st.integers(0, 59)).filter(lambda f: f not in ("*",) and not f.startswith("*/1")),
    _field(st.integers(0, 23)),
    _field(st.integers(1, 31)),
    _field(st.integers(1, 12), _MONTHS),
    _field(st.integers(0, 7), _DAYS),
).filter(lambda expr: cron_error(expr) is None)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    expr=EXPRESSIONS,
    zone=st.sampled_from(["Europe/Berlin", "America/New_York", "America/Santiago"]),
)
def test_any_expression_fires_as_cron_would_across_clock_changes(expr: str, zone: str) -> None:
    for change in CHANGES[zone]:
        assert_same(expr, zone, change - WINDOW, change + WINDOW)
