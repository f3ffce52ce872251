"""`kill -9` of the daemon at each step of a run's life, a few times over, on SQLite and
on PostgreSQL: no tick with two runs, no tick lost, no run left unfinished, no task
process left behind, and a store that passes its integrity check (SPEC 2.3: a tick's
run is identified by its job and due time; SPEC 3: a run whose owner died is `stale`,
and what it left running is killed when it can be identified for certain).

bench/faults.py runs the same scenarios for hundreds of cycles."""

from __future__ import annotations

import re

import pytest

from tests.faults.scenarios import STEPS, FaultEnv, Tally, kill9, killed_pids, stale_reasons

pytestmark = pytest.mark.faults

CYCLES = 2  # each a daemon started and killed; bench/faults.py runs hundreds


def assert_kept_every_promise(env: FaultEnv, tally: Tally, step: str) -> None:
    assert tally.faults == CYCLES, f"a daemon did not die at {step}: {tally}"
    assert tally.clean, tally
    stale = stale_reasons(env)
    if step == "run-created":
        # the killed daemon's runs had not started: the next daemon starts them
        assert stale == [], stale
        return
    # the runs it had started are stale (one or more: a catch-up run and a live tick
    # may run together), found so by the next daemon, which names the dead one
    named = {int(m) for r in stale for m in re.findall(r"\(pid (\d+) ", r)}
    assert named == killed_pids(env), stale
    assert all("died while it ran" in r for r in stale), stale


@pytest.mark.parametrize("step", STEPS)
def test_kill_9_at_each_step_of_a_run_loses_and_doubles_nothing_on_sqlite(
    fenv: FaultEnv, step: str
) -> None:
    """Mid-task, the task has left a child in its process group: the restart kills
    the whole group of the task it found running (its leader known by pid and start
    time)."""
    tally = kill9(fenv, step, CYCLES, child=step == "mid-task")
    assert_kept_every_promise(fenv, tally, step)


@pytest.mark.parametrize("step", STEPS)
def test_kill_9_at_each_step_of_a_run_loses_and_doubles_nothing_on_postgresql(
    pg_fenv: FaultEnv, step: str
) -> None:
    assert_kept_every_promise(pg_fenv, kill9(pg_fenv, step, CYCLES), step)


def test_a_child_left_by_a_task_that_ended_as_its_daemon_died_is_killed_by_the_restart(
    fenv: FaultEnv,
) -> None:
    tally = kill9(fenv, "task-ended", 1, child=True)
    assert tally.faults == 1
    assert tally.leaked == 0, tally
    assert tally.clean, tally
