"""run and cancel (SPEC 3.1): a manual run, queued to the daemon that runs on the home
(it starts within a second, or waits for a hold, a slot or the job's active run) or,
with none, executed here to its end; and a run cancelled."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from runner.clock import Clock, SystemClock
from runner.daemon.lock import holder
from runner.domain import ACTIVE_RUN_STATES, RunState
from runner.errors import RunnerError, UsageError
from runner.executors.journal import Change
from runner.executors.logcap import DEFAULT_MAX_LOG_SIZE
from runner.ops.audit import entry as audit_entry
from runner.ops.audit import record as audit_record
from runner.ops.common import Home, opened_store
from runner.ops.identity import Actor, local_actor
from runner.runs.cancel import cancel as cancel_run
from runner.runs.cancel import find_run, wake_owner
from runner.runs.foreground import execute
from runner.runs.reading import refuse_held_tasks
from runner.runs.stale import mark_stale_runs
from runner.runs.trigger import OVERLAPS, Refused, Triggered, trigger
from runner.runs.views import run_json
from runner.store import RunRecord, Store
from runner.system.procs import ProcessId, hostname, myself
from runner.system.wakeup import poke

WAIT_POLL = 0.2


class Display(Protocol):
    """What shows a run executed here while it goes on (the CLI's progress lines): the
    journal's changes as they come, and notes on what the run waits for."""

    def __enter__(self) -> Display: ...
    def __exit__(self, *exc: object) -> None: ...
    def __call__(self, changes: Sequence[Change]) -> None: ...
    def note(self, text: str) -> None: ...


# A display for a run executed here, given its id and its number of tasks.
ShowRun = Callable[[int, int], Display]
# Told (run id, daemon pid) once a run is queued, before waiting for its end.
OnQueued = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class RunRequest:
    job: str
    tasks: tuple[str, ...] = ()  # only these (`--task`); none: every task
    env: Mapping[str, str] = field(default_factory=dict)
    overlap: str | None = None  # overrides the job's overlap policy for this trigger
    wait: bool = False  # queued to a daemon: follow the run to its end
    max_parallel: int | None = None  # executed here: tasks at once
    max_log_size: int | None = DEFAULT_MAX_LOG_SIZE  # executed here: each attempt's log
    actor: Actor | None = None  # who asks (the audit's); None: the OS user here


@dataclass(frozen=True, slots=True)
class RunOutcome:
    run: RunRecord  # as it ended, or (not followed) as it was queued
    daemon_pid: int | None = None  # queued to this daemon; None: executed here
    followed: bool = True  # to its end: always here, with `wait` when queued
    stopped_waiting: bool = False  # Ctrl-C while waiting: the run goes on in the daemon

    @property
    def succeeded(self) -> bool:
        return self.run.state == RunState.SUCCESS

    def as_json(self) -> dict[str, Any]:
        return run_json(self.run)


def run(
    home: Home,
    request: RunRequest,
    *,
    show: ShowRun | None = None,
    on_queued: OnQueued | None = None,
    clock: Clock | None = None,
) -> RunOutcome:
    """Trigger a manual run of `request.job`: queued to the daemon on the home when one
    runs, else executed here to its end (refused if a hold covers a task it would
    start: nothing here can wait for a release)."""
    if request.overlap is not None and request.overlap not in OVERLAPS:
        raise UsageError(
            f'unknown overlap policy "{request.overlap}": one of {", ".join(OVERLAPS)}'
        )
    clock = clock or SystemClock()
    daemon = holder(home.path)
    if daemon is not None:
        return _queue(home, request, int(daemon.get("pid") or 0), clock, on_queued)
    with opened_store(home) as store:
        refuse_held_tasks(store, request.job, request.tasks, now=clock.now())
        triggered = _trigger(store, request, clock, owner=myself())
        display = show(triggered.run_id, len(triggered.order.tasks)) if show else None
        with display if display is not None else contextlib.nullcontext():
            record = execute(
                store,
                triggered,
                home=home.path,
                clock=clock,
                observer=display,
                max_parallel=request.max_parallel,
                max_log_size=request.max_log_size,
                on_wait=display.note if display is not None else None,
            )
    return RunOutcome(record)


def _trigger(
    store: Store, request: RunRequest, clock: Clock, owner: ProcessId | None = None
) -> Triggered:
    """The checks that can refuse the trigger, then its run; `owner`: the process that
    executes it (none for a run queued to the daemon, which takes it when it starts).
    Recorded in the audit, done or refused."""
    actor = request.actor or local_actor()
    how = f"tasks {', '.join(request.tasks)}" if request.tasks else None
    done = audit_entry(actor, "run", status="ok", clock=clock, job=request.job, detail=how)
    try:
        triggered = trigger(
            store,
            job=request.job,
            now=clock.now(),
            tasks=request.tasks,
            env=request.env,
            overlap=request.overlap,
            owner=owner,
            audit=done,  # written with the run: one transaction, not two
        )
    except Refused as refused:
        audit_record(
            store,
            actor,
            "run",
            status="refused",
            clock=clock,
            job=request.job,
            detail=refused.message,
        )
        raise
    return triggered


def _queue(
    home: Home, request: RunRequest, pid: int, clock: Clock, on_queued: OnQueued | None
) -> RunOutcome:
    """Queue the run to the daemon (pid `pid`) and wake it; with `wait`, follow the
    run until it ends."""
    with opened_store(home) as store:
        triggered = _trigger(store, request, clock)
        run_id = triggered.run_id
        for cancel in triggered.cancel:  # the overlap rule's cancel-running
            store.request_cancel(cancel.run_id, now=clock.now(), reason=cancel.reason)
            wake_owner(store, home.path, cancel.run_id)
        queued = find_run(store, run_id)  # read first: the woken daemon starts it at once
        poke(home.path, pid)
        if not request.wait:
            return RunOutcome(queued, daemon_pid=pid, followed=False)
        if on_queued is not None:
            on_queued(run_id, pid)
        try:
            record = _wait_for_end(store, run_id, clock, home.path)
        except KeyboardInterrupt:
            return RunOutcome(queued, daemon_pid=pid, followed=False, stopped_waiting=True)
    return RunOutcome(record, daemon_pid=pid)


def _wait_for_end(store: Store, run_id: int, clock: Clock, home: Path) -> RunRecord:
    """Until the run ends; a daemon that dies meanwhile leaves it stale (SPEC 3), or,
    when it had not started it yet, queued for the daemon's next start."""
    while True:
        mark_stale_runs(store, host=hostname(), now=clock.now())
        record = find_run(store, run_id)
        if record.state not in ACTIVE_RUN_STATES:
            return record
        if record.state == RunState.SCHEDULED and record.owner is None and holder(home) is None:
            again = find_run(store, run_id)  # it may have started as the daemon stopped
            if again.state == RunState.SCHEDULED:
                raise RunnerError(
                    f"the daemon stopped before it started run {run_id}: the run stays "
                    "queued for the daemon's next start (runner cancel "
                    f"{run_id} drops it)",
                    code="daemon-stopped",
                )
        clock.sleep(WAIT_POLL)


def cancel(
    home: Home,
    run_id: int,
    *,
    reason: str | None = None,
    clock: Clock | None = None,
    actor: Actor | None = None,
) -> RunRecord:
    """Cancel a run: a running run's tasks are stopped and it ends cancelled (this
    waits for its owner to say so); a scheduled run is discarded."""
    clock, actor = clock or SystemClock(), actor or local_actor()
    with opened_store(home) as store:
        try:
            ended = cancel_run(
                store,
                home=home.path,
                run_id=run_id,
                clock=clock,
                reason=reason or f"cancelled by {actor.who}",
            )
        except Refused as refused:
            audit_record(
                store,
                actor,
                "cancel",
                status="refused",
                clock=clock,
                run_id=run_id,
                detail=refused.message,
            )
            raise
        audit_record(
            store,
            actor,
            "cancel",
            status="ok",
            clock=clock,
            job=ended.job,
            run_id=run_id,
            detail=f"{ended.state}: {ended.reason}",
        )
        return ended
