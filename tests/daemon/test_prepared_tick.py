"""A tick's reads made just before it falls (`Daemon._prepare`): used when nothing
changed since, read again when this process wrote to the store, read the jobs again or
was woken by another process; and the queue they carry keeps what admission needs."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from runner.clock import FakeClock
from runner.reconciler.apply import apply_config
from runner.runs.trigger import trigger
from runner.store import Store, open_store
from runner.wakeup import poke
from tests.daemon.test_review import START, Harness

DUE = datetime(2026, 1, 5, 10, 1, tzinfo=UTC)  # the first tick after START (10:00:30)

JOB = """
    apiVersion: runner/v1
    kind: Job
    name: export
    schedule: {{mode: auto, every: 1m, overlap: {overlap}}}
    tasks:
      - name: a
        run: "{run}"
"""


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[Harness]:
    h = Harness(tmp_path, FakeClock(START))
    try:
        yield h
    finally:
        h.close()


class Reads:
    """Counts the store reads a tick and an admission make of their own."""

    def __init__(self, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[str] = []
        for name in ("tick_inputs", "queue_state"):
            real = getattr(store, name)
            monkeypatch.setattr(store, name, self._counted(name, real))

    def _counted(self, name: str, real: Any) -> Any:
        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            return real(*args, **kwargs)

        return counted


def up_to_the_tick(fake: Harness, *, overlap: str = "skip", run: str = "true") -> None:
    """Boot on the job and stop 10 ms before its first tick, once the loop prepared it."""
    fake.write("a.yaml", JOB.format(overlap=overlap, run=run))
    d = fake.boot()
    fake.step()
    assert d.jobs.next_tick() == DUE
    fake.clock.advance((DUE - START).total_seconds() - 0.01)
    fake.step()  # within LEAD of the tick: its reads are made now
    assert d._prepared is not None and d._prepared.at == DUE


def dues(fake: Harness) -> list[tuple[datetime, int, str]]:
    return [(r.due, r.revision, r.state) for r in fake.runs("export")]


def test_a_prepared_tick_writes_and_starts_without_reading_again(
    fake: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    up_to_the_tick(fake)
    reads = Reads(fake.store, monkeypatch)
    fake.clock.advance(0.01)
    fake.step()
    assert reads.calls == []
    ((due, revision, state),) = dues(fake)
    assert (due, revision) == (DUE, 1)
    assert state in ("running", "success")
    assert "run-started" in fake.out.getvalue()


def test_a_write_by_the_daemon_itself_since_makes_the_tick_read_again(
    fake: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    up_to_the_tick(fake)
    fake.store.record_event(kind="note", at=fake.clock.now(), message="written meanwhile")
    reads = Reads(fake.store, monkeypatch)
    fake.clock.advance(0.01)
    fake.step()
    assert reads.calls == ["tick_inputs", "queue_state"]
    assert [d[:2] for d in dues(fake)] == [(DUE, 1)]


def test_a_job_changed_by_another_process_that_woke_the_daemon_runs_as_changed(
    fake: Harness,
) -> None:
    up_to_the_tick(fake)
    assert fake.daemon is not None and fake.daemon.supervisor is not None
    # `runner apply` in another process: its own connection to the store, then a poke.
    fake.write("a.yaml", JOB.format(overlap="skip", run="echo changed"))
    other = open_store(home=fake.home)
    try:
        apply_config([str(fake.config)], other, now=fake.clock.now())
    finally:
        other.close()
    assert poke(fake.home, os.getpid())
    fake.daemon.supervisor.poll(0)  # the loop's wait, which hears the poke
    fake.clock.advance(0.01)
    fake.step()
    assert [d[:2] for d in dues(fake)] == [(DUE, 2)], fake.out.getvalue()


def test_a_prepared_tick_of_a_job_still_running_queues_behind_it(fake: Harness) -> None:
    """The queue read before the tick holds the active runs even when nothing waited."""
    fake.write("a.yaml", JOB.format(overlap="queue", run="sleep 30"))
    d = fake.boot()
    fake.step()
    fake.clock.advance((DUE - START).total_seconds())
    fake.step()  # the first run starts, and goes on
    assert [d[2] for d in dues(fake)] == ["running"]
    fake.clock.advance(60 - 0.01)
    fake.step()
    assert d._prepared is not None and d._prepared.at == DUE + timedelta(minutes=1)
    fake.clock.advance(0.01)
    fake.step()
    assert [(due, state) for due, _, state in dues(fake)] == [
        (DUE, "running"),
        (DUE + timedelta(minutes=1), "scheduled"),
    ]
    assert "queued behind the job's active run" in fake.out.getvalue()


def test_a_run_queued_by_another_process_just_before_the_tick_is_seen_by_it(
    fake: Harness,
) -> None:
    """`runner run export` while the daemon runs: a run for the daemon, then a poke. The
    tick then finds the job with a run waiting, and skips (overlap: skip)."""
    up_to_the_tick(fake)
    assert fake.daemon is not None and fake.daemon.supervisor is not None
    other = open_store(home=fake.home)
    try:
        queued = trigger(other, job="export", now=fake.clock.now()).run_id
    finally:
        other.close()
    assert poke(fake.home, os.getpid())
    fake.daemon.supervisor.poll(0)
    fake.clock.advance(0.01)
    fake.step()
    assert [r.id for r in fake.runs("export")] == [queued], fake.out.getvalue()
    assert "tick(s) skipped" in fake.out.getvalue()
