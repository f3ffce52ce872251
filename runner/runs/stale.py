"""Stale runs (SPEC 3): a running run whose owner process is gone. Whoever notices first
marks it: the daemon at start, or any command that reads runs on the owner's host. What
its tasks left running is killed only when it is certainly theirs: the leader by pid and
start time, or, the leader gone, a group member that carries the task's marks (job, run
id, task and due time: runner/system/marks.py) in its environment (a group id is not
reused while a member lives); when the task it cut short had retries left, a retry run
is scheduled. A run still `scheduled` by an owner that died (a foreground `runner run`
killed while it queued) is discarded: it never started, and nothing will start it."""

from __future__ import annotations

import signal
from datetime import datetime

from runner.domain import RunState, TaskState
from runner.runs.afterwards import retry_stale
from runner.store import RunRecord, Store, TaskRecord
from runner.store.interfaces import RunHistory
from runner.system.marks import task_marks
from runner.system.procs import is_alive, kill_group_if_marked, kill_group_if_same


def owner_gone(run: RunRecord) -> bool:
    return run.owner is not None and is_alive(run.owner) is False


def mark_stale_runs(
    store: Store, *, host: str, now: datetime, retries: dict[int, int] | None = None
) -> list[int]:
    """Mark the runs on `host` whose owner died; return their ids. `retries` hears the
    retry run made for each stale run that gets one."""
    stale = []
    for run in store.owned_on_host(host):
        if not owner_gone(run):
            continue
        if run.state == RunState.SCHEDULED:
            assert run.owner is not None
            reason = f"its runner ({run.owner.label}) died before it started"
            store.request_cancel(run.id, now=now, reason=reason)
        else:
            marked = _mark(store, run, now=now)
            if marked is not None:
                stale.append(run.id)
                retry = retry_stale(store, marked, now=now)
                if retry is not None and retries is not None:
                    retries[run.id] = retry
    if stale:
        store.finish_deferred_deletes()  # a job deleted while its dead run "ran"
    return stale


def _mark(store: RunHistory, run: RunRecord, *, now: datetime) -> RunRecord | None:
    assert run.owner is not None
    full = store.run(run.id) or run  # its tasks, with their pids, for the dead only
    for task in full.tasks:
        _kill_what_is_left(run, task)
    reason = f"its runner ({run.owner.label}) died while it ran"
    return full if store.mark_stale(run.id, now=now, reason=reason) else None


def _kill_what_is_left(run: RunRecord, task: TaskRecord) -> None:
    """SIGKILL the task's process group: by its leader (pid and start time) while the
    task runs, else, its leader gone, if a member of the group carries its marks (its
    job, run id, task and due time: another home's task may share the run id)."""
    if not task.pid:
        return
    started = task.pid_started if task.state == TaskState.RUNNING else None
    if started and kill_group_if_same(task.pid, started, signal.SIGKILL):
        return
    marks = task_marks(job=run.job, run_id=run.id, task=task.name, due=run.due)
    kill_group_if_marked(task.pid, marks, signal.SIGKILL)
