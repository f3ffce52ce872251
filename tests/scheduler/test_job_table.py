"""When the daemon's job table says a job is next due (`JobTable.load`), on given
instants against a real store: a job with no cursor for its schedule (new, or its
schedule changed) counts its ticks from when it was applied, and is due now only when
one of them passed already; a job with a cursor goes on from it."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from runner.domain.jobs import JobViews, schedule_digest
from runner.reconciler import apply_config
from runner.scheduler.jobs import JobTable
from runner.scheduler.tick import tick
from runner.store import Cursor, Store
from tests.conftest import WriteFile

T = datetime(2026, 1, 5, 10, 20, tzinfo=UTC)  # between two hourly ticks
HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)
NAMES = [f"job-{i}" for i in range(5)]


def every(name: str, period: str) -> str:
    return f"""
        apiVersion: runner/v1
        kind: Job
        name: {name}
        schedule: {{mode: auto, every: {period}}}
        tasks:
          - name: a
            run: "true"
    """


def apply_at(config_dir: Path, store: Store, now: datetime) -> None:
    result = apply_config([str(config_dir)], store, now=now)
    assert result.written, "the apply changed nothing"


def loaded(store: Store, now: datetime) -> JobTable:
    table = JobTable()
    table.load(store, now=now)
    return table


@pytest.fixture
def five_hourly(config_dir: Path, write: WriteFile, store: Store) -> Store:
    """Five new `every: 1h` jobs, applied at T."""
    for name in NAMES:
        write(f"{name}.yaml", every(name, "1h"))
    apply_at(config_dir, store, T)
    assert {r.name for r in store.resources("Job")} == set(NAMES)
    return store


def test_new_jobs_wait_for_their_first_tick_after_they_were_applied(
    five_hourly: Store,
) -> None:
    now = T + MINUTE
    table = loaded(five_hourly, now)

    assert table.due(now) == []
    assert table.next_tick() == datetime(2026, 1, 5, 11, 0, tzinfo=UTC)
    assert sorted(table.due(datetime(2026, 1, 5, 11, 0, tzinfo=UTC))) == NAMES
    assert five_hourly.cursors() == {}  # nothing was written for them


def test_new_jobs_whose_ticks_passed_since_they_were_applied_are_due_now(
    five_hourly: Store,
) -> None:
    now = T + 3 * HOUR  # 13:20: the ticks at 11, 12 and 13 passed (catch-up decides)
    table = loaded(five_hourly, now)

    assert table.next_tick() == now
    assert sorted(table.due(now)) == NAMES
    assert five_hourly.cursors() == {}


def test_a_changed_schedule_counts_from_the_apply_that_changed_it(
    config_dir: Path, write: WriteFile, store: Store
) -> None:
    write("job.yaml", every("report", "1h"))
    apply_at(config_dir, store, T)
    old = store.specs([("Job", "report")])[("Job", "report")]["schedule"]
    ticked = datetime(2026, 1, 5, 11, 0, tzinfo=UTC)  # the old schedule ticked at 11:00
    store.set_cursor("report", Cursor(ticked, schedule_digest(old), False))

    changed = datetime(2026, 1, 5, 13, 20, tzinfo=UTC)
    write("job.yaml", every("report", "2h"))
    apply_at(config_dir, store, changed)
    now = changed + MINUTE
    table = loaded(store, now)

    # From the old cursor (11:00) or the first apply (10:20) the 12:00 tick would be due
    # now; from the change at 13:20 the next two-hourly tick is 14:00.
    assert table.due(now) == []
    assert table.next_tick() == datetime(2026, 1, 5, 14, 0, tzinfo=UTC)
    assert store.cursors()["report"].schedule_digest == schedule_digest(old)  # untouched


def test_a_job_with_a_cursor_goes_on_from_it(
    config_dir: Path, write: WriteFile, store: Store
) -> None:
    write("job.yaml", every("report", "1h"))
    apply_at(config_dir, store, T)
    schedule = store.specs([("Job", "report")])[("Job", "report")]["schedule"]
    ticked = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
    store.set_cursor("report", Cursor(ticked, schedule_digest(schedule), False))

    now = datetime(2026, 1, 5, 12, 30, tzinfo=UTC)
    table = loaded(store, now)
    # From the apply at 10:20, the 11:00 tick would be due now; the cursor says 12:00
    # was handled, so 13:00 is next.
    assert table.due(now) == []
    assert table.next_tick() == datetime(2026, 1, 5, 13, 0, tzinfo=UTC)

    later = datetime(2026, 1, 5, 14, 30, tzinfo=UTC)  # down since 12:30: 13:00 passed
    assert loaded(store, later).due(later) == ["report"]


def test_the_jobs_due_by_an_instant_are_named_and_left_for_the_tick(
    config_dir: Path, write: WriteFile, store: Store
) -> None:
    periods = {"a": "1m", "b": "5m", "c": "15m", "d": "1h", "e": "1m"}
    for name, period in periods.items():
        write(f"{name}.yaml", every(name, period))
    apply_at(config_dir, store, T)  # 10:20: next ticks 10:21 (a, e), 10:25, 10:30, 11:00
    table = loaded(store, T)

    assert table.due_by(T) == []
    assert sorted(table.due_by(T + MINUTE)) == ["a", "e"]
    assert sorted(table.due_by(T + 10 * MINUTE)) == ["a", "b", "c", "e"]
    assert sorted(table.due_by(T + 10 * MINUTE)) == ["a", "b", "c", "e"]  # nothing taken
    assert sorted(table.due(T + 5 * MINUTE)) == ["a", "b", "e"]
    table.set_next("a", T + 2 * MINUTE)  # a's next tick, once the tick handled it
    assert sorted(table.due_by(T + 10 * MINUTE)) == ["a", "c"]


def test_a_job_is_viewed_once_per_revision(
    five_hourly: Store, config_dir: Path, write: WriteFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = loaded(five_hourly, T + MINUTE)
    before = {name: job.view for name, job in table.jobs.items()}
    write("job-1.yaml", every("job-1", "2h"))
    apply_at(config_dir, five_hourly, T + 2 * MINUTE)
    read: list[tuple[str, str]] = []
    specs = five_hourly.specs

    def reading(keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        wanted = list(keys)
        read.extend(wanted)
        return specs(wanted)

    monkeypatch.setattr(five_hourly, "specs", reading)
    table.load(five_hourly, now=T + 3 * MINUTE)

    assert read == [("Job", "job-1")]  # the spec of a revision already viewed is not read

    changed = table.jobs["job-1"].view
    assert changed is not before["job-1"] and changed.schedule.timing.every == 7200
    assert all(table.jobs[name].view is before[name] for name in NAMES if name != "job-1")


def test_a_tick_decides_from_the_tables_views_without_reading_specs(
    five_hourly: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = loaded(five_hourly, T + MINUTE)
    inputs = five_hourly.tick_inputs(NAMES, with_specs=False)
    assert {spec for _, spec in inputs.jobs} == {None}

    def unread(*_: Any) -> None:
        pytest.fail("a spec was read")

    monkeypatch.setattr(five_hourly, "specs", unread)
    monkeypatch.setattr(five_hourly, "revision_spec", unread)
    at = datetime(2026, 1, 5, 11, 0, tzinfo=UTC)
    report = tick(five_hourly, now=at, up_since=T, inputs=inputs, views=table.views)
    assert sorted(c.job for c in report.created) == NAMES


def test_a_tick_reads_the_revisions_it_has_no_view_of(
    five_hourly: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    read: list[str] = []
    revision_spec = five_hourly.revision_spec

    def reading(kind: str, name: str, revision: int) -> dict[str, Any] | None:
        read.append(name)
        return revision_spec(kind, name, revision)

    monkeypatch.setattr(five_hourly, "revision_spec", reading)
    at = datetime(2026, 1, 5, 11, 0, tzinfo=UTC)
    report = tick(five_hourly, now=at, up_since=T, views=JobViews())
    assert sorted(c.job for c in report.created) == sorted(read) == NAMES
