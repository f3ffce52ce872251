"""What a stale run's task left in its process group once the task's leader is gone
(issue 17): killed when a member of the group carries the task's marks (RUNNER_RUN_ID and
RUNNER_TASK in its environment), left alone when it does not. SQLite store only."""

from __future__ import annotations

import os
import signal
import subprocess
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from runner.cli import run
from runner.clock import SystemClock
from runner.runs.stale import mark_stale_runs
from runner.runs.trigger import trigger
from runner.store import Store
from runner.system.marks import task_marks
from runner.system.procs import ProcessId, hostname, kill_group_if_marked, start_time
from tests.conftest import WriteFile
from tests.waiting import pid_in, process_gone

CLOCK = SystemClock()
JOB = """\
apiVersion: runner/v1
kind: Job
name: owned
tasks:
  - {name: a, run: sleep 30}
"""

Leave = Callable[[dict[str, str]], tuple[int, float, int]]


@pytest.fixture
def leave(tmp_path: Path) -> Iterator[Leave]:
    """Start a leader in a session of its own, with `marks` in its environment, that
    starts a child (`sleep 60`, in its group) and exits; return the leader's pid and
    start time and the child's pid, once the leader is gone. The children are killed at
    the end whatever happened."""
    children: list[int] = []

    def _leave(marks: dict[str, str]) -> tuple[int, float, int]:
        out = tmp_path / f"child{len(children)}.pid"
        leader = subprocess.Popen(
            ["sh", "-c", f"sleep 60 & echo $! > {out}"],
            env={**os.environ, **marks},
            start_new_session=True,
        )
        started = start_time(leader.pid, ended_too=True)
        child = pid_in(out)
        children.append(child)
        assert leader.wait(10) == 0
        assert started is not None
        return leader.pid, started, child

    yield _leave
    for child in children:
        if not process_gone(child, within=0):
            os.kill(child, signal.SIGKILL)


def triggered(store: Store, write: WriteFile, config_dir: Path) -> int:
    write("job.yaml", textwrap.dedent(JOB))
    assert run(["apply", str(config_dir)]) == 0
    return trigger(store, job="owned", now=CLOCK.now()).run_id


def orphaned(store: Store, run_id: int, pid: int, started: float) -> None:
    """What an executor writes as it starts task `a` with leader `pid`, then dies."""
    dead = ProcessId(host=hostname(), pid=2**22 + 7, started=1.0)  # no such process
    with store.run_writes() as writer:
        writer.run_started(run_id, at=CLOCK.now(), owner=dead)
        writer.attempt_started(run_id, "a", attempt=1, at=CLOCK.now(), log="logs/x.log")
        writer.attempt_spawned(run_id, "a", pid=pid, pid_started=started)


def test_a_marked_group_whose_leader_is_gone_is_killed(leave: Leave) -> None:
    pgid, _, child = leave({"RUNNER_RUN_ID": "41", "RUNNER_TASK": "a"})
    assert kill_group_if_marked(pgid, {"RUNNER_RUN_ID": "41", "RUNNER_TASK": "a"})
    assert process_gone(child)


@pytest.mark.parametrize(
    "marks",
    [{}, {"RUNNER_RUN_ID": "42", "RUNNER_TASK": "a"}, {"RUNNER_RUN_ID": "41", "RUNNER_TASK": "b"}],
    ids=["no marks", "another run", "another task"],
)
def test_a_group_without_the_marks_is_left_alone(leave: Leave, marks: dict[str, str]) -> None:
    pgid, _, child = leave(marks)
    assert not kill_group_if_marked(pgid, {"RUNNER_RUN_ID": "41", "RUNNER_TASK": "a"})
    assert not process_gone(child, within=0.2)


def test_an_empty_group_is_not_signalled(leave: Leave) -> None:
    pgid, _, child = leave({"RUNNER_RUN_ID": "41", "RUNNER_TASK": "a"})
    os.kill(child, signal.SIGKILL)
    assert process_gone(child)
    assert not kill_group_if_marked(pgid, {"RUNNER_RUN_ID": "41", "RUNNER_TASK": "a"})


@pytest.mark.parametrize(
    ("whose", "ours"),
    [("its", True), ("another run's", False), ("another job's", False)],
    ids=["its marks", "another run's marks", "another job's marks"],
)
def test_a_stale_run_kills_what_its_ended_leader_left_only_when_marked_as_its(
    store: Store, write: WriteFile, config_dir: Path, leave: Leave, whose: str, ours: bool
) -> None:
    """Another job's: the same run id and task name, as another home's run would have."""
    run_id = triggered(store, write, config_dir)
    run = store.run(run_id)
    assert run is not None
    marks = task_marks(
        job="other" if whose == "another job's" else "owned",
        run_id=run_id + 99 if whose == "another run's" else run_id,
        task="a",
        due=run.due,
    )
    pid, started, child = leave(marks)
    orphaned(store, run_id, pid, started)
    assert mark_stale_runs(store, host=hostname(), now=CLOCK.now()) == [run_id]
    if ours:
        assert process_gone(child)
    else:
        assert not process_gone(child, within=0.2)
