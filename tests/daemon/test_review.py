"""Review findings, shown on a daemon driven in-process one pass at a time (`Daemon.start`,
then `step`, without its signals, watcher or loop), with the store made to fail at
chosen moments."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from runner.clock import FakeClock
from runner.daemon import applier, service, ticks
from runner.store import Store, StoreLost
from tests.daemon.conftest import Env, env  # noqa: F401  (the fixture)
from tests.daemon.harness import START, Harness
from tests.waiting import wait_for


def store_down() -> sa.exc.OperationalError:
    return sa.exc.OperationalError("SELECT 1", {}, Exception("server closed the connection"))


def fail_next_connection(store: Store) -> None:
    """The store's next connection fails as a server gone would: the failure starts in
    the store, which says so as a `StoreError`, as it would in production."""
    engine = store.engine
    real = engine.connect

    def once(*args: Any, **kwargs: Any) -> Any:
        engine.connect = real  # type: ignore[method-assign]
        raise store_down()

    engine.connect = once  # type: ignore[method-assign]


EVERY_MINUTE = """
    apiVersion: runner/v1
    kind: Job
    name: {name}
    schedule: {{mode: auto, every: 1m}}
    tasks:
      - name: a
        run: "true"
"""


def test_a_tick_that_fails_once_is_tried_again(
    fake: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.write("a.yaml", EVERY_MINUTE.format(name="export"))
    d = fake.boot()
    fake.step()  # the new job is due at once: its cursor starts now
    assert d.jobs.next_tick() == datetime(2026, 1, 5, 10, 1, tzinfo=UTC)

    real_tick = ticks.tick  # type: ignore[attr-defined]
    calls = {"n": 0}

    def flaky(store: Store, *args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            fail_next_connection(store)
        return real_tick(store, *args, **kwargs)

    monkeypatch.setattr(ticks, "tick", flaky)
    fake.clock.advance(31)  # 10:01:01: the 10:01 tick is due
    fake.step()  # the store fails during the tick
    assert "store-error" in fake.out.getvalue()
    for _ in range(5):  # a second later, and later still: the pass is tried again
        fake.clock.advance(2)
        fake.step()
    # Even at the next tick (10:02), nothing is due any more:
    fake.clock.advance(60)
    fake.step()
    assert [r.due for r in fake.runs("export")], "no run was ever created"


def test_a_reload_that_fails_on_the_store_is_tried_again(
    fake: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.write("a.yaml", EVERY_MINUTE.format(name="export"))
    d = fake.boot()
    fake.step()
    fake.write("b.yaml", EVERY_MINUTE.format(name="import"))
    real_apply = applier.apply_config
    down = fake.home / "store-down-once"  # the apply runs in a child: a file, not a counter
    down.touch()

    def flaky(config: Any, store: Store, *args: Any, **kwargs: Any) -> Any:
        if down.exists():
            down.unlink()
            fail_next_connection(store)
        return real_apply(config, store, *args, **kwargs)

    monkeypatch.setattr(applier, "apply_config", flaky)
    d.folder_changed()  # what the watcher calls
    fake.clock.advance(1)
    fake.step()  # the debounce passed: the apply meets the store down
    assert "store-error" in fake.out.getvalue()
    for _ in range(5):
        fake.clock.advance(2)
        fake.step()
    assert "import" in {r.name for r in fake.store.resources("Job")}, fake.out.getvalue()


def test_a_reload_that_meets_the_store_lock_is_tried_again(fake: Harness) -> None:
    fake.write("a.yaml", EVERY_MINUTE.format(name="export"))
    d = fake.boot()
    fake.step()
    fake.write("b.yaml", EVERY_MINUTE.format(name="import"))
    d.folder_changed()
    fake.clock.advance(1)
    with fake.store.lock(timeout=0, command="runner apply (another process)"):
        fake.step()  # the reload meets the lock
    assert "config-busy" in fake.out.getvalue()
    assert "config-rejected" not in fake.out.getvalue()
    for _ in range(5):
        fake.clock.advance(2)
        fake.step()
    assert "import" in {r.name for r in fake.store.resources("Job")}, fake.out.getvalue()


MANUAL = """
    apiVersion: runner/v1
    kind: Job
    name: {name}
    schedule: {{mode: manual}}
    status: start
    tasks:
      - name: a
        run: "true"
