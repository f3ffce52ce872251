"""The API's actions (SPEC 3.1, 7): execute, cancel, finish/stop/retry, runtime holds and
their release. Each calls the operation the CLI calls, as the token's name (the audit
says who), and answers what the CLI's `--json` prints. `POST`s that create or act take
an `Idempotency-Key`: a repeat within 24 h gets the first answer, never a second run."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from runner.api.app import ApiError, Context, Operate, status_of
from runner.api.models import (
    ActionAnswer,
    ActionBody,
    CancelBody,
    HoldBody,
    HoldsAnswer,
    Run,
    RunBody,
    RunId,
    refusals,
)
from runner.errors import RunnerError, UsageError
from runner.ops import actions, holds, placing
from runner.ops import runs as run_ops
from runner.ops.common import now, opened_store
from runner.runs.views import run_json

router = APIRouter(prefix="/v1", tags=["act"])
REFUSED = refusals(403, 404, 409, 422)
WAIT_FOR_FIRST = 30.0  # a repeat while the first request is being answered waits this long

Answer = tuple[int, Any]


@router.post("/jobs/{job}/runs", status_code=201, response_model=Run, responses=REFUSED)
def execute(ctx: Operate, job: str, body: RunBody) -> JSONResponse:
    """Run JOB now (queued to this daemon: it starts within a second, or waits for a
    hold, a slot or the job's active run). 409 for a job that refuses runs."""

    def act() -> Answer:
        request = run_ops.RunRequest(
            job=job,
            tasks=tuple(body.tasks),
            env=dict(body.env),
            overlap=body.overlap,
            actor=ctx.actor,
        )
        return 201, run_ops.run(ctx.home, request).as_json()

    return _once(ctx, f"POST /v1/jobs/{job}/runs", act)


@router.post("/runs/{run_id}/cancel", response_model=Run, responses=REFUSED)
def cancel(ctx: Operate, run_id: RunId, body: CancelBody | None = None) -> JSONResponse:
    """Cancel a run: a running one's tasks are stopped, a scheduled one is discarded."""

    def act() -> Answer:
        reason = body.reason if body else None
        return 200, run_json(run_ops.cancel(ctx.home, run_id, reason=reason, actor=ctx.actor))

    return _once(ctx, f"POST /v1/runs/{run_id}/cancel", act)


@router.post("/runs/{run_id}/actions", response_model=ActionAnswer, responses=REFUSED)
def act_on_run(ctx: Operate, run_id: RunId, body: ActionBody) -> JSONResponse:
    """finish, stop or retry, answered per task (SPEC 3.1); 409 when refused by state,
    with the per-task answer beside the error."""

    def act() -> Answer:
        if body.type == "retry":
            outcome = actions.retry(
                ctx.home, run_id, from_task=body.from_, only=body.task, actor=ctx.actor
            )
        elif body.task is None:
            raise UsageError(f'{body.type} needs the task: {{"task": NAME}}')
        elif body.type == "finish":
            _may_finish(ctx, run_id, body.task)
            outcome = actions.finish(
                ctx.home, run_id, body.task, reject=body.reject, actor=ctx.actor
            )
        else:
            outcome = actions.stop(ctx.home, run_id, body.task, actor=ctx.actor)
        answer = outcome.as_json()
        if outcome.refused:
            first = outcome.refused[0]
            return 409, {"error": "refused", "detail": first.detail, **answer}
        return 200, answer

    return _once(ctx, f"POST /v1/runs/{run_id}/actions", act)


@router.post("/jobs/{job}/holds", status_code=201, response_model=HoldsAnswer, responses=REFUSED)
def hold_job(ctx: Operate, job: str, body: HoldBody) -> JSONResponse:
    """A runtime hold on JOB (all its tasks, or `tasks`)."""
    if body.selector is not None:
        raise UsageError("a hold by selector is POST /v1/holds")
    return _once(ctx, f"POST /v1/jobs/{job}/holds", lambda: _hold(ctx, body, job=job))


@router.post("/holds", status_code=201, response_model=HoldsAnswer, responses=REFUSED)
def hold_selector(ctx: Operate, body: HoldBody) -> JSONResponse:
    """A freeze: a runtime hold on every job with the `selector`'s labels."""
    if not body.selector:
        raise UsageError('a freeze needs "selector": {"label": "value"}')
    return _once(ctx, "POST /v1/holds", lambda: _hold(ctx, body, job=None))


@router.delete("/jobs/{job}/holds/{hold}", response_model=HoldsAnswer, responses=REFUSED)
def release_job_hold(ctx: Operate, job: str, hold: str) -> dict[str, Any]:
    """End the runtime hold HOLD on JOB (a hold a file defines is refused, saying where)."""
    return holds.release(ctx.home, job=job, hold=hold, actor=ctx.actor).as_json()


@router.delete("/holds/{name}", response_model=HoldsAnswer, responses=REFUSED)
def release_named(ctx: Operate, name: str) -> dict[str, Any]:
    """End every runtime hold named NAME (a freeze, say)."""
    return holds.release(ctx.home, hold=name, actor=ctx.actor).as_json()


def _hold(ctx: Context, body: HoldBody, *, job: str | None) -> Answer:
    request = placing.HoldRequest(
        job=job,
        selector=body.selector,
        tasks=tuple(body.tasks),
        until=body.until,
        on=body.on,
        reason=body.reason,
        name=body.name,
    )
    return 201, placing.hold(ctx.home, request, actor=ctx.actor).as_json()


def _may_finish(ctx: Context, run_id: int, task: str) -> None:
    """A manual task with an `assignee` is finished by that token (by name or role) or
    by an admin token (SPEC 1.1; jobAction's "not assigned to the current user")."""
    with opened_store(ctx.home) as store:
        run = store.run(run_id)
        spec = store.revision_spec("Job", run.job, run.revision) if run is not None else None
    found = [t for t in (spec or {}).get("tasks") or () if t.get("name") == task]
    assignee = found[0].get("assignee") if found else None
    token = ctx.token
    if assignee and token.role != "admin" and assignee not in (token.name, token.role):
        raise ApiError(
            403,
            "not-assignee",
            f"task {task} of run {run_id} is assigned to {assignee}, not to token "
            f"{token.name}; an admin token may finish it",
        )


def _once(ctx: Context, request: str, act: Callable[[], Answer]) -> JSONResponse:
    """Act, or, for a repeat of a request with the same `Idempotency-Key` (by the same
    token), give the first answer again. A refusal is an answer too."""
    key = ctx.idempotency_key
    if key is None:
        return _answer(act)
    token = ctx.token.name
    deadline = time.monotonic() + WAIT_FOR_FIRST
    while True:
        with opened_store(ctx.home) as store:
            kept = store.reserve_key(token, key, request, now())
        if kept is None:
            break
        if kept.request != request:
            raise ApiError(
                422, "idempotency-key-reused", f"Idempotency-Key {key} was used for {kept.request}"
            )
        if kept.status is not None:
            return JSONResponse(kept.body, kept.status, headers={"Idempotent-Replayed": "true"})
        if time.monotonic() > deadline:
            raise ApiError(
                409, "in-progress", f"the request with Idempotency-Key {key} is being answered"
            )
        time.sleep(0.05)
    try:
        response = _answer(act)
    except BaseException:
        with opened_store(ctx.home) as store:
            store.release_key(token, key)
        raise
    with opened_store(ctx.home) as store:
        store.keep_answer(token, key, response.status_code, _body(response))
    return response


def _answer(act: Callable[[], Answer]) -> JSONResponse:
    try:
        status, body = act()
    except RunnerError as exc:
        return JSONResponse({"error": exc.code, "detail": exc.message}, status_of(exc))
    return JSONResponse(body, status)


def _body(response: JSONResponse) -> Any:
    import json

    return json.loads(bytes(response.body))
