"""Stale runs (SPEC 3): a running run whose owner process is gone. Whoever notices first
marks it: the daemon at start, or any command that reads runs on the owner's host. What
its tasks left running is killed only when pid and start time both match; when the task
it cut short had retries left, a retry run is scheduled. A run still
`scheduled` by an owner that died (a foreground `runner run` killed while it queued) is
discarded: it never started, and nothing will start it."""

from __future__ import annotations

import signal
from datetime import datetime

from runner.domain import RunState, TaskState
from runner.runs.afterwards import retry_stale
from runner.store import RunRecord, Store
from runner.store.interfaces import RunHistory
from runner.system.procs import is_alive, kill_group_if_same


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
        if task.state == TaskState.RUNNING and task.pid and task.pid_started:
            kill_group_if_same(task.pid, task.pid_started, signal.SIGKILL)
    reason = f"its runner ({run.owner.label}) died while it ran"
    return full if store.mark_stale(run.id, now=now, reason=reason) else None
