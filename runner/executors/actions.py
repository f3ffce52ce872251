"""Task actions on a run under way (SPEC 3.1), as the run's owner carries them out: asked
by another process through the journal, decided against the run's graph as it stands
now, and answered in the same journal write as the task's new state.

* finish: a `waiting` (manual) or `stopped` task ends `success`, or `failed` with
  `--reject`'s reason; the run goes on.
* stop: a running task's process group is killed; the task becomes `stopped` (answered
  once it is), and waits for finish, retry or cancel.
* retry: on a running run, a `stopped` task starts again with a new attempt.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from runner.domain import ENDED_TASK_STATES, TaskState
from runner.executors import journal as j
from runner.executors.graph import RETRYING
from runner.executors.runstate import ActiveRun

if TYPE_CHECKING:
    from runner.executors.supervisor import Supervisor

OK, REFUSED = "ok", "refused"


def carry_out(sup: Supervisor, request: j.Request) -> None:
    """Act on `request` for one of `sup`'s runs, or refuse it with the reason."""
    run = sup.runs.get(request.run_id)
    if run is None:
        return  # ended meanwhile, or not ours: the asker sees the run's end
    state = _shown(run, request.task)
    if state is None:
        _answer(sup, request, REFUSED, "", f"run {request.run_id} has no task {request.task}")
        return
    why = _refusal(run, request, state)
    if why is not None:
        _answer(sup, request, REFUSED, state, why)
    elif request.action == "finish":
        _finish(sup, run, request)
    elif request.action == "stop":
        _stop(sup, run, request)
    else:
        _retry(sup, run, request)


def stopped(sup: Supervisor, run: ActiveRun, name: str, request: int | None, why: str) -> None:
    """A task killed by `stop` is over: it waits, `stopped`, and the stop is answered."""
    run.graph.start(name, TaskState.STOPPED)
    if request is not None:
        sup._buffer.append(j.Answered(request, sup.clock.now(), OK, TaskState.STOPPED, why))


def _refusal(run: ActiveRun, request: j.Request, state: str) -> str | None:
    task, action = request.task, request.action
    if run.ending is not None:
        return f"run {request.run_id} is ending ({run.ending[1]})"
    if action == "finish":
        if state in (TaskState.WAITING, TaskState.STOPPED):
            return None
        if state == TaskState.RUNNING:
            return f"task {task} is running: `runner stop {request.run_id} {task}` first"
        if state == TaskState.HELD:
            why = run.graph.reason[task] or "held"
            return f"task {task} is {why}: it starts once released, and is not finished"
        return f"task {task} {_described(state)}: only a waiting or stopped task is finished"
    if action == "stop":
        if state == TaskState.WAITING:
            return f"task {task} is a manual task waiting for finish: it has no process to stop"
        attempt = run.running.get(task)
        if attempt is not None and attempt.stopping is not None:
            return f"task {task} is being killed already ({attempt.stopping})"
        if state == TaskState.RUNNING or run.graph.state[task] == RETRYING:
            return None
        return f"task {task} {_described(state)}, not running"
    if state == TaskState.STOPPED:
        return None
    return (
        f"task {task} {_described(state)}: on a running run only a stopped task is "
        "retried (`runner retry RUN --only TASK`)"
    )


def _finish(sup: Supervisor, run: ActiveRun, request: j.Request) -> None:
    rejected = request.arg is not None
    state = TaskState.FAILED if rejected else TaskState.SUCCESS
    who = request.who
    reason = f"rejected by {who}: {request.arg}" if rejected else f"finished by {who}"
    run_id = run.order.run_id
    sup._buffer.append(j.TaskSet(run_id, request.task, state, reason))
    for name, why in run.graph.finish(request.task, state, reason):
        sup._buffer.append(j.TaskSet(run_id, name, TaskState.SKIPPED, why))
    _answer(sup, request, OK, state, reason)


def _stop(sup: Supervisor, run: ActiveRun, request: j.Request) -> None:
    why = f"stopped by {request.who}"
    attempt = run.running.get(request.task)
    if attempt is None:  # waiting out a retry's delay: nothing to kill
        timer = run.retries.pop(request.task, None)
        if timer is not None:
            timer.cancel()
        sup._buffer.append(j.TaskSet(run.order.run_id, request.task, TaskState.STOPPED, why))
        stopped(sup, run, request.task, request.id, why)
        return
    attempt.stopped_by = request.who
    attempt.answer = request.id
    sup._answering.add(request.id)
    sup._stop(attempt, "stop")


def _retry(sup: Supervisor, run: ActiveRun, request: j.Request) -> None:
    reason = f"retried by {request.who}"
    run.graph.start(request.task, TaskState.PENDING)
    sup._buffer.append(j.TaskSet(run.order.run_id, request.task, TaskState.PENDING, reason))
    _answer(sup, request, OK, TaskState.PENDING, reason)


def _shown(run: ActiveRun, task: str) -> str | None:
    """The task's state as the store shows it (a retry's wait is `pending`)."""
    state = run.graph.state.get(task)
    return TaskState.PENDING if state == RETRYING else state


def _described(state: str) -> str:
    return f"has already ended ({state})" if state in ENDED_TASK_STATES else f"is {state}"


def _answer(sup: Supervisor, request: j.Request, status: str, state: str, detail: str) -> None:
    sup._answering.discard(request.id)
    sup._buffer.append(j.Answered(request.id, sup.clock.now(), status, state, detail))
