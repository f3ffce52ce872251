"""The API's reads (SPEC 6 and 7): jobs, a job, its status and tasks, runs in a range, a
run, a task's log, the plan of the watched folder, the audit and the metrics. Each
answers what the CLI's `--json` prints."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from runner.api.app import ApiError, Read
from runner.api.models import AuditEntry, Job, Run, RunId, plain_text, refusals
from runner.ops import audit as audit_ops
from runner.ops import configuration, jobs, reading, status
from runner.ops.common import labels_from
from runner.runs.views import run_json
from runner.spec.env import shown_spec

router = APIRouter(prefix="/v1", tags=["read"])


@router.get(
    "/jobs",
    response_class=JSONResponse,
    responses={200: {"model": list[Job]}, **refusals(422)},
)
def list_jobs(
    ctx: Read,
    label: Annotated[list[str], Query(description="k=v; repeat for several")] = [],  # noqa: B006
    state: str | None = Query(None, description="the last run's state"),
) -> Response:
    """The applied jobs, as `runner jobs`."""
    labels = labels_from(label, "label")
    # answered as it is: validating 1,000 jobs against the model took longer than
    # reading them (the model documents the answer); orjson writes it 10 times faster
    found = [j.as_json() for j in jobs.jobs(ctx.home, labels=labels, state=state)]
    return Response(orjson.dumps(found), media_type="application/json")


@router.get("/jobs/{job}", response_model=Job, responses=refusals(404, 422))
def one_job(ctx: Read, job: str) -> dict[str, Any]:
    """One job: as `runner status JOB`, with its normalised spec."""
    from runner.ops.common import opened_store

    data: dict[str, Any] = _job_named(ctx, job).as_json()
    with opened_store(ctx.home) as store:
        # a secret's digest is no business of a reader's: (secret), as plans show it
        data["spec"] = shown_spec(store.specs([("Job", job)]).get(("Job", job)))
    return data


def _job_named(ctx: Read, job: str) -> Any:
    """`status` reads a number as a run's id first; a job may be named "42"."""
    from runner.ops.common import now, opened_store
    from runner.runs.reading import job_status

    with opened_store(ctx.home) as store:
        return job_status(store, job, now=now())


@router.get("/jobs/{job}/status", response_model=Job, responses=refusals(404, 422))
def job_status(ctx: Read, job: str) -> dict[str, Any]:
    """As `runner status JOB`: schedule, next runs, holds, active runs, missed ticks."""
    result: dict[str, Any] = _job_named(ctx, job).as_json()
    return result


@router.get("/jobs/{job}/tasks", responses=refusals(404, 422))
def job_tasks(ctx: Read, job: str) -> list[dict[str, Any]]:
    """The last run of every task, as `runner tasks JOB`."""
    return [t.as_json() for t in reading.tasks(ctx.home, job)]


@router.get("/runs", response_model=list[Run], responses=refusals(404, 422))
def runs(
    ctx: Read,
    job: str | None = None,
    state: Annotated[list[str], Query()] = [],  # noqa: B006
    start: str | None = Query(None, description="due at or after: a date or a time"),
    end: str | None = Query(None, description="due before (a date: to the end of that day)"),
    limit: int = Query(50, ge=1, le=10_000),
) -> list[dict[str, Any]]:
    """Runs, newest first, as `runner history`."""
    found = reading.history(
        ctx.home, job=job, since=start, until=end, states=tuple(state), limit=limit
    )
    return [run_json(r) for r in found]


@router.get("/runs/{run_id}", response_model=Run, responses=refusals(404, 422))
def one_run(ctx: Read, run_id: RunId) -> dict[str, Any]:
    """One run with its tasks and their attempts, as `runner status RUN`."""
    from runner.ops.common import opened_store
    from runner.runs.cancel import find_run

    with opened_store(ctx.home) as store:
        return run_json(find_run(store, run_id), attempts=True)


@router.get(
    "/runs/{run_id}/tasks/{task}/log",
    response_class=Response,
    responses={**plain_text("What the task wrote."), **refusals(404, 422)},
)
def task_log(
    ctx: Read, run_id: RunId, task: str, attempt: int | None = Query(None, ge=1)
) -> PlainTextResponse:
    """What the task wrote (its latest attempt, or `attempt`)."""
    found = reading.logs(ctx.home, run_id, task=task, attempt=attempt)
    if not found.logs:
        raise ApiError(404, "not-found", f"task {task} of run {run_id} has not started")
    return PlainTextResponse(b"".join(found.logs[-1].chunks()).decode(errors="replace"))


@router.get("/plan")
def plan(ctx: Read) -> dict[str, Any]:
    """The plan of the watched folder against the store, as `runner plan --format json`."""
    return configuration.plan(ctx.home, ctx.config).as_json()


@router.get("/audit", response_model=list[AuditEntry], responses=refusals(422))
def audit(
    ctx: Read,
    since: str | None = Query(None, description="a date, a time or a duration back (2h)"),
    who: str | None = None,
    limit: int = Query(200, ge=1, le=10_000),
) -> list[dict[str, Any]]:
    """Who did what: every run, cancel, action, hold and release, with the token name
    (or the OS user from the CLI)."""
    return audit_ops.audit(ctx.home, since=since, who=who, limit=limit)


@router.get("/status")
def overview(ctx: Read) -> dict[str, Any]:
    """As `runner status`: the daemon, the last apply and its errors, the runs under way."""
    result: dict[str, Any] = status.status(ctx.home).as_json()
    return result


metrics_router = APIRouter(tags=["daemon"])


@metrics_router.get(
    "/metrics",
    response_class=Response,
    responses=plain_text("The metrics, in Prometheus' text format."),
)
def metrics(ctx: Read, request: Request) -> Response:
    """Prometheus metrics, every name prefixed `runner_`."""
    from runner.api.metrics import exposition

    body, content_type = exposition(ctx.home, started=request.app.state.started)
    return Response(body, media_type=content_type)
