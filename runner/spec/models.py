"""The job language as pydantic models: what a file may say (SPEC 1).

Models are frozen, strict (YAML 1.2 values are not coerced: `"3"` is no number and
`yes` no boolean) and forbid unknown fields. Defaults that depend on other fields
(a task's `after`, inherited retries) are `None` here and filled in by `normalize`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from runner.spec.durations import Duration
from runner.spec.types import EnvName, LabelKey, Name, NameList, Text, TextList, Timestamp

API_VERSION = "runner/v1"
OVERLAP_POLICIES = ("skip", "queue", "cancel-running", "allow")
CATCHUP_POLICIES = ("none", "latest", "all")

Overlap = Literal["skip", "queue", "cancel-running", "allow"]
Catchup = Literal["none", "latest", "all"]
Count = Annotated[int, Field(ge=0)]
Positive = Annotated[int, Field(ge=1)]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, populate_by_name=True)


class Schedule(Model):
    """When an auto job runs. `mode` defaults to auto with a cron or every, else manual."""

    mode: Literal["auto", "manual"] | None = None
    cron: TextList | None = None
    every: Duration | None = None
    timezone: Text = "UTC"
    enabled: bool = True
    jitter: Duration = Duration(0)
    overlap: Overlap = "skip"
    catchup: Catchup = "latest"
    starting_deadline: Duration | None = Field(None, alias="startingDeadline")


class Retries(Model):
    """Retry policy; a task's fields left out inherit the job's, then the defaults."""

    limit: Count | None = None
    delay: Duration | None = None
    backoff: Annotated[float, Field(ge=1)] | None = None
    max_delay: Duration | None = Field(None, alias="maxDelay")


class History(Model):
    keep_runs: Positive | None = Field(None, alias="keepRuns")
    keep_days: Positive | None = Field(None, alias="keepDays")


class DependsOn(Model):
    job: Name
    task: Name | None = None


class Task(Model):
    name: Name
    kind: Literal["command", "manual"] = "command"
    run: Text | None = None
    argv: Annotated[list[str], Field(min_length=1)] | None = None
    after: NameList | None = None
    active: bool = True
    env: dict[EnvName, str] = Field(default_factory=dict)
    workdir: Text | None = None
    timeout: Duration | None = None
    retries: Retries | None = None
    continue_on_error: bool | None = Field(None, alias="continueOnError")
    prompt: Text | None = None


class InlineHold(Model):
    """A hold written in a job's `holds:`; it covers that job only."""

    name: Name
    tasks: NameList | None = None
    until: Timestamp | None = None
    depends_on: DependsOn | None = Field(None, alias="dependsOn")
    reason: Text | None = None


class Selector(Model):
    labels: Annotated[dict[LabelKey, str], Field(min_length=1)]


class Job(Model):
    api_version: Literal["runner/v1"] = Field(alias="apiVersion")
    kind: Literal["Job"]
    name: Name
    description: str | None = None
    labels: dict[LabelKey, str] = Field(default_factory=dict)
    schedule: Schedule | None = None
    status: Literal["start", "paused"] = "start"
    disabled: bool = False
    hold_on_failure: Positive | None = Field(None, alias="holdOnFailure")
    after: NameList = Field(default_factory=list)
    timeout: Duration | None = None
    retries: Retries | None = None
    continue_on_error: bool = Field(False, alias="continueOnError")
    env: dict[EnvName, str] = Field(default_factory=dict)
    workdir: Text | None = None
    history: History | None = None
    tasks: Annotated[list[Task], Field(min_length=1)]
    holds: list[InlineHold] = Field(default_factory=list)


class Hold(Model):
    """A hold as its own resource; it may cover many jobs, by name or by labels."""

    api_version: Literal["runner/v1"] = Field(alias="apiVersion")
    kind: Literal["Hold"]
    name: Name
    jobs: NameList | None = None
    selector: Selector | None = None
    tasks: NameList | None = None
    until: Timestamp | None = None
    depends_on: DependsOn | None = Field(None, alias="dependsOn")
    reason: Text | None = None


Resource = Job | Hold
MODELS: dict[str, type[Job] | type[Hold]] = {"Job": Job, "Hold": Hold}


def covers(hold: Hold, job: Job) -> bool:
    """Whether a Hold resource applies to `job`, by name or by its labels."""
    if hold.jobs and job.name in hold.jobs:
        return True
    if hold.selector is None:
        return False
    return all(job.labels.get(k) == v for k, v in hold.selector.labels.items())