"""


def spin(h: Harness, seconds: float) -> None:
    assert h.daemon is not None
    import time

    end = time.monotonic() + seconds
    while time.monotonic() < end:
        h.daemon.step()
        h.daemon.wait()


def _blip_on_first_write(journal: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    real_write = journal.write
    calls = {"n": 0}

    def flaky(changes: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            fail_next_connection(journal.store)
        real_write(changes)

    monkeypatch.setattr(journal, "write", flaky)


def test_a_store_blip_while_starting_a_run_is_waited_out(
    real: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run is claimed, and its first journal write fails: the write is tried again
    (issue 17: the journal waits for the store, for PATIENCE), the run goes on and ends,
    and the daemon says it waited."""
    real.write("m.yaml", MANUAL.format(name="once"))
    d = real.boot()  # status: start queues its one run
    (run,) = real.runs("once")
    assert run.state == "scheduled"
    _blip_on_first_write(d.supervisor.journal, monkeypatch)  # type: ignore[union-attr]
    spin(real, 3.0)
    found = real.store.run(run.id)
    assert found is not None and found.state == "success"
    assert "store-waiting" in real.out.getvalue() and "store-back" in real.out.getvalue()


def test_a_store_away_past_the_patience_stops_the_daemon_rather_than_hang_the_run(
    real: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run is claimed, its first journal write fails, and the journal has no patience
    left (as after PATIENCE): the executor and the store have parted, so the daemon kills
    what it runs and exits (its supervisor restarts it, and the run is then found stale
    and retried) instead of keeping a run `running` that nothing runs."""
    real.write("m.yaml", MANUAL.format(name="once"))
    d = real.boot()  # status: start queues its one run
    (run,) = real.runs("once")
    assert run.state == "scheduled"
    journal = d.supervisor.journal  # type: ignore[union-attr]
    journal.patience = 0.0
    _blip_on_first_write(journal, monkeypatch)
    with pytest.raises(StoreLost, match="restart the daemon once the store is back") as lost:
        spin(real, 3.0)
    assert lost.value.code == "store-lost"
    found = real.store.run(run.id)
    assert found is not None and not any(t.pid for t in found.tasks)  # nothing was spawned


FOLLOWER = """
    apiVersion: runner/v1
    kind: Job
    name: second
    schedule: {mode: manual, overlap: allow}
    after: [first]
    tasks:
      - name: a
        run: "true"
"""


def test_a_store_blip_while_creating_a_follow_up_does_not_lose_it(
    real: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    real.write("m.yaml", MANUAL.format(name="first"))
    real.write("f.yaml", FOLLOWER)
    real.boot()
    real_create = service.create_follow_ups  # type: ignore[attr-defined]
    calls = {"n": 0}

    def flaky(store: Store, *args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            fail_next_connection(store)
        return real_create(store, *args, **kwargs)

    monkeypatch.setattr(service, "create_follow_ups", flaky)
    spin(real, 3.0)
    assert calls["n"] >= 1 and "store-error" in real.out.getvalue()
    assert real.store.run(1).state == "success"  # type: ignore[union-attr]
    follow = [r for r in real.runs("second") if r.trigger == "follow-up"]
    assert follow, real.out.getvalue()


def test_control_without_a_blip_the_follow_up_is_created(real: Harness) -> None:
    real.write("m.yaml", MANUAL.format(name="first"))
    real.write("f.yaml", FOLLOWER)
    real.boot()
    spin(real, 2.0)
    assert [r for r in real.runs("second") if r.trigger == "follow-up"], real.out.getvalue()


def test_runner_run_wait_notices_a_dead_daemon_while_its_run_is_still_queued(env: Env) -> None:  # noqa: F811
    import subprocess

    from tests.daemon.test_daemon_process import job, running_with_pid

    env.write(
        "nap.yaml",
        job("nap", "{mode: manual, overlap: queue}", 'sleep "${NAP:-0}"', "status: start"),
    )
    daemon = env.start()
    env.wait_runs("nap's first run (status: start)", lambda r: r.state == "success", job="nap")
    done = env.runner("run", "nap", "--env", "NAP=30")
    assert done.returncode == 0, done.stderr
    env.wait_runs("the long run's task running", running_with_pid, job="nap")
    waiting = env.spawn("run", "nap", "--wait")  # queued behind it (overlap: queue)
    env.wait_runs("the queued run", lambda r: r.state == "scheduled", job="nap")
    daemon.proc.kill()
    daemon.proc.wait()
    try:
        waiting.wait(timeout=5.0)
    except subprocess.TimeoutExpired:
        raise AssertionError("runner run --wait still waits 5s after its daemon died") from None


ALLOW_EVERY_MINUTE = """
    apiVersion: runner/v1
    kind: Job
    name: {name}
    schedule: {{mode: auto, every: 1m, overlap: allow, catchup: latest, startingDeadline: 5m}}
    tasks:
      - name: a
        run: "true"
"""


def test_a_suspended_daemon_does_not_create_a_run_per_missed_tick(fake: Harness) -> None:
    fake.write("a.yaml", ALLOW_EVERY_MINUTE.format(name="beat"))
    fake.boot()
    fake.step()
    fake.clock.advance(timedelta(hours=3))  # a VM suspended for 3 hours, then resumed
    fake.step()
    made = fake.runs("beat")
    assert len(made) <= 2, (
        f"{len(made)} runs created for one gap, "
        f"{sum(r.state == 'discarded' for r in made)} discarded at once"
    )


def test_every_keeps_running_after_the_wall_clock_steps_back(fake: Harness) -> None:
    fake.write("a.yaml", ALLOW_EVERY_MINUTE.format(name="beat"))
    fake.boot()
    fake.step()
    fake.clock.advance(31)
    fake.step()  # 10:01 tick
    assert len(fake.runs("beat")) == 1
    fake.clock.step_wall(-timedelta(hours=1))  # NTP steps the wall clock back; monotonic goes on
    for _ in range(10):  # ten minutes of real time
        fake.clock.advance(60)
        fake.step()
    assert "clock-jump      the clock stepped back 59m" in fake.out.getvalue()
    assert len(fake.runs("beat")) > 1, "no run for 10 minutes of real time"


def test_a_restart_with_the_clock_behind_finds_the_ticks_runs_and_goes_on(
    tmp_path: Path,
) -> None:
    """Issue 17, defect 1: a daemon restarted with its clock 10 s behind the last run
    decided ticks that already had runs, started them again and died on the store's
    UNIQUE(task_attempts) ("lost the store"): under systemd a crash loop."""
    first = Harness(tmp_path, FakeClock(START))
    first.write("a.yaml", EVERY_TWO_SECONDS)
    first.boot()
    for _ in range(6):  # 12 s of ticks, each run ended before the next
        first.clock.advance(2)
        first.step()
        wait_for("the tick's run to end", lambda: _all_ended(first))
    before = {r.due: r.id for r in first.runs("beat")}
    first.close()
    again = Harness(tmp_path, FakeClock(START + timedelta(seconds=4)))  # 8 s behind
    again.boot()
    for _ in range(7):  # each tick prepared 10 ms before it falls, as the loop does
        again.clock.advance(1.99)
        again.step()
        again.clock.advance(0.01)
        again.step()
        wait_for("the tick's run to end", lambda: _all_ended(again))
    runs = [r for r in again.runs("beat") if r.due <= again.clock.now()]
    assert [r.state for r in runs] == ["success"] * len(runs)
    dues = [r.due for r in runs]
    assert len(dues) == len(set(dues)), "a tick with two runs"
    assert {r.due: r.id for r in runs if r.due in before} == before  # the same runs
    assert max(dues) > max(before), "no run after the clock passed the last one"
    assert "run-created     run 1 " not in again.out.getvalue()
    again.close()


EVERY_TWO_SECONDS = """
    apiVersion: runner/v1
    kind: Job
    name: beat
    schedule: {every: 2s}
    tasks:
      - {name: work, run: "true"}
"""


def _all_ended(h: Harness) -> bool:
    assert h.daemon is not None and h.daemon.supervisor is not None
    h.daemon.supervisor.poll(0.05)
    h.step()
    now = h.clock.now()
    return all(
        r.state != "running" and (r.state != "scheduled" or r.due > now) for r in h.runs("beat")
    )
