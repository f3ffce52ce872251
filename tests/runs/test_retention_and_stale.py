"""History retention (runs and their logs pruned past `history`) and stale runs (a run
whose owner died: marked `stale`, what it left running killed only when pid and start
time both match). SQLite store only."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from runner.cli import run
from runner.clock import SystemClock
from runner.executors.logs import LogFiles
from runner.runs.retention import prune_job
from runner.runs.stale import mark_stale_runs
from runner.runs.trigger import trigger
from runner.store import RunRecord, Store
from runner.store.run_reads import REPORTING
from runner.system.procs import ProcessId, hostname, myself, start_time
from tests.conftest import WriteFile
from tests.runs.conftest import execute_job
from tests.waiting import process_gone, wait_for

DEADLINE = 10.0
CLOCK = SystemClock()
ACTIVE_TASK_STATES = ("pending", "held", "waiting", "running")

Apply = Callable[[str], Path]


@pytest.fixture
def apply(write: WriteFile, config_dir: Path) -> Apply:
    """Write one job (without its `apiVersion`/`kind` lines) and apply it."""

    def _apply(text: str) -> Path:
        body = textwrap.dedent(text).strip()
        path = write("job.yaml", f"apiVersion: runner/v1\nkind: Job\n{body}\n")
        assert run(["apply", str(config_dir)]) == 0
        return path

    return _apply


def log_folders(home: Path, job: str) -> set[int]:
    return set(LogFiles(home).runs_with_logs(job))


def stored(store: Store, run_id: int) -> RunRecord:
    record = store.run(run_id)
    assert record is not None, f"no run {run_id}"
    return record


@pytest.fixture
def sleeper() -> Iterator[Callable[[], subprocess.Popen[bytes]]]:
    """Processes in sessions of their own (as tasks are), killed at the end whatever
    happened."""
    started: list[subprocess.Popen[bytes]] = []

    def _start() -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(["sleep", "60"], start_new_session=True)
        started.append(proc)
        return proc

    yield _start
    for proc in started:
        proc.kill()
        proc.wait()


def dead_process(sleeper: Callable[[], subprocess.Popen[bytes]]) -> ProcessId:
    """A process that ran on this host and has exited."""
    proc = sleeper()
    started = start_time(proc.pid)
    assert started is not None
    proc.kill()
    proc.wait()
    return ProcessId(host=hostname(), pid=proc.pid, started=started)


# --- retention ------------------------------------------------------------------------


def test_keep_runs_keeps_the_newest_runs_and_their_logs(
    apply: Apply, store: Store, home: Path
) -> None:
    apply(
        """
        name: kept
        history: {keepRuns: 2}
        tasks:
          - {name: a, run: echo hello}
        """
    )
    ids = [execute_job(store, home, "kept").id for _ in range(4)]
    assert len(store.history(job="kept")) == 4  # each just ended: kept while reported on
    prune_job(store, LogFiles(home), "kept", now=_after_reporting())
    assert [r.id for r in store.history(job="kept")] == ids[:1:-1]
    assert log_folders(home, "kept") == set(ids[2:])
    assert store.run(ids[0]) is None
    for run_id in ids[2:]:
        assert (home / "logs" / "kept" / str(run_id) / "a.1.log").read_text() == "hello\n"


def test_keep_days_prunes_runs_older_than_that(apply: Apply, store: Store, home: Path) -> None:
    apply(
        """
        name: aged
        history: {keepDays: 1}
        tasks:
          - {name: a, run: 'true'}
        """
    )
    ids = [execute_job(store, home, "aged").id for _ in range(2)]
    logs = LogFiles(home)
    assert prune_job(store, logs, "aged", now=CLOCK.now() + timedelta(hours=23)) == []
    assert log_folders(home, "aged") == set(ids)
    assert sorted(prune_job(store, logs, "aged", now=CLOCK.now() + timedelta(days=2))) == ids
    assert store.history(job="aged") == []
    assert log_folders(home, "aged") == set()


def test_runs_not_ended_are_kept_and_log_folders_without_a_run_go(
    apply: Apply, store: Store, home: Path
) -> None:
    apply(
        """
        name: busy
        history: {keepRuns: 1}
        tasks:
          - {name: a, run: 'true'}
        """
    )
    waiting = trigger(store, job="busy", now=CLOCK.now()).run_id
    orphan = home / "logs" / "busy" / "999"
    orphan.mkdir(parents=True)
    (orphan / "a.1.log").write_text("left by a crash\n")
    ended = [execute_job(store, home, "busy", overlap="allow").id for _ in range(2)]
    prune_job(store, LogFiles(home), "busy", now=_after_reporting())
    assert [(r.id, r.state) for r in store.history(job="busy")] == [
        (ended[1], "success"),
        (waiting, "scheduled"),
    ]
    assert not orphan.exists()
    assert log_folders(home, "busy") == {ended[1]}


def _after_reporting() -> datetime:
    """Later than the time a run that just ended is kept for its report."""
    return datetime.now(UTC) + REPORTING + timedelta(seconds=1)


# --- stale runs -------------------------------------------------------------------------


def started_by(store: Store, run_id: int, owner: ProcessId, task: str = "a") -> None:
    """What an executor writes as it starts a run and its first task."""
    with store.run_writes() as writer:
        writer.run_started(run_id, at=CLOCK.now(), owner=owner)
        writer.attempt_started(run_id, task, attempt=1, at=CLOCK.now(), log="logs/x.log")


TWO_TASKS = """
name: owned
tasks:
  - {name: a, run: sleep 30}
  - {name: b, run: 'true'}
