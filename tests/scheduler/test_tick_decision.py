"""The tick's decision as a pure function of what it read (no store, no clock): one
every-minute job "j", its cursor at T0 unless a case says otherwise, against tables of
cases for live ticks, overlap, catch-up, schedules that are off, and cursors that start
or move (SPEC 2.2, 2.3). Times in the tables are minutes after T0."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from runner.domain.jobs import schedule_digest
from runner.domain.runs import ActiveRun
from runner.scheduler.tick_decision import TickDecision, TickFacts, decide_tick
from runner.store import Cursor, StoredResource

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
RUNNING = ActiveRun(id=41, job="j", revision=3, state="running")
WAITING = ActiveRun(id=42, job="j", revision=3, state="scheduled")
ELSEWHERE = ActiveRun(id=43, job="other", revision=1, state="running")
STORED = "stored"  # the job's cursor at T0, for its schedule


def at(minutes: float) -> datetime:
    return T0 + minutes * MIN


def job_spec(schedule: Mapping[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    return {
        "name": "j",
        "schedule": {
            "mode": "auto",
            "cron": ["* * * * *"],
            "catchup": "latest",
            **(schedule or {}),
        },
        "tasks": [{"name": "a"}, {"name": "b"}],
        **fields,
    }


def facts(
    spec: Mapping[str, Any],
    *,
    cursor: Cursor | str | None = STORED,
    active: Sequence[ActiveRun] = (),
    up_since: float = -1,
    applied: float | None = None,
    deleting: bool = False,
) -> TickFacts:
    resource = StoredResource("Job", "j", 3, "d", "/jobs.d/j.yaml", 1, deleting)
    if cursor == STORED:
        cursor = Cursor(T0, schedule_digest(spec["schedule"]), False)
    assert not isinstance(cursor, str)
    return TickFacts(
        jobs=[(resource, spec)],
        cursors={"j": cursor} if cursor is not None else {},
        active=list(active),
        applied={"j": at(applied)} if applied is not None else {},
        up_since=at(up_since),
    )


def minutes(when: datetime | None) -> float | None:
    return None if when is None else (when - T0) / MIN


def outline(decision: TickDecision) -> dict[str, Any]:
    """The decision in the tables' terms."""
    moved = decision.cursors.get("j")
    return {
        "create": [(minutes(r.due), r.trigger) for r in decision.create],
        "cancel": [(c.run_id, c.reason) for c in decision.cancel],
        "missed": {m.reason: m.count for m in decision.missed},
        "cursor": minutes(moved.cursor) if moved is not None else None,
        "next": minutes(decision.next_by_job.get("j")),
    }


def expect(
    create: Sequence[tuple[float, str]] = (),
    *,
    cancel: Sequence[tuple[int, str]] = (),
    missed: Mapping[str, int] | None = None,
    cursor: float | None = None,
    next: float | None = None,
) -> dict[str, Any]:
    return {
        "create": list(create),
        "cancel": list(cancel),
        "missed": dict(missed or {}),
        "cursor": cursor,
        "next": next,
    }


def by_tick(minute: int) -> str:
    return f"cancelled by the tick at 2026-12-01 12:{minute:02d}:00Z (overlap: cancel-running)"


