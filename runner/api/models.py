"""The API's bodies and answers as pydantic models, for validation and the OpenAPI
document. The answers are the operations' own JSON (SPEC 6's shapes, `as_json()`):
these models name their main fields and allow the rest, so that a field the operation
adds is answered, not dropped."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Answer(BaseModel):
    model_config = ConfigDict(extra="allow")


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