"""


def test_a_run_whose_owner_died_is_stale(
    apply: Apply, store: Store, sleeper: Callable[[], subprocess.Popen[bytes]]
) -> None:
    apply(TWO_TASKS)
    owner = dead_process(sleeper)
    run_id = trigger(store, job="owned", now=CLOCK.now()).run_id
    started_by(store, run_id, owner)
    assert mark_stale_runs(store, host=hostname(), now=CLOCK.now()) == [run_id]
    record = stored(store, run_id)
    reason = f"its runner (pid {owner.pid} on {hostname()}) died while it ran"
    assert (record.state, record.reason) == ("stale", reason)
    assert record.ended is not None
    assert [(t.name, t.state, t.reason) for t in record.tasks] == [
        ("a", "failed", reason),
        ("b", "skipped", reason),
    ]
    assert record.tasks[0].attempts[0].ended is not None
    assert mark_stale_runs(store, host=hostname(), now=CLOCK.now()) == []


@pytest.mark.parametrize(
    "owner",
    [
        lambda: myself(),
        lambda: ProcessId(host="elsewhere.example", pid=2**22 + 1, started=1.0),
    ],
    ids=["alive", "on another host"],
)
def test_a_run_whose_owner_may_be_alive_is_not_stale(
    apply: Apply, store: Store, owner: Callable[[], ProcessId]
) -> None:
    apply(TWO_TASKS)
    run_id = trigger(store, job="owned", now=CLOCK.now()).run_id
    started_by(store, run_id, owner())
    assert mark_stale_runs(store, host=hostname(), now=CLOCK.now()) == []
    assert stored(store, run_id).state == "running"


def test_a_reused_pid_does_not_keep_a_run_alive(apply: Apply, store: Store) -> None:
    apply(TWO_TASKS)
    me = myself()
    run_id = trigger(store, job="owned", now=CLOCK.now()).run_id
    started_by(store, run_id, ProcessId(host=me.host, pid=me.pid, started=me.started - 100))
    assert mark_stale_runs(store, host=hostname(), now=CLOCK.now()) == [run_id]


def test_a_scheduled_run_whose_owner_died_is_discarded(
    apply: Apply, store: Store, sleeper: Callable[[], subprocess.Popen[bytes]]
) -> None:
    apply(TWO_TASKS)
    owner = dead_process(sleeper)
    run_id = trigger(store, job="owned", now=CLOCK.now(), owner=owner).run_id
    assert mark_stale_runs(store, host=hostname(), now=CLOCK.now()) == []
    record = stored(store, run_id)
    assert record.state == "discarded"
    assert record.reason == f"its runner (pid {owner.pid} on {hostname()}) died before it started"


@pytest.mark.parametrize("same", [True, False], ids=["same process", "pid reused"])
def test_what_a_stale_run_left_is_killed_only_when_pid_and_start_time_match(
    apply: Apply, store: Store, sleeper: Callable[[], subprocess.Popen[bytes]], same: bool
) -> None:
    apply(TWO_TASKS)
    owner = dead_process(sleeper)
    task = sleeper()
    recorded = start_time(task.pid)
    assert recorded is not None
    run_id = trigger(store, job="owned", now=CLOCK.now()).run_id
    started_by(store, run_id, owner)
    with store.run_writes() as writer:
        writer.attempt_spawned(
            run_id, "a", pid=task.pid, pid_started=recorded if same else recorded - 50
        )
    assert mark_stale_runs(store, host=hostname(), now=CLOCK.now()) == [run_id]
    if same:
        assert task.wait(DEADLINE) == -signal.SIGKILL
    else:
        time.sleep(0.1)  # give a wrong kill the time to land: none must
        assert task.poll() is None


FOREGROUND = """
import sys
from pathlib import Path
from runner.clock import SystemClock
from runner.system.procs import myself
from runner.runs.foreground import execute
from runner.runs.trigger import trigger
from runner.store import open_store

