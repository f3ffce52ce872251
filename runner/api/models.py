"""The API's bodies and answers as pydantic models, for validation and the OpenAPI
document. The answers are the operations' own JSON (SPEC 6's shapes, `as_json()`):
these models name their main fields and allow the rest, so that a field the operation
adds is answered, not dropped."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field

from runner.domain import MAX_ID


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Answer(BaseModel):
    model_config = ConfigDict(extra="allow")


# A run's id, in the range of the store's column (an INTEGER: 32 bits on PostgreSQL): one
# beyond it is malformed (422), not a store error
RunId = Annotated[int, Path(ge=1, le=MAX_ID, description="the run's id")]


# --- bodies ----------------------------------------------------------------------------


class RunBody(Body):
    """`POST /v1/jobs/{job}/runs`: a manual run (SPEC 3.1's execute)."""

    tasks: list[str] = Field(default_factory=list, description="Only these tasks; none: all.")
    env: dict[str, str] = Field(default_factory=dict, description="Variables for this run.")
    overlap: Literal["skip", "queue", "cancel-running", "allow"] | None = Field(
        None, description="The overlap policy for this trigger, in place of the job's."
    )


class ActionBody(Body):
    """`POST /v1/runs/{id}/actions`: finish, stop or retry (SPEC 3.1)."""

    type: Literal["finish", "stop", "retry"]
    task: str | None = Field(
        None, description="finish, stop: the task; retry: just this task (--only)."
    )
    from_: str | None = Field(
        None, alias="from", description="retry: this task and those after it (--from)."
    )
    reject: str | None = Field(None, description="finish: end the task failed, with this reason.")


class HoldBody(Body):
    """`POST /v1/jobs/{job}/holds` and `POST /v1/holds` (a freeze by `selector`)."""

    name: str | None = Field(None, description="Default JOB-N, or freeze-N.")
    tasks: list[str] = Field(default_factory=list, description="Only these tasks; none: all.")
    until: str | None = Field(None, description="Released at this time (or date).")
    on: str | None = Field(None, description="JOB or JOB:TASK: released once that succeeds.")
    reason: str | None = None
    selector: dict[str, str] | None = Field(
        None, description="POST /v1/holds only: the labels of the jobs it covers."
    )


class CancelBody(Body):
    reason: str | None = None


# --- answers ---------------------------------------------------------------------------


class Error(Answer):
    """Every refusal: the operation's own code, as the CLI has it, and why."""

    error: str
    detail: Any = None


class TaskAnswer(Answer):
    name: str
    state: str


class Run(Answer):
    id: int
    job: str
    state: str
    trigger: str
    tasks: list[TaskAnswer]


class Job(Answer):
    name: str
    mode: str


class TaskResult(Answer):
    task: str
    status: Literal["ok", "refused"]
    state: str
    detail: str | None = None


class ActionAnswer(Answer):
    """SPEC 3.1: the run, and one answer per task."""

    run: Run
    results: list[TaskResult]


class HoldResult(Answer):
    hold: str
    job: str | None
    status: Literal["ok", "refused"]
    detail: str | None = None


class HoldsAnswer(Answer):
    holds: list[dict[str, Any]]
    results: list[HoldResult]


class AuditEntry(Answer):
    time: str
    who: str
    origin: str
    action: str
    status: str


REFUSAL_MEANING: dict[int, str] = {
    403: "the token's role may not do this",
    404: "an unknown job, run, task or hold",
    409: "refused by state (disabled, being deleted, ended run, hold on a running task)",
    422: "a malformed parameter, body or date",
}


def refusals(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """A route's `responses=`: each of `statuses` answers an `Error` (which replaces
    FastAPI's own 422 schema: the app answers its validation errors as `Error` too)."""
    return {s: {"model": Error, "description": REFUSAL_MEANING[s]} for s in statuses}


def plain_text(description: str) -> dict[int | str, dict[str, Any]]:
    """A route's `responses=` for a 200 in plain text, on a route whose `response_class`
    is `Response` (no media type of its own), so that its refusals stay JSON."""
    return {
        200: {"description": description, "content": {"text/plain": {"schema": {"type": "string"}}}}
    }
