"""finish, stop and retry (SPEC 3.1): each answers per task, as the API will.

A task action on a running run is asked of the run's owner (the daemon, or the
`runner run` executing it here) through the store, and the owner wakes and answers it
in the same write as the task's new state; this waits for that answer. A retry of a run
that ended puts it back to be started: the daemon on the home starts it within a
second, or, with none, it goes on here to its end, as `runner run` would.

Every action, done or refused, is recorded in the audit with who asked and from where.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runner.clock import Clock, SystemClock
from runner.daemon.lock import holder
from runner.domain import RunState, TaskState
from runner.errors import NotFound, RunnerError, UsageError
from runner.ops.audit import record
from runner.ops.common import Home, opened_store
from runner.ops.identity import Actor, local_actor
from runner.runs.cancel import find_run, wake_owner
from runner.runs.reading import refuse_held_tasks
from runner.runs.retry import again_for, retry_here
from runner.runs.stale import mark_stale_runs
from runner.runs.trigger import Refused
from runner.runs.views import run_from_json, run_json
from runner.store import RunRecord, Store
from runner.system.procs import hostname
from runner.system.wakeup import poke

WAIT = 25.0  # a stop: the owner's heartbeat (5 s) + the kill grace (10 s) + a margin
POLL = 0.05
RETRYABLE = (RunState.FAILED, RunState.CANCELLED, RunState.STALE)


@dataclass(frozen=True, slots=True)
class TaskResult:
    task: str
    status: str  # ok | refused
    state: str  # the task's state after the action
    detail: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "status": self.status,
            "state": self.state,
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True)
class ActionOutcome:
    run: RunRecord  # as it stands after the action (or, run here, as it ended)
    results: tuple[TaskResult, ...]
    daemon_pid: int | None = None  # a retry handed to this daemon

    @property
    def refused(self) -> list[TaskResult]:
        return [r for r in self.results if r.status == "refused"]

    def as_json(self) -> dict[str, Any]:
        return {"run": run_json(self.run), "results": [r.as_json() for r in self.results]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any], daemon_pid: int | None = None) -> ActionOutcome:
        """`as_json`'s answer read back (the CLI's `--server`)."""
        results = tuple(
            TaskResult(r["task"], r["status"], r["state"], r["detail"]) for r in data["results"]
        )
        return cls(run_from_json(data["run"]), results, daemon_pid)


def finish(
    home: Home,
    run_id: int,
    task: str,
    *,
    reject: str | None = None,
    actor: Actor | None = None,
    clock: Clock | None = None,
) -> ActionOutcome:
    """A waiting or stopped task ends success (failed with `reject`'s reason)."""
    if reject is not None and not reject.strip():
        raise UsageError("--reject needs a reason: it is what the run's failure says")
    return _task_action(home, run_id, task, "finish", reject, actor, clock)


def stop(
    home: Home, run_id: int, task: str, *, actor: Actor | None = None, clock: Clock | None = None
) -> ActionOutcome:
    """Kill a running task's process group; it waits `stopped`."""
    return _task_action(home, run_id, task, "stop", None, actor, clock)


def retry(
    home: Home,
    run_id: int,
    *,
    from_task: str | None = None,
    only: str | None = None,
    actor: Actor | None = None,
    clock: Clock | None = None,
) -> ActionOutcome:
    """The same run goes on with new attempts: an ended run (failed, cancelled, stale)
    runs what did not succeed again (`from_task`: that task and those after it too;
    `only`: just that task); on a running run, `only` a stopped task starts again."""
    if from_task is not None and only is not None:
        raise UsageError("--from and --only are two ways to retry: give one of them")
    clock, actor = clock or SystemClock(), actor or local_actor()
    with opened_store(home) as store:
        run = find_run(store, run_id)
        for name in (from_task, only):
            if name is not None:
                _known_task(run, name)
        if run.state == RunState.RUNNING and only is not None:
            return _ask(store, home, run, only, "retry", None, actor, clock)
        why = _not_retryable(run, only, from_task)
        if why is not None:
            return _refused(store, run, "retry", only or from_task or "", why, actor, clock)
        again = again_for(run, from_task=from_task, only=only)
        daemon = holder(home.path)
        if daemon is None:  # run here: nothing here can wait for a hold's release
            try:
                refuse_held_tasks(store, run.job, again, now=clock.now())
            except Refused as held:
                return _refused(store, run, "retry", ", ".join(again), held.message, actor, clock)
        how = f" --from {from_task}" if from_task else f" --only {only}" if only else ""
        reason = f"retried by {actor.who}{how}"
        state = store.retry_run(run_id, again=again, now=clock.now(), reason=reason)
        if state is not None:  # it changed meanwhile (a daemon marked it stale, say)
            why = f"run {run_id} is {state}"
            return _refused(store, run, "retry", only or "", why, actor, clock)
        store.record_event(
            kind="run-retried", at=clock.now(), message=reason, job=run.job, run_id=run_id
        )
        results = tuple(TaskResult(t, "ok", TaskState.PENDING, reason) for t in again)
        _audit(store, actor, "retry", run, ", ".join(again), "ok", reason, clock)
        if daemon is not None:
            poke(home.path, int(daemon.get("pid") or 0))
            return ActionOutcome(find_run(store, run_id), results, int(daemon.get("pid") or 0))
        ended = retry_here(store, find_run(store, run_id), home=home.path, clock=clock)
        return ActionOutcome(ended, results)


def _task_action(
    home: Home,
    run_id: int,
    task: str,
    action: str,
    arg: str | None,
    actor: Actor | None,
    clock: Clock | None,
) -> ActionOutcome:
    clock, actor = clock or SystemClock(), actor or local_actor()
    with opened_store(home) as store:
        run = find_run(store, run_id)
        _known_task(run, task)
        return _ask(store, home, run, task, action, arg, actor, clock)


def _ask(
    store: Store,
    home: Home,
    run: RunRecord,
    task: str,
    action: str,
    arg: str | None,
    actor: Actor,
    clock: Clock,
) -> ActionOutcome:
    """Ask the run's owner to act on `task`, and wait for its answer."""
    request = None
    if run.state == RunState.RUNNING:
        request = store.request_task_action(
            run.id, action=action, task=task, arg=arg, who=actor.who, now=clock.now()
        )
    if request is None:
        run = find_run(store, run.id)
        return _refused(store, run, action, task, _not_running(run, action), actor, clock)
    wake_owner(store, home.path, run.id)
    deadline = clock.monotonic() + WAIT
    while clock.monotonic() < deadline:
        answer = store.task_answer(request)
        if answer is not None:
            _audit(store, actor, action, run, task, answer.status, answer.detail, clock)
            result = TaskResult(task, answer.status, answer.state, answer.detail)
            return ActionOutcome(find_run(store, run.id), (result,))
        mark_stale_runs(store, host=hostname(), now=clock.now())
        now_run = find_run(store, run.id)
        if now_run.state != RunState.RUNNING:
            why = f"run {run.id} ended ({now_run.state}) before its runner could {action} {task}"
            return _refused(store, now_run, action, task, why, actor, clock)
        clock.sleep(POLL)
    owner = run.owner.label if run.owner else "its runner"
    raise RunnerError(
        f"{action} of task {task} in run {run.id} asked, but {owner} has not answered after "
        f"{WAIT:g}s; check with `runner status {run.id}`",
        code="action-timeout",
    )


def _refused(
    store: Store, run: RunRecord, action: str, task: str, why: str, actor: Actor, clock: Clock
) -> ActionOutcome:
    _audit(store, actor, action, run, task, "refused", why, clock)
    state = next((t.state for t in run.tasks if t.name == task), "")
    return ActionOutcome(run, (TaskResult(task, "refused", state, why),))


def _audit(
    store: Store,
    actor: Actor,
    action: str,
    run: RunRecord,
    target: str,
    status: str,
    detail: str | None,
    clock: Clock,
) -> None:
    record(
        store,
        actor,
        action,
        status=status,
        clock=clock,
        job=run.job,
        run_id=run.id,
        target=target,
        detail=detail,
    )


def _known_task(run: RunRecord, task: str) -> None:
    names = [t.name for t in run.tasks]
    if task not in names:
        raise NotFound(
            f"run {run.id} of {run.job} has no task {task}: its tasks are {', '.join(names)}"
        )


def _not_running(run: RunRecord, action: str) -> str:
    if run.state == RunState.SCHEDULED:
        return f"run {run.id} of {run.job} has not started yet ({run.reason or 'scheduled'})"
    retry = f"; `runner retry {run.id}` runs it again" if run.state in RETRYABLE else ""
    return f"run {run.id} of {run.job} already ended ({run.state}): nothing to {action}{retry}"


def _not_retryable(run: RunRecord, only: str | None, from_task: str | None) -> str | None:
    if run.state == RunState.RUNNING:
        return (
            f"run {run.id} of {run.job} is running: only a stopped task of it is retried "
            "(`--only TASK`); cancel it first to retry the whole run"
        )
    if run.state == RunState.SCHEDULED:
        return f"run {run.id} of {run.job} has not started yet ({run.reason or 'scheduled'})"
    if run.state == RunState.SUCCESS and only is None and from_task is None:
        return (
            f"run {run.id} of {run.job} succeeded: nothing to retry (`--from TASK` or "
            f"`--only TASK` runs a task of it again; `runner run {run.job}` starts a new run)"
        )
    if run.state == RunState.DISCARDED:
        return f"run {run.id} of {run.job} never started ({run.reason}): `runner run {run.job}`"
    return None