home = Path(sys.argv[1])
store = open_store(home=home)
clock = SystemClock()
triggered = trigger(store, job="owned", now=clock.now(), owner=myself())
print(triggered.run_id, flush=True)
execute(store, triggered, home=home, clock=clock)
"""


def test_a_runner_killed_with_sigkill_leaves_a_stale_run_and_no_task(
    apply: Apply, store: Store, home: Path
) -> None:
    apply(TWO_TASKS)
    runner = subprocess.Popen(
        [sys.executable, "-c", FOREGROUND, str(home)], stdout=subprocess.PIPE, text=True
    )
    task_pid: int | None = None
    try:
        assert runner.stdout is not None
        run_id = int(runner.stdout.readline())

        def task_running() -> bool:
            record = store.run(run_id)
            return record is not None and record.tasks[0].pid is not None

        wait_for("the task to start", task_running)
        task_pid = stored(store, run_id).tasks[0].pid
        assert task_pid is not None
        runner.kill()
        runner.wait(DEADLINE)
        assert not process_gone(task_pid, within=0)  # the task outlived its runner
        assert mark_stale_runs(store, host=hostname(), now=CLOCK.now()) == [run_id]
        assert process_gone(task_pid)
        record = stored(store, run_id)
        assert record.state == "stale"
        assert [t.state for t in record.tasks] == ["failed", "skipped"]
    finally:
        runner.kill()
        runner.wait()
        if task_pid is not None and not process_gone(task_pid, within=0):
            os.killpg(task_pid, signal.SIGKILL)


# --- the store's side of runs -------------------------------------------------------------


def test_store_run_writes_and_reads(apply: Apply, store: Store) -> None:
    apply(TWO_TASKS)
    now = CLOCK.now()
    run_id = store.create_run(
        job="owned", revision=1, trigger="manual", due=now, now=now, tasks=["a", "b"]
    )
    # A tick's run is one per (job, due); a trigger at the same instant is a run of its own.
    again = store.create_run(job="owned", revision=1, trigger="manual", due=now, now=now)
    assert again != run_id
    due = now.replace(microsecond=0) + timedelta(minutes=1)
    tick = store.create_run(job="owned", revision=1, trigger="schedule", due=due, now=now)
    assert store.create_run(job="owned", revision=1, trigger="schedule", due=due, now=now) == tick
    store.request_cancel(again, now=now, reason="x")
    store.request_cancel(tick, now=now, reason="x")
    assert store.mark_stale(run_id, now=now, reason="x") is False  # not running
    assert store.cancel_requests([run_id]) == {}
    started_by(store, run_id, myself())
    with store.run_writes() as writer:
        writer.attempt_ended(
            run_id, "a", attempt=1, at=now, exit_code=1, reason="exit code 1", task_state="pending"
        )
        writer.attempt_started(run_id, "a", attempt=2, at=now, log="logs/owned/a.2.log")
    record = stored(store, run_id)
    a = record.tasks[0]
    assert (a.state, a.attempt, a.exit_code, a.reason) == ("running", 2, None, None)
    assert [(x.attempt, x.exit_code, x.reason) for x in a.attempts] == [
        (1, 1, "exit code 1"),
        (2, None, None),
    ]
    assert store.request_cancel(run_id, now=now, reason="first") == "running"
    assert store.request_cancel(run_id, now=now, reason="second") == "running"
    assert store.cancel_requests([run_id]) == {run_id: "first"}
    assert stored(store, run_id).state == "running"  # the owner ends it
    assert store.request_cancel(10_000, now=now, reason="none") is None


def test_no_task_of_a_stale_run_is_left_waiting(
    apply: Apply, store: Store, sleeper: Callable[[], subprocess.Popen[bytes]]
) -> None:
    apply(
        """
        name: gated
        tasks:
          - {name: a, run: sleep 30}
          - {name: approve, kind: manual, prompt: Check it, after: []}
          - {name: c, run: 'true', after: [a, approve]}
        """
    )
    owner = dead_process(sleeper)
    run_id = trigger(store, job="gated", now=CLOCK.now()).run_id
    started_by(store, run_id, owner)
    with store.run_writes() as writer:  # what the executor writes for a manual task
        writer.task_set(run_id, "approve", state="waiting", reason="Check it", at=CLOCK.now())
    assert mark_stale_runs(store, host=hostname(), now=CLOCK.now()) == [run_id]
    record = stored(store, run_id)
    assert [(t.name, t.state) for t in record.tasks if t.state in ACTIVE_TASK_STATES] == []


def test_a_job_deleted_while_its_dead_run_ran_goes_once_the_run_is_stale(
    apply: Apply,
    store: Store,
    config_dir: Path,
    sleeper: Callable[[], subprocess.Popen[bytes]],
) -> None:
    path = apply(TWO_TASKS)
    run_id = trigger(store, job="owned", now=CLOCK.now()).run_id
    started_by(store, run_id, dead_process(sleeper))
    path.unlink()
    # apply is a command that reads runs: it finds the run stale, so the job goes now
    # rather than waiting, `deleting`, for a run that will never end.
    assert run(["apply", str(config_dir), "--allow-mass-delete"]) == 0
    assert stored(store, run_id).state == "stale"
    assert [r.name for r in store.resources("Job")] == []
