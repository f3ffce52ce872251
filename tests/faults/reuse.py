"""pid reuse (issue 17), shared by tests/faults/test_leaks.py and bench/faults.py (through
tests/faults/leaks.py's `bench`): the daemon is killed -9 while a task runs, the task
ends, and an unrelated process is made to take the task's pid (its process group id
too) by writing /proc/sys/kernel/ns_last_pid (root only); the restarted daemon must mark
the run stale and leave that process alone (SPEC 3: a process is known by its pid and
its start time, a task's leftovers by the marks in their environment)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from tests.daemon.conftest import DaemonProcess
from tests.faults.leaks import LeakTally, _stat
from tests.faults.scenarios import FaultEnv, _environment, _running_with_pid
from tests.waiting import pid_in, process_gone, wait_for

LAST_PID = Path("/proc/sys/kernel/ns_last_pid")


def can_choose_pids() -> bool:
    """Whether this process may set the next pid (root, in its own pid namespace)."""
    try:
        LAST_PID.write_text(LAST_PID.read_text())
    except OSError:
        return False
    return True


def impostor(pid: int, env: dict[str, str], tries: int = 200) -> subprocess.Popen[bytes] | None:
    """An unrelated process (`sleep`, leading a session and process group of its own,
    with environment `env`) given pid `pid`; None when others kept taking it first."""
    for _ in range(tries):
        LAST_PID.write_text(str(pid - 1))
        proc = subprocess.Popen(["sleep", "300"], start_new_session=True, env=env)
        if proc.pid == pid:
            return proc
        proc.kill()
        proc.wait()
    return None


def pid_reuse(env: FaultEnv, cycles: int, *, marked: bool = False) -> LeakTally:
    """`cycles` times: a daemon is killed -9 while its task runs; the task is killed and
    reaped (by init); an unrelated process takes its pid; a new daemon starts. It must
    mark the run stale and leave the unrelated process running. `marked`: the unrelated
    process carries the dead run's RUNNER_RUN_ID and RUNNER_TASK, as the task of another
    home's run of that id would (another job's, due at another time)."""
    name = "pid reuse after kill -9" + (", the same run id and task" if marked else "")
    tally = LeakTally(scenario=name, store="postgresql" if env.url else "sqlite")
    began = time.monotonic()
    others: list[subprocess.Popen[bytes]] = []
    try:
        for n in range(cycles):
            _reuse_once(env, n, tally, others, marked=marked)
    finally:
        for proc in others:
            proc.kill()
            proc.wait()
    tally.seconds = time.monotonic() - began
    return tally


def _restart(env: FaultEnv) -> DaemonProcess:
    with _environment("RUNNER_STORE", env.url):
        daemon = env.start(grace="1s")
    daemon.wait_up()
    return daemon


def _orphan(env: FaultEnv, n: int) -> tuple[int, int]:
    """A daemon started, running job{n}'s task, killed -9; the task then killed and
    reaped by init: its run's id and the task's pid, free again."""
    marker = env.root / f"task{n}.pid"
    env.write(
        f"job{n}.yaml",  # the jobs before stay: a plan deleting every job is refused
        f"""
        apiVersion: runner/v1
        kind: Job
        name: job{n}
        schedule: {{mode: manual}}
        status: start
        tasks:
          - {{name: work, run: "echo $$ > {marker}; exec sleep 300"}}
        """,
    )
    daemon = _restart(env)
    task = pid_in(marker)
    (run,) = env.wait_runs("the task running", _running_with_pid, job=f"job{n}")
    daemon.proc.send_signal(signal.SIGKILL)
    daemon.proc.wait()
    os.killpg(task, signal.SIGKILL)
    wait_for("the task ended and reaped by init", lambda: _stat(str(task)) is None)
    return run.id, task


def _reuse_once(
    env: FaultEnv,
    n: int,
    tally: LeakTally,
    others: list[subprocess.Popen[bytes]],
    *,
    marked: bool,
) -> None:
    run_id, task = _orphan(env, n)
    environ = dict(os.environ)
    if marked:
        environ |= {"RUNNER_RUN_ID": str(run_id), "RUNNER_TASK": "work", "RUNNER_JOB": "other"}
        environ["RUNNER_SCHEDULED_FOR"] = "2026-01-01T00:00:00Z"
    other = impostor(task, environ)
    tally.cycles += 1
    if other is None:
        tally.problems.append(f"no process could be given pid {task}")
        return
    others.append(other)
    tally.faults += 1
    restarted = _restart(env)
    try:
        env.wait_runs("the run stale", lambda r: r.state == "stale", job=f"job{n}")
    except AssertionError as exc:
        tally.lost += 1
        tally.problems.append(str(exc))
    tally.runs += 1
    if other.poll() is not None or process_gone(other.pid, within=0.5):
        tally.problems.append(f"the unrelated process {other.pid} was killed")
    restarted.stop()
