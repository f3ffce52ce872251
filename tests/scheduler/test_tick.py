"""The scheduler's tick against a real store, on given instants (no clock is read):
live ticks, catch-up after a downtime, overlap policies across ticks, and schedules
that are off, paused or disabled (SPEC 2.2, 2.3)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from runner.cli import run
from runner.domain.jobs import schedule_digest
from runner.scheduler.tick import tick
from runner.store import Cursor, Store, open_store
from tests.conftest import WriteFile

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
SEC = timedelta(seconds=1)

Setup = Callable[..., Store]


@pytest.fixture
def setup(write: WriteFile, _isolated_home: Path) -> Iterator[Setup]:
    """Apply one every-minute job with the given fields, its cursor at T0."""
    opened: list[Store] = []

    def _setup(extra: str = "", schedule: str = "") -> Store:
        write(
            "job.yaml",
            f"""
            apiVersion: runner/v1
            kind: Job
            name: minutely
            schedule: {{cron: "* * * * *"{schedule}}}
            {extra}
            tasks:
              - {{name: a, run: "true"}}
            """,
        )
        assert run(["apply"]) == 0
        store = open_store(home=_isolated_home)
        opened.append(store)
        spec = store.specs([("Job", "minutely")])[("Job", "minutely")]
        store.set_cursor("minutely", Cursor(T0, schedule_digest(spec["schedule"]), False))
        return store

    yield _setup
    for store in opened:
        store.close()


def runs_of(store: Store) -> list[tuple[datetime, str, str]]:
    return [(r.due, r.trigger, r.state) for r in reversed(store.history(job="minutely"))]


def test_a_live_tick_makes_one_run_once(setup: Setup) -> None:
    store = setup()
    report = tick(store, now=T0 + MIN + SEC, up_since=T0 - MIN)
    assert [(c.due, c.trigger) for c in report.created] == [(T0 + MIN, "schedule")]
    assert report.next_due == T0 + 2 * MIN
    assert tick(store, now=T0 + MIN + 2 * SEC, up_since=T0 - MIN).created == []
    assert runs_of(store) == [(T0 + MIN, "schedule", "scheduled")]


def test_overlap_skip_counts_the_dropped_tick(setup: Setup) -> None:
    store = setup()
    tick(store, now=T0 + MIN, up_since=T0 - MIN)
    report = tick(store, now=T0 + 2 * MIN, up_since=T0 - MIN)  # run 1 has not ended
    assert report.created == [] and report.missed == {"minutely": {"overlap": 1}}
    assert store.missed_ticks("minutely", ("overlap", "deadline", "catchup"))["overlap"] == 1


def test_overlap_queue_keeps_one_waiting(setup: Setup) -> None:
    store = setup(schedule=", overlap: queue")
    first = tick(store, now=T0 + MIN, up_since=T0 - MIN).created[0]
    store.set_run_state(first.run_id, "running", now=T0 + MIN)
    assert len(tick(store, now=T0 + 2 * MIN, up_since=T0 - MIN).created) == 1  # waits
    assert tick(store, now=T0 + 3 * MIN, up_since=T0 - MIN).missed == {"minutely": {"overlap": 1}}


def test_overlap_cancel_running_asks_the_active_run_to_stop(setup: Setup) -> None:
    store = setup(schedule=", overlap: cancel-running")
    first = tick(store, now=T0 + MIN, up_since=T0 - MIN).created[0]
    store.set_run_state(first.run_id, "running", now=T0 + MIN)
    report = tick(store, now=T0 + 2 * MIN, up_since=T0 - MIN)
    assert report.cancelled == [first.run_id] and len(report.created) == 1
    assert store.cancel_requests([first.run_id]) == {
        first.run_id: "cancelled by the tick at 2026-12-01 12:02:00Z (overlap: cancel-running)"
    }


def test_overlap_allow_runs_beside(setup: Setup) -> None:
    store = setup(schedule=", overlap: allow")
    for minute in (1, 2, 3):
        tick(store, now=T0 + minute * MIN, up_since=T0 - MIN)
    assert [t for _, t, _ in runs_of(store)] == ["schedule"] * 3


@pytest.mark.parametrize(
    ("catchup", "expected"),
    [("none", []), ("latest", [10]), ("all", [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])],
)
def test_catch_up_after_a_downtime(setup: Setup, catchup: str, expected: list[int]) -> None:
    store = setup(schedule=f", catchup: {catchup}")
    up = T0 + 10 * MIN + 30 * SEC  # the daemon came back up 10 minutes late
    report = tick(store, now=up, up_since=up)
    assert [(c.due, c.trigger) for c in report.created] == [
        (T0 + m * MIN, "catchup") for m in expected
    ]
    dropped = 10 - len(expected)
    assert report.missed == ({"minutely": {"catchup": dropped}} if dropped else {})
    if dropped:
        assert report.events == [
            f"minutely: {dropped} tick{'s' if dropped > 1 else ''} missed between "
            f"2026-12-01 12:01:00Z and 2026-12-01 12:{dropped:02d}:00Z ({dropped} catchup)"
        ]


def test_a_disabled_job_makes_no_runs_and_no_flood_when_enabled_again(
    setup: Setup, write: WriteFile
) -> None:
    store = setup(extra="disabled: true")
    assert tick(store, now=T0 + 30 * MIN, up_since=T0).created == []
    job = Path("jobs.d/job.yaml")
    job.write_text(job.read_text().replace("disabled: true", "disabled: false"))
    assert run(["apply"]) == 0  # enabled again; the schedule is unchanged
    report = tick(store, now=T0 + 31 * MIN, up_since=T0)
    assert [(c.due, c.trigger) for c in report.created] == [(T0 + 31 * MIN, "schedule")]


def test_a_schedule_not_enabled_makes_no_runs(setup: Setup) -> None:
    store = setup(schedule=", enabled: false")
    assert tick(store, now=T0 + 5 * MIN, up_since=T0).created == []
    assert runs_of(store) == []


def test_a_paused_job_makes_no_scheduled_runs(setup: Setup) -> None:
    store = setup(extra="status: paused")
    store.set_cursor("minutely", store.cursors()["minutely"]._replace(paused=True))
    assert tick(store, now=T0 + 5 * MIN, up_since=T0).created == []
