"""What becomes of a schedule's ticks: live runs, catch-up after a downtime, deadlines,
and the ticks missed, by reason (SPEC 2.1, 2.3). Pure: times are given, never read."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from runner.domain.jobs import ScheduleView, schedule_view
from runner.scheduler.decide import CATCHUP_ALL_LIMIT, Due, decide, jitter
from runner.spec.normalize import normalize_schedule

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


def every_minute(**extra: object) -> ScheduleView:
    return schedule_view(normalize_schedule({"cron": ["* * * * *"], **extra}))


@dataclass
class Case:
    schedule: ScheduleView
    cursor: datetime
    up_since: datetime
    now: datetime
    runs: list[tuple[datetime, str]]
    missed: dict[str, int] = field(default_factory=dict)


CASES = {
    "nothing due yet": Case(every_minute(), T0, T0 - MIN, T0 + 30 * timedelta(seconds=1), []),
    "a live tick is a scheduled run": Case(
        every_minute(), T0, T0 - MIN, T0 + MIN, [(T0 + MIN, "schedule")]
    ),
    "two live ticks (a slow loop) are two runs": Case(
        every_minute(),
        T0,
        T0 - MIN,
        T0 + 2 * MIN,
        [(T0 + MIN, "schedule"), (T0 + 2 * MIN, "schedule")],
    ),
    "after a downtime, catchup latest: one run for the latest tick": Case(
        every_minute(),
        T0,
        T0 + 5 * MIN,
        T0 + 5 * MIN + timedelta(seconds=1),
        [(T0 + 5 * MIN, "catchup")],
        {"catchup": 4},
    ),
    "catchup none drops them all": Case(
        every_minute(catchup="none"), T0, T0 + 5 * MIN, T0 + 5 * MIN, [], {"catchup": 5}
    ),
    "catchup all: each one, oldest first": Case(
        every_minute(catchup="all"),
        T0,
        T0 + 3 * MIN,
        T0 + 3 * MIN,
        [(T0 + MIN, "catchup"), (T0 + 2 * MIN, "catchup"), (T0 + 3 * MIN, "catchup")],
    ),
    "a tick older than startingDeadline is dropped": Case(
        every_minute(catchup="all", startingDeadline="2m"),
        T0,
        T0 + 5 * MIN,
        T0 + 5 * MIN,
        [(T0 + 3 * MIN, "catchup"), (T0 + 4 * MIN, "catchup"), (T0 + 5 * MIN, "catchup")],
        {"deadline": 2},
    ),
    "missed ticks and a live one": Case(
        every_minute(),
        T0,
        T0 + 3 * MIN + timedelta(seconds=30),
        T0 + 4 * MIN,
        [(T0 + 3 * MIN, "catchup"), (T0 + 4 * MIN, "schedule")],
        {"catchup": 2},
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_decide(case: Case) -> None:
    decision = decide(case.schedule, cursor=case.cursor, up_since=case.up_since, now=case.now)
    assert [(d.due, d.trigger) for d in decision.runs] == case.runs
    assert dict(decision.missed) == case.missed
    if case.runs:
        assert decision.cursor == max(t for t, _ in case.runs)


def test_catchup_all_is_capped_at_100() -> None:
    now = T0 + 150 * MIN
    decision = decide(every_minute(catchup="all"), cursor=T0, up_since=now, now=now)
    assert len(decision.runs) == CATCHUP_ALL_LIMIT
    assert decision.runs[0] == Due(T0 + 51 * MIN, "catchup")
    assert decision.runs[-1] == Due(now, "catchup")
    assert dict(decision.missed) == {"catchup": 50}
    assert decision.summary == (
        "50 ticks missed between 2026-11-23 12:01:00Z and 2026-11-23 12:50:00Z (50 catchup)"
    )


def test_a_year_of_downtime_is_summarised_not_walked() -> None:
    now = T0 + timedelta(days=365)
    decision = decide(every_minute(), cursor=T0, up_since=now, now=now)
    assert decision.runs == (Due(now, "catchup"),)
    assert decision.more_than
    assert decision.summary is not None and decision.summary.startswith("more than ")
    assert decision.cursor == now


def test_the_cursor_stays_when_nothing_is_due() -> None:
    decision = decide(every_minute(), cursor=T0, up_since=T0, now=T0 + timedelta(seconds=59))
    assert (decision.runs, decision.cursor, decision.summary) == ((), T0, None)


BERLIN = {"timezone": "Europe/Berlin"}


@pytest.mark.parametrize(
    ("cron", "day", "expected"),
    [
        # SPEC 2.1: a fixed time in the spring-forward gap runs once right after it
        ("30 2 * * *", datetime(2026, 3, 29, tzinfo=UTC), ["2026-03-29T01:00:00+00:00"]),
        # ... and a fixed time that happens twice runs once, at the first
        ("30 2 * * *", datetime(2026, 10, 25, tzinfo=UTC), ["2026-10-25T00:30:00+00:00"]),
        # a wildcard in the hour follows the wall clock: the repeated hour ticks again
        (
            "0 * * * *",
            datetime(2026, 10, 25, tzinfo=UTC),
            ["2026-10-25T00:00:00+00:00", "2026-10-25T01:00:00+00:00"],
        ),
    ],
)
def test_dst_ticks_are_runs_as_spec_2_1_says(cron: str, day: datetime, expected: list[str]) -> None:
    schedule = schedule_view(normalize_schedule({"cron": [cron], **BERLIN, "catchup": "all"}))
    cursor = day - timedelta(minutes=1)
    now = day + timedelta(hours=1, minutes=59)  # 00:00 to 01:59 UTC: 02:00 to 03:59 local
    decision = decide(schedule, cursor=cursor, up_since=cursor, now=now)
    assert [d.due.isoformat() for d in decision.runs] == expected


def test_every_counts_elapsed_time() -> None:
    schedule = schedule_view(normalize_schedule({"every": "15m"}))
    decision = decide(schedule, cursor=T0, up_since=T0, now=T0 + timedelta(minutes=31))
    assert [d.due for d in decision.runs] == [
        T0 + timedelta(minutes=15),
        T0 + timedelta(minutes=30),
    ]


def test_jitter_is_in_range_and_the_same_every_time() -> None:
    values = [jitter("job", T0 + i * MIN, 30.0) for i in range(200)]
    assert all(0 <= v <= 30 for v in values)
    assert len({round(v, 6) for v in values}) > 150  # spread, not one value
    assert values == [jitter("job", T0 + i * MIN, 30.0) for i in range(200)]
    assert jitter("job", T0, 0) == 0.0