LIVE: list[tuple[str, TickFacts, float, dict[str, Any]]] = [
    ("a-live-tick", facts(job_spec()), 1.02, expect([(1, "schedule")], cursor=1, next=2)),
    ("no-tick-yet", facts(job_spec()), 0.5, expect(next=1)),
    (
        "skip-behind-a-running-run",
        facts(job_spec(), active=[RUNNING]),
        1,
        expect(missed={"overlap": 1}, cursor=1, next=2),
    ),
    (
        "another-jobs-run-is-no-overlap",
        facts(job_spec(), active=[ELSEWHERE]),
        1,
        expect([(1, "schedule")], cursor=1, next=2),
    ),
    (
        "skip-two-ticks-at-once",
        facts(job_spec()),
        2,
        expect([(1, "schedule")], missed={"overlap": 1}, cursor=2, next=3),
    ),
    (
        "queue-one-waits",
        facts(job_spec({"overlap": "queue"}), active=[RUNNING]),
        1,
        expect([(1, "schedule")], cursor=1, next=2),
    ),
    (
        "queue-a-second-is-dropped",
        facts(job_spec({"overlap": "queue"}), active=[RUNNING, WAITING]),
        1,
        expect(missed={"overlap": 1}, cursor=1, next=2),
    ),
    (
        "cancel-running",
        facts(job_spec({"overlap": "cancel-running"}), active=[RUNNING]),
        1,
        expect([(1, "schedule")], cancel=[(41, by_tick(1))], cursor=1, next=2),
    ),
    (
        # the first tick's run is not created: the second cancels it; run 41 is asked once
        "cancel-running-two-ticks-at-once",
        facts(job_spec({"overlap": "cancel-running"}), active=[RUNNING]),
        2,
        expect(
            [(2, "schedule")], cancel=[(41, by_tick(1))], missed={"overlap": 1}, cursor=2, next=3
        ),
    ),
    (
        "allow-runs-beside",
        facts(job_spec({"overlap": "allow"}), active=[RUNNING]),
        3,
        expect([(1, "schedule"), (2, "schedule"), (3, "schedule")], cursor=3, next=4),
    ),
]

CATCH_UP: list[tuple[str, TickFacts, float, dict[str, Any]]] = [
    (
        "all-oldest-first",
        facts(job_spec({"catchup": "all"}), up_since=3.5),
        3.5,
        expect([(1, "catchup"), (2, "catchup"), (3, "catchup")], cursor=3, next=4),
    ),
    (
        "latest",
        facts(job_spec(), up_since=3.5),
        3.5,
        expect([(3, "catchup")], missed={"catchup": 2}, cursor=3, next=4),
    ),
    (
        "none",
        facts(job_spec({"catchup": "none"}), up_since=3.5),
        3.5,
        expect(missed={"catchup": 3}, cursor=3, next=4),
    ),
    (
        "past-the-starting-deadline",
        facts(job_spec({"catchup": "all", "startingDeadline": "90s"}), up_since=3.5),
        3.5,
        expect([(2, "catchup"), (3, "catchup")], missed={"deadline": 1}, cursor=3, next=4),
    ),
    (
        # catch-up runs wait whatever the policy; a live tick after them meets them
        "catch-up-then-a-live-tick-skipped",
        facts(job_spec({"catchup": "all"}), up_since=2.5),
        3,
        expect([(1, "catchup"), (2, "catchup")], missed={"overlap": 1}, cursor=3, next=4),
    ),
    (
        "catch-up-then-a-live-tick-that-cancels-them",
        facts(job_spec({"catchup": "all", "overlap": "cancel-running"}), up_since=2.5),
        3,
        expect([(3, "schedule")], missed={"overlap": 2}, cursor=3, next=4),
    ),
]

CURSORS: list[tuple[str, TickFacts, float, dict[str, Any]]] = [
    ("disabled", facts(job_spec(disabled=True)), 5.5, expect(cursor=5, next=6)),
    ("not-enabled", facts(job_spec({"enabled": False})), 5.5, expect(cursor=5, next=6)),
    (
        "paused",
        facts(job_spec(), cursor=Cursor(T0, schedule_digest(job_spec()["schedule"]), True)),
        5.5,
        expect(cursor=5, next=6),
    ),
    (
        "a-new-job-starts-when-applied",
        facts(job_spec(), cursor=None, applied=2.5, up_since=-10),
        3.5,
        expect([(3, "schedule")], cursor=3, next=4),
    ),
    (
        "a-changed-schedule-starts-when-applied",
        facts(job_spec(), cursor=Cursor(at(-60), "old", False), applied=2.5, up_since=-10),
        3.5,
        expect([(3, "schedule")], cursor=3, next=4),
    ),
    (
        "a-clock-stepped-back-goes-on-from-now",
        facts(job_spec(), cursor=Cursor(at(10), schedule_digest(job_spec()["schedule"]), False)),
        5.5,
        expect(cursor=5.5, next=6),
    ),
]


