"""A tick's reads made just before it falls (`Ticks.prepare`): used when nothing
changed since, read again when this process wrote to the store, read the jobs again or
was woken by another process; and the queue they carry keeps what admission needs."""

from __future__ import annotations

import gc
import os
import weakref
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from runner.daemon.memory import Memory
from runner.reconciler.apply import apply_config
from runner.runs.trigger import trigger
from runner.store import Store, open_store
from runner.system.wakeup import poke
from tests.daemon.harness import START, Harness
from tests.waiting import wait_for

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
    assert d.ticks.prepared is not None and d.ticks.prepared.at == DUE


def dues(fake: Harness) -> list[tuple[datetime, int, str]]:
    return [(r.due, r.revision, r.state) for r in fake.runs("export")]


def test_a_ticks_runs_are_made_ahead_and_start_when_it_falls_without_reading_again(
    fake: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    up_to_the_tick(fake)
    ((run,),) = [fake.runs("export")]  # made 10 ms before its tick, not started
    assert (run.due, run.state, run.revision) == (DUE, "scheduled", 1)
    assert run.created == DUE - timedelta(seconds=0.01)
    assert "run-created" in fake.out.getvalue()
    assert "run-started" not in fake.out.getvalue()
    reads = Reads(fake.store, monkeypatch)
    fake.clock.advance(0.01)
    fake.step()
    assert reads.calls == []
    ((due, revision, state),) = dues(fake)
    assert (due, revision) == (DUE, 1)
    assert state in ("running", "success")
    assert "run-started" in fake.out.getvalue()


def test_a_write_by_the_daemon_itself_since_makes_the_start_read_the_queue_again(
    fake: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    up_to_the_tick(fake)
    fake.store.record_event(kind="note", at=fake.clock.now(), message="written meanwhile")
    reads = Reads(fake.store, monkeypatch)
    fake.clock.advance(0.01)
    fake.step()
    assert reads.calls == ["queue_state"]
    assert [(due, state in ("running", "success")) for due, _, state in dues(fake)] == [(DUE, True)]


def test_a_job_changed_just_before_its_tick_runs_the_revision_its_run_was_made_for(
    fake: Harness,
) -> None:
    """As a run made at the tick would: a run keeps the revision it was made for."""
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
    assert [d[:2] for d in dues(fake)] == [(DUE, 1)], fake.out.getvalue()

    def ended() -> bool:
        fake.daemon.supervisor.poll(0.02)  # type: ignore[union-attr]  # reaps it
        fake.step()
        return dues(fake)[0][2] == "success"

    wait_for("the run to end", ended)
    fake.clock.advance(60)  # the next tick runs the new revision
    fake.step()
    assert [d[:2] for d in dues(fake)] == [(DUE, 1), (DUE + timedelta(minutes=1), 2)]


def running_first(fake: Harness) -> Harness:
    """`export` (overlap: queue) with its first run still running, 10 ms before the next
    tick, which the loop prepared: the job is decided when the tick falls."""
    fake.write("a.yaml", JOB.format(overlap="queue", run="sleep 30"))
    d = fake.boot()
    fake.step()
    fake.clock.advance((DUE - START).total_seconds())
    fake.step()  # the first run starts, and goes on
    assert [d[2] for d in dues(fake)] == ["running"]
    fake.clock.advance(60 - 0.01)
    assert d.supervisor is not None
    d.supervisor.poll(0)  # the loop's wait: the run's heartbeat is written meanwhile
    fake.step()
    assert d.ticks.prepared is not None and d.ticks.prepared.at == DUE + timedelta(minutes=1)
    assert d.ticks.prepared.names == {"export"}
    assert len(dues(fake)) == 1  # nothing made ahead for it
    return fake


def test_a_job_still_running_is_decided_when_its_tick_falls_and_queues_behind(
    fake: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From the reads made before, with the queue read then, which holds the active runs
    even when nothing waited."""
    running_first(fake)
    reads = Reads(fake.store, monkeypatch)
    fake.clock.advance(0.01)
    fake.step()
    assert reads.calls == []
    assert [(due, state) for due, _, state in dues(fake)] == [
        (DUE, "running"),
        (DUE + timedelta(minutes=1), "scheduled"),
    ]
    assert "queued behind the job's active run" in fake.out.getvalue()


@pytest.mark.parametrize("heard", [True, False], ids=["heard-by-the-wait", "not-yet-heard"])
def test_a_run_queued_by_another_process_just_before_the_tick_is_seen_by_it(
    fake: Harness, heard: bool
) -> None:
    """`runner run export` while the daemon runs: a run for the daemon, then a poke,
    which the loop's wait heard, or which came after it returned (the tick hears it
    then). The tick then finds one run waiting already, and skips (overlap: queue
    waits one)."""
    running_first(fake)
    assert fake.daemon is not None and fake.daemon.supervisor is not None
    other = open_store(home=fake.home)
    try:
        queued = trigger(other, job="export", now=fake.clock.now()).run_id
    finally:
        other.close()
    assert poke(fake.home, os.getpid())
    if heard:
        fake.daemon.supervisor.poll(0)
    fake.clock.advance(0.01)
    fake.step()
    assert [r.id for r in fake.runs("export")][1:] == [queued], fake.out.getvalue()
    assert "tick(s) skipped" in fake.out.getvalue()


def test_a_tick_that_a_reload_moves_beyond_the_lead_is_not_made_ahead(fake: Harness) -> None:
    """Another host's apply, just before `a`'s tick, moves it an hour on: the reload made
    when preparing finds the next tick (`b`'s, an hour away) and makes nothing now."""
    fake.write("a.yaml", JOB.format(overlap="skip", run="true"))
    fake.write("b.yaml", JOB.format(overlap="skip", run="true").replace("export", "hourly"))
    fake.write("b.yaml", (fake.config / "b.yaml").read_text().replace("every: 1m", "every: 1h"))
    d = fake.boot()
    fake.step()
    fake.clock.advance((DUE - START).total_seconds() - 0.5)
    fake.step()
    fake.write("a.yaml", JOB.format(overlap="skip", run="true").replace("every: 1m", "every: 1h"))
    other = open_store(home=fake.home)
    try:  # no poke: the once-a-second look at the store finds it
        apply_config([str(fake.config)], other, now=fake.clock.now())
    finally:
        other.close()
    fake.clock.advance(0.49)
    fake.step()  # 10 ms before 10:01, which is no tick any more
    assert d.jobs.next_tick() == datetime(2026, 1, 5, 11, 0, tzinfo=UTC)
    assert d.ticks.prepared is None
    assert fake.runs("export") == [] and fake.runs("hourly") == []


def test_the_freeze_after_a_start_or_an_apply_keeps_no_garbage_cycle() -> None:
    """What the daemon freezes out of the collector's full passes is collected first: a
    cycle that is garbage then would otherwise never be freed."""

    class Node:
        other: Node | None = None

    was_enabled = gc.isenabled()
    gc.disable()  # the cycle is garbage, and no automatic pass collects it before
    try:
        node = Node()
        node.other = node
        gone = weakref.ref(node)
        del node
        Memory().freeze()
        assert gone() is None
    finally:
        gc.unfreeze()
        if was_enabled:
            gc.enable()


def test_the_collection_after_an_apply_waits_until_no_tick_is_near(fake: Harness) -> None:
    up_to_the_tick(fake)  # 10 ms before the tick
    d = fake.daemon
    assert d is not None
    fake.write("b.yaml", JOB.format(overlap="skip", run="true").replace("export", "other"))
    d.reapply()  # `kill -HUP`: applied at the next pass
    fake.step()
    assert "config-applied" in fake.out.getvalue()
    assert d.memory.refreeze_pending  # the tick falls within FREEZE_IDLE: not now
    fake.clock.advance(0.01)
    fake.step()  # the tick's run starts (nothing else in that pass)
    assert d.memory.refreeze_pending
    fake.clock.advance(0.1)
    assert d.supervisor is not None
    d.supervisor.poll(0)  # the loop's wait: its timers (the heartbeat) fire
    fake.step()  # the next tick is a minute away
    assert not d.memory.refreeze_pending
