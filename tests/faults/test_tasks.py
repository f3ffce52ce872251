"""Task faults under a real daemon: a task that ignores SIGTERM, and a task that forks a
child and exits. SPEC 3 and 5 promise: a cancel or a timeout kills the task's whole
process group, SIGTERM then SIGKILL after a grace; a daemon's SIGTERM gives running
tasks `--grace`, then kills them and ends their runs `cancelled`; what a task left
running in its group when it ended is stopped with it."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from runner.domain import RunState
from tests.faults.scenarios import FaultEnv
from tests.waiting import pid_in, process_gone

pytestmark = pytest.mark.faults

STOP_WITHIN = 5.0  # --grace 1s, and the exit


def once(env: FaultEnv, run: str) -> None:
    """A manual job that runs once, as it is created, with one task running `run`."""
    env.write(
        "job.yaml",
        f"""
        apiVersion: runner/v1
        kind: Job
        name: job
        schedule: {{mode: manual}}
        status: start
        tasks:
          - name: work
            run: {run}
        """,
    )


def deaf(root: Path) -> str:
    """A task that ignores SIGTERM, as does the child it starts; both write their pid."""
    return (
        f"trap '' TERM; echo $$ > {root}/task.pid; (sleep 300) & echo $! > {root}/child.pid; wait"
    )


def test_a_task_ignoring_sigterm_is_killed_after_the_daemons_grace(fenv: FaultEnv) -> None:
    once(fenv, deaf(fenv.root))
    daemon = fenv.start_with()
    (run,) = fenv.wait_runs("the task running", lambda r: r.state == RunState.RUNNING)
    task, child = pid_in(fenv.root / "task.pid"), pid_in(fenv.root / "child.pid")
    daemon.send(signal.SIGTERM)
    assert daemon.wait_exit(STOP_WITHIN) == 0, daemon.log()
    assert fenv.run(run.id).state == RunState.CANCELLED
    assert process_gone(task) and process_gone(child)


def test_a_child_left_by_a_task_is_stopped_when_the_task_ends(fenv: FaultEnv) -> None:
    once(fenv, f"sleep 300 & echo $! > {fenv.root}/child.pid")
    fenv.start_with()
    fenv.wait_runs("the run to succeed", lambda r: r.state == RunState.SUCCESS)
    assert process_gone(pid_in(fenv.root / "child.pid"), within=5.0)


@pytest.mark.slow  # the daemon's kill grace for a cancel is 10 s (SPEC 3)
def test_a_cancelled_task_ignoring_sigterm_is_killed_after_the_grace(fenv: FaultEnv) -> None:
    once(fenv, deaf(fenv.root))
    fenv.start_with()
    (run,) = fenv.wait_runs("the task running", lambda r: r.state == RunState.RUNNING)
    task, child = pid_in(fenv.root / "task.pid"), pid_in(fenv.root / "child.pid")
    done = fenv.runner("cancel", str(run.id), timeout=30.0)  # it waits for the kill
    assert done.returncode == 0, done.stderr
    fenv.wait_runs("the run cancelled", lambda r: r.state == RunState.CANCELLED, timeout=20.0)
    assert process_gone(task, within=15.0) and process_gone(child, within=15.0)


def test_the_daemon_stops_within_its_grace_though_a_leftover_ignores_sigterm(
    fenv: FaultEnv,
) -> None:
    once(fenv, f"(trap '' TERM; sleep 300) & echo $! > {fenv.root}/child.pid")
    daemon = fenv.start_with()
    fenv.wait_runs("the run to succeed", lambda r: r.state == RunState.SUCCESS)
    child = pid_in(fenv.root / "child.pid")
    daemon.send(signal.SIGTERM)
    assert daemon.wait_exit(STOP_WITHIN) == 0, daemon.log()
    assert process_gone(child)
