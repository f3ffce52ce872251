"""Fire times explained (issue 16): the scheduler's own ticks, each marked where a clock
change moves, skips or repeats it, on known dates in Europe/Berlin and America/New_York."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from runner.spec.fire_times import FireTime, clock_changes, fire_times
from runner.spec.schedules import Timing, first_n, load_zone, ticks

BERLIN, NEW_YORK = "Europe/Berlin", "America/New_York"


def local(timing: Timing, start: datetime, count: int) -> list[tuple[str, str | None]]:
    """Each fire time as `2027-03-28T03:00:00+02:00`, with its mark."""
    return [(t.local.isoformat(), t.dst) for t in fire_times(timing, start=start, count=count)]


def cron(expr: str, zone: str) -> Timing:
    return Timing(cron=(expr,), zone=zone)


@pytest.mark.parametrize(
    ("timing", "start"),
    [
        (cron("30 2 * * *", BERLIN), datetime(2027, 3, 20, tzinfo=UTC)),
        (cron("*/20 2 * * *", BERLIN), datetime(2027, 10, 30, tzinfo=UTC)),
        (cron("0 * * * *", NEW_YORK), datetime(2027, 11, 6, tzinfo=UTC)),
        (
            Timing(cron=("0,30 2 * * *", "@hourly"), zone=NEW_YORK),
            datetime(2027, 3, 13, tzinfo=UTC),
        ),
        (Timing(every=3600, zone=BERLIN), datetime(2027, 10, 30, 22, tzinfo=UTC)),
    ],
)
def test_the_times_are_the_ticks_the_scheduler_runs(timing: Timing, start: datetime) -> None:
    shown = [t.at for t in fire_times(timing, start=start, count=60)]
    assert shown == first_n(ticks(timing, after=start - timedelta(microseconds=1)), 60)


def test_a_fixed_time_in_the_berlin_spring_gap_runs_once_right_after_it() -> None:
    times = fire_times(cron("30 2 * * *", BERLIN), start=datetime(2027, 3, 27, tzinfo=UTC), count=3)
    assert [t.local.isoformat() for t in times] == [
        "2027-03-27T02:30:00+01:00",
        "2027-03-28T03:00:00+02:00",
        "2027-03-29T02:30:00+02:00",
    ]
    assert times[1] == FireTime(
        datetime(2027, 3, 28, 1, 0, tzinfo=UTC),
        times[1].local,
        "gap",
        "DST gap: 02:30 does not exist (the clocks go from 02:00 to 03:00); runs once, at 03:00",
    )
    assert times[0].dst is None and times[2].dst is None


def test_a_fixed_time_in_the_berlin_autumn_repeat_runs_once_at_the_first() -> None:
    times = fire_times(
        cron("30 2 * * *", BERLIN), start=datetime(2027, 10, 30, tzinfo=UTC), count=3
    )
    assert [(t.at, t.dst) for t in times] == [
        (datetime(2027, 10, 30, 0, 30, tzinfo=UTC), None),
        (datetime(2027, 10, 31, 0, 30, tzinfo=UTC), "repeat"),  # 02:30 CEST, not 02:30 CET
        (datetime(2027, 11, 1, 1, 30, tzinfo=UTC), None),
    ]
    assert times[1].note == (
        "DST repeat: 02:30 happens twice (first CEST, then CET); runs once, at the first"
    )


def test_the_wall_clock_hour_is_skipped_in_the_gap_and_runs_twice_in_the_repeat() -> None:
    hourly = cron("0 * * * *", BERLIN)
    assert local(hourly, datetime(2027, 3, 28, 0, tzinfo=UTC), 2) == [
        ("2027-03-28T01:00:00+01:00", None),
        ("2027-03-28T03:00:00+02:00", "gap"),
    ]
    (after_gap,) = fire_times(hourly, start=datetime(2027, 3, 28, 0, 30, tzinfo=UTC), count=1)
    assert after_gap.note == (
        "DST gap: no run at 02:00: it does not exist (the clocks go from 02:00 to 03:00)"
    )
    repeat = fire_times(hourly, start=datetime(2027, 10, 31, 0, tzinfo=UTC), count=3)
    assert [(t.local.isoformat(), t.dst) for t in repeat] == [
        ("2027-10-31T02:00:00+02:00", "repeat"),
        ("2027-10-31T02:00:00+01:00", "repeat"),
        ("2027-10-31T03:00:00+01:00", None),
    ]
    assert repeat[0].note is not None and repeat[0].note.endswith("runs at both; this is the first")
    assert repeat[1].note is not None and repeat[1].note.endswith("this is the second")


def test_ticks_swallowed_by_the_gap_are_named_on_the_next_tick_with_their_day() -> None:
    (first,) = fire_times(
        cron("*/20 2 * * *", BERLIN), start=datetime(2027, 3, 27, 3, tzinfo=UTC), count=1
    )
    assert first.local.isoformat() == "2027-03-29T02:00:00+02:00"
    assert first.note == (
        "DST gap: no run at 02:00, 02:20 and 02:40 on Sun 2027-03-28: they do not exist "
        "(the clocks go from 02:00 to 03:00)"
    )
    (minutely,) = fire_times(
        cron("* * * * *", BERLIN), start=datetime(2027, 3, 28, 0, 59, 30, tzinfo=UTC), count=1
    )
    assert minutely.note is not None and "02:00 to 02:59 (60 times)" in minutely.note


def test_new_york_spring_gap_and_autumn_repeat() -> None:
    spring = local(cron("30 2 * * *", NEW_YORK), datetime(2027, 3, 13, tzinfo=UTC), 3)
    assert spring == [
        ("2027-03-13T02:30:00-05:00", None),
        ("2027-03-14T03:00:00-04:00", "gap"),
        ("2027-03-15T02:30:00-04:00", None),
    ]
    autumn = fire_times(
        cron("30 1 * * *", NEW_YORK), start=datetime(2027, 11, 6, tzinfo=UTC), count=3
    )
    assert [(t.local.isoformat(), t.dst) for t in autumn] == [
        ("2027-11-06T01:30:00-04:00", None),
        ("2027-11-07T01:30:00-04:00", "repeat"),
        ("2027-11-08T01:30:00-05:00", None),
    ]
    assert autumn[1].note == (
        "DST repeat: 01:30 happens twice (first EDT, then EST); runs once, at the first"
    )


def test_times_of_several_crons_moved_into_one_tick_are_all_named() -> None:
    timing = Timing(cron=("0,30 2 * * *", "0 3 * * *"), zone=NEW_YORK)
    (tick,) = fire_times(timing, start=datetime(2027, 3, 14, 6, tzinfo=UTC), count=1)
    assert tick.local.isoformat() == "2027-03-14T03:00:00-04:00"
    assert tick.note == (
        "DST gap: 02:00 and 02:30 do not exist (the clocks go from 02:00 to 03:00); "
        "runs once, at 03:00"
    )


@pytest.mark.parametrize(
    ("expr", "day", "expected"),
    [  # SPEC 2.1's table (2026, Europe/Berlin): the ticks from 01:00 to 03:59, and their marks
        ("30 2 * * *", "2026-03-29", [("03:00+02:00", "gap")]),
        ("30 2 * * *", "2026-10-25", [("02:30+02:00", "repeat")]),
        ("*/20 2 * * *", "2026-03-29", []),
        (
            "*/20 2 * * *",
            "2026-10-25",
            [(f"02:{m:02}+{o}", "repeat") for o in ("02:00", "01:00") for m in (0, 20, 40)],
        ),
        ("0 * * * *", "2026-03-29", [("01:00+01:00", None), ("03:00+02:00", "gap")]),
        (
            "0 * * * *",
            "2026-10-25",
            [
                ("01:00+02:00", None),
                ("02:00+02:00", "repeat"),
                ("02:00+01:00", "repeat"),
                ("03:00+01:00", None),
            ],
        ),
    ],
)
def test_spec_dst_table_is_marked(
    expr: str, day: str, expected: list[tuple[str, str | None]]
) -> None:
    midnight = datetime.fromisoformat(day).replace(tzinfo=load_zone(BERLIN))
    times = fire_times(cron(expr, BERLIN), start=midnight, count=30)
    night = [t for t in times if t.local.date() == midnight.date() and 1 <= t.local.hour <= 3]
    assert [(f"{t.local:%H:%M}{t.local.isoformat()[-6:]}", t.dst) for t in night] == expected


def test_an_interval_counts_elapsed_time_and_says_so_across_clock_changes() -> None:
    hourly = Timing(every=3600, zone=BERLIN)
    spring = fire_times(hourly, start=datetime(2027, 3, 28, 0, 30, tzinfo=UTC), count=1)
    assert spring[0].local.isoformat() == "2027-03-28T03:00:00+02:00"
    assert spring[0].note == (
        "DST gap: on Sun 2027-03-28 the clocks go from 02:00 to 03:00; `every` counts elapsed "
        "time, so its ticks fall 1h later by the clock"
    )
    autumn = fire_times(hourly, start=datetime(2027, 10, 31, tzinfo=UTC), count=2)
    assert [(t.local.isoformat(), t.dst) for t in autumn] == [
        ("2027-10-31T02:00:00+02:00", "repeat"),
        ("2027-10-31T02:00:00+01:00", "repeat"),
    ]
    assert autumn[1].note == (
        "DST repeat: 02:00 happens twice (first CEST, then CET); runs at both; this is the "
        "second; `every` counts elapsed time, not the clock"
    )


def test_a_schedule_in_utc_is_never_marked() -> None:
    times = fire_times(cron("0 * * * *", "UTC"), start=datetime(2027, 3, 28, tzinfo=UTC), count=48)
    assert len(times) == 48 and all(t.dst is None and t.note is None for t in times)


def test_clock_changes_are_found_to_the_second() -> None:
    changes = clock_changes(
        load_zone(BERLIN), datetime(2027, 1, 1, tzinfo=UTC), datetime(2028, 1, 1, tzinfo=UTC)
    )
    assert [(c.at, c.forward, c.told) for c in changes] == [
        (datetime(2027, 3, 28, 1, tzinfo=UTC), True, "the clocks go from 02:00 to 03:00"),
        (datetime(2027, 10, 31, 1, tzinfo=UTC), False, "the clocks go back from 03:00 to 02:00"),
    ]


def test_the_calendar_ending_gives_fewer_times_not_an_error() -> None:
    yearly = cron("0 0 1 1 *", BERLIN)
    times = fire_times(yearly, start=datetime(9998, 6, 1, tzinfo=UTC), count=10)
    assert [t.at for t in times] == [datetime(9998, 12, 31, 23, tzinfo=UTC)]
