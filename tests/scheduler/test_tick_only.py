"""The tick of only some jobs (the daemon knows which are due) and the next tick it
reports for each job it looked at, against a real store on given instants."""

from __future__ import annotations

from collections.abc import Iterator
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

JOBS = """
apiVersion: runner/v1
kind: Job
name: minutely
schedule: {cron: "* * * * *"}
tasks:
  - {name: a, run: "true"}
---
apiVersion: runner/v1
kind: Job
name: five
schedule: {every: 5m}
tasks:
  - {name: a, run: "true"}
---
apiVersion: runner/v1
kind: Job
name: off
disabled: true
schedule: {cron: "* * * * *"}
tasks:
  - {name: a, run: "true"}
---
apiVersion: runner/v1
kind: Job
name: by-hand
schedule: {mode: manual}
tasks:
  - {name: a, run: "true"}
"""

AUTO = ("minutely", "five", "off")


@pytest.fixture
def store(write: WriteFile, _isolated_home: Path) -> Iterator[Store]:
    """The jobs above applied, each auto job's cursor at T0."""
    write("jobs.yaml", JOBS)
    assert run(["apply"]) == 0
    opened = open_store(home=_isolated_home)
    specs = opened.specs([("Job", name) for name in AUTO])
    for name in AUTO:
        schedule = specs[("Job", name)]["schedule"]
        opened.set_cursor(name, Cursor(T0, schedule_digest(schedule), False))
    yield opened
    opened.close()


def created(store: Store, job: str) -> list[datetime]:
    return [r.due for r in reversed(store.history(job=job))]


def test_only_the_named_jobs_are_ticked(store: Store) -> None:
    now = T0 + 5 * MIN + SEC  # both auto jobs have a tick due
    report = tick(store, now=now, up_since=T0 - MIN, only=["five"])
    assert [(c.job, c.due) for c in report.created] == [("five", T0 + 5 * MIN)]
    assert created(store, "minutely") == []
    assert store.cursors(["minutely"])["minutely"].cursor == T0  # untouched
    assert set(report.next_by_job) == {"five"}
    assert report.next_by_job["five"] == T0 + 10 * MIN == report.next_due


def test_a_job_left_out_is_ticked_by_a_later_call(store: Store) -> None:
    tick(store, now=T0 + MIN, up_since=T0 - MIN, only=["five"])
    report = tick(store, now=T0 + MIN, up_since=T0 - MIN, only=["minutely"])
    assert [(c.job, c.due, c.trigger) for c in report.created] == [
        ("minutely", T0 + MIN, "schedule")
    ]
    assert report.next_by_job == {"minutely": T0 + 2 * MIN}


def test_without_only_every_auto_job_has_its_next_tick(store: Store) -> None:
    report = tick(store, now=T0 + MIN, up_since=T0 - MIN)
    assert sorted(c.job for c in report.created) == ["minutely"]
    assert report.next_by_job == {
        "minutely": T0 + 2 * MIN,
        "five": T0 + 5 * MIN,
        "off": T0 + 2 * MIN,  # disabled: no run, but its cursor moves on at its ticks
    }
    assert report.next_due == T0 + 2 * MIN
    assert "by-hand" not in report.next_by_job


def test_only_a_disabled_job_makes_no_run_and_reports_its_next_tick(store: Store) -> None:
    report = tick(store, now=T0 + MIN, up_since=T0 - MIN, only=["off"])
    assert report.created == []
    assert report.next_by_job == {"off": T0 + 2 * MIN}
    assert created(store, "off") == []


def test_only_names_that_are_not_auto_jobs_tick_nothing(store: Store) -> None:
    report = tick(store, now=T0 + 5 * MIN, up_since=T0 - MIN, only=["by-hand", "no-such-job"])
    assert report.created == [] and report.next_by_job == {}
    assert report.next_due is None


def test_an_empty_only_ticks_nothing(store: Store) -> None:
    report = tick(store, now=T0 + 5 * MIN, up_since=T0 - MIN, only=[])
    assert report.created == [] and report.next_by_job == {}
    assert created(store, "minutely") == [] and created(store, "five") == []