@pytest.mark.parametrize(
    ("case", "now", "expected"),
    [(f, n, e) for _, f, n, e in LIVE],
    ids=[name for name, *_ in LIVE],
)
def test_live_ticks_and_overlap(case: TickFacts, now: float, expected: dict[str, Any]) -> None:
    assert outline(decide_tick(case, at(now))) == expected


@pytest.mark.parametrize(
    ("case", "now", "expected"),
    [(f, n, e) for _, f, n, e in CATCH_UP],
    ids=[name for name, *_ in CATCH_UP],
)
def test_catch_up(case: TickFacts, now: float, expected: dict[str, Any]) -> None:
    assert outline(decide_tick(case, at(now))) == expected


@pytest.mark.parametrize(
    ("case", "now", "expected"),
    [(f, n, e) for _, f, n, e in CURSORS],
    ids=[name for name, *_ in CURSORS],
)
def test_schedules_off_and_cursors(case: TickFacts, now: float, expected: dict[str, Any]) -> None:
    assert outline(decide_tick(case, at(now))) == expected


def test_a_new_job_with_status_paused_starts_paused() -> None:
    decision = decide_tick(facts(job_spec(status="paused"), cursor=None, applied=0.5), at(3))
    assert decision.create == () and decision.cursors["j"].paused


@pytest.mark.parametrize(
    "case",
    [facts(job_spec({"mode": "manual", "cron": None})), facts(job_spec(), deleting=True)],
    ids=["manual", "deleting"],
)
def test_jobs_that_no_schedule_runs_are_not_decided(case: TickFacts) -> None:
    assert decide_tick(case, at(5)) == TickDecision()


def test_the_runs_carry_the_jobs_revision_and_tasks() -> None:
    (made,) = decide_tick(facts(job_spec()), at(1)).create
    assert (made.job, made.revision, made.tasks) == ("j", 3, ("a", "b"))


def test_missed_ticks_have_one_event_each_reason_and_one_summary() -> None:
    decision = decide_tick(facts(job_spec(), active=[RUNNING], up_since=3.5), at(4))
    summary = "2 ticks missed between 2026-12-01 12:01:00Z and 2026-12-01 12:02:00Z (2 catchup)"
    assert [(m.reason, m.count, m.message) for m in decision.missed] == [
        ("catchup", 2, summary),
        ("overlap", 1, "1 tick(s) skipped: overlap"),  # the live tick at 4, behind run 41
    ]
    assert decision.summaries == (f"j: {summary}",)


def test_the_next_due_is_the_earliest_of_the_jobs_that_run() -> None:
    spec = job_spec()
    off = StoredResource("Job", "off", 1, "d", "/jobs.d/off.yaml", 1, False)
    hourly = StoredResource("Job", "hourly", 1, "d", "/jobs.d/hourly.yaml", 1, False)
    both = TickFacts(
        jobs=[
            (off, {**job_spec(disabled=True), "name": "off"}),
            (hourly, {**job_spec({"cron": ["0 * * * *"]}), "name": "hourly"}),
        ],
        cursors={
            name: Cursor(T0, schedule_digest(s), False)
            for name, s in (
                ("off", spec["schedule"]),
                ("hourly", {**spec["schedule"], "cron": ["0 * * * *"]}),
            )
        },
        active=[],
        applied={},
        up_since=at(-1),
    )
    decision = decide_tick(both, at(1))
    assert decision.next_by_job == {"off": at(2), "hourly": at(60)}
    assert decision.next_due == at(60)  # a job that is off does not wake the loop


def test_a_job_that_starts_at_its_apply_time_asks_for_it_first() -> None:
    assert decide_tick(facts(job_spec(), cursor=None), at(3)) == TickDecision(unstarted=("j",))
    changed = Cursor(T0, "an older schedule", False)
    assert decide_tick(facts(job_spec(), cursor=changed), at(3)).unstarted == ("j",)
    manual = facts(job_spec({"mode": "manual", "cron": None}), cursor=None)
    assert decide_tick(manual, at(3)) == TickDecision()


def test_a_job_whose_apply_time_is_unknown_starts_now() -> None:
    case = replace(facts(job_spec(), cursor=None), applied={"j": None})
    decision = decide_tick(case, at(3.5))
    assert outline(decision) == expect(cursor=3.5, next=4)
