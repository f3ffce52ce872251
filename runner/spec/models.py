"""The job language as pydantic models: what a file may say (SPEC 1).

Models are frozen, strict (YAML 1.2 values are not coerced: `"3"` is no number and
`yes` no boolean) and forbid unknown fields. Defaults that depend on other fields
(a task's `after`, inherited retries) are `None` here and filled in by `normalize`.
The docstring under each field is its description in the JSON Schema, which editors
show on hover.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from runner.spec.durations import Duration
from runner.spec.env import EnvValue
from runner.spec.types import (
    Account,
    EnvName,
    LabelKey,
    Name,
    NameList,
    Text,
    TextList,
    Timestamp,
)

API_VERSION = "runner/v1"

Overlap = Literal["skip", "queue", "cancel-running", "allow"]
Catchup = Literal["none", "latest", "all"]
Count = Annotated[int, Field(ge=0)]
Positive = Annotated[int, Field(ge=1)]


class Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        strict=True,
        populate_by_name=True,
        use_attribute_docstrings=True,
    )


class Schedule(Model):
    """When the job runs on its own."""

    mode: Literal["auto", "manual"] | None = None
    """auto: on its cron or every; manual: only when triggered. Default: auto when a cron
    or every is given, manual otherwise."""
    cron: Annotated[TextList, Field(min_length=1)] | None = None
    """5-field cron ("0 2 * * 1-5"), a macro (@hourly, @daily, @weekly, @monthly,
    @yearly), or a list of them."""
    every: Duration | None = None
    """An interval (30s, 15m, 1h, 2d), phase anchored at the Unix epoch; counts real
    elapsed time, not the wall clock."""
    timezone: Text = "UTC"
    """The IANA time zone the cron is read in, e.g. Europe/Berlin. Default UTC."""
    enabled: bool = True
    """false: no scheduled runs; manual triggers still work."""
    jitter: Duration = Duration(0)
    """A random delay in [0, jitter] added to each scheduled start."""
    overlap: Overlap = "skip"
    """What a tick does while a run of the job is still scheduled or running: skip,
    queue, cancel-running or allow."""
    catchup: Catchup = "latest"
    """Ticks missed while no daemon ran: none, latest (one run) or all (one each, at
    most 100)."""
    starting_deadline: Duration | None = Field(None, alias="startingDeadline")
    """A run not started this long after it was due is discarded. Default: no deadline."""


class Retries(Model):
    """Retry policy. A task's fields left out inherit the job's, then the defaults."""

    limit: Count | None = None
    """How many times a failed task is tried again. Default 0."""
    delay: Duration | None = None
    """The wait before the first retry. Default 10s."""
    backoff: Annotated[float, Field(ge=1)] | None = None
    """Retry n waits delay * backoff^n. Default 2."""
    max_delay: Duration | None = Field(None, alias="maxDelay")
    """The longest wait between two attempts. Default 10m."""


class History(Model):
    """How much history the daemon keeps; runs beyond either limit are pruned."""

    keep_runs: Positive | None = Field(None, alias="keepRuns")
    """Runs (with their logs) kept for this job. Default 100."""
    keep_days: Positive | None = Field(None, alias="keepDays")
    """Days runs (with their logs) are kept. Default 30."""


class DependsOn(Model):
    """Released once the latest finished run of `job` succeeded (and `task` in it)."""

    job: Name
    """The job to wait for."""
    task: Name | None = None
    """If named, this task must have succeeded in that run."""


class Task(Model):
    """One step of a job."""

    name: Name
    """Unique in its job."""
    kind: Literal["command", "manual"] = "command"
    """command (default) runs `run` or `argv`; manual waits until someone finishes it."""
    run: Text | None = None
    """A shell command, run with /bin/sh -c."""
    argv: Annotated[list[str], Field(min_length=1)] | None = None
    """A program and its arguments, executed without a shell."""
    after: NameList | None = None
    """Tasks that must be satisfied first. Default: the task written just above;
    [] starts at the beginning of the run."""
    active: bool = True
    """false: kept in the file, skipped when the job runs."""
    env: dict[EnvName, EnvValue] = Field(default_factory=dict)
    """Environment variables for this task, beside the job's: a string,
    {fromEnv: NAME}, {fromFile: PATH} or {value: V, secret: true}."""
    workdir: Text | None = None
    """The working directory. Default: the job's."""
    user: Account | None = None
    """The user the task runs as (the daemon must run as root). Default: the job's."""
    group: Account | None = None
    """The group the task runs as. Default: the job's, else the user's own group."""
    timeout: Duration | None = None
    """Kill the task's whole process group after this long; counts as a failure."""
    retries: Retries | None = None
    """Retry policy; fields left out inherit the job's."""
    continue_on_error: bool | None = Field(None, alias="continueOnError")
    """true: a failure still lets the following tasks run (the run ends failed).
    Default: the job's."""
    prompt: Text | None = None
    """For a manual task: what the person finishing it should check."""
    assignee: Name | None = None
    """For a manual task: the API token name or role that may finish it (an admin
    token always may)."""
    pool: Name | None = None
    """A Pool this task takes a slot of while it runs. Default: the job's."""


class InlineHold(Model):
    """A hold written in a job's `holds:`; it covers that job only."""

    name: Name
    """Unique among the job's holds."""
    tasks: NameList | None = None
    """The tasks held. Default: every task of the job."""
    until: Timestamp | None = None
    """Released at this time (RFC 3339 with an offset)."""
    depends_on: DependsOn | None = Field(None, alias="dependsOn")
    """Released once this job (and task) succeeded."""
    reason: Text | None = None
    """Why the tasks are held; shown wherever the hold is."""


class Selector(Model):
    """Jobs chosen by their labels: every label given must match."""

    labels: Annotated[dict[LabelKey, str], Field(min_length=1)]
    """Label values the jobs must have."""


class Job(Model):
    """A job: its schedule, its tasks and their order, and holds on them."""

    api_version: Literal["runner/v1"] = Field(alias="apiVersion")
    """Always runner/v1."""
    kind: Literal["Job"]
    name: Name
    """Unique among jobs across the whole configuration folder."""
    description: str | None = None
    """What the job does, for people."""
    labels: dict[LabelKey, str] = Field(default_factory=dict)
    """Labels, for `runner jobs --label` and Hold selectors."""
    schedule: Schedule | None = None
    """When the job runs on its own. Without it the job is manual."""
    status: Literal["start", "paused"] | None = None
    """start: a manual job runs once when apply creates it (left out, it waits for a
    trigger); an auto job runs on its schedule (its default). paused: an auto job's first
    scheduled run waits for a manual trigger."""
    disabled: bool = False
    """true: no run of any kind starts; triggers are refused."""
    hold_on_failure: Positive | None = Field(None, alias="holdOnFailure")
    """After this many failed runs in a row, place a runtime hold on the job."""
    after: NameList = Field(default_factory=list)
    """Follow-up: a run starts after each successful run of these jobs."""
    timeout: Duration | None = None
    """The longest a whole run may take."""
    retries: Retries | None = None
    """The default retry policy of every task."""
    continue_on_error: bool = Field(False, alias="continueOnError")
    """The default continueOnError of every task."""
    env: dict[EnvName, EnvValue] = Field(default_factory=dict)
    """Environment variables for every task: a string, {fromEnv: NAME} (the daemon's
    variable when the task starts), {fromFile: PATH} (the file's content) or
    {value: V, secret: true}; all but strings are never stored and show as (secret)."""
    env_passthrough: list[EnvName] | None = Field(None, alias="envPassthrough")
    """Variables of the daemon's environment every task gets as they are (a task gets
    only PATH, HOME, LANG, TZ, USER and the RUNNER_ variables otherwise); RUNNER_STORE
    and the API and git tokens are never passed on."""
    workdir: Text | None = None
    """The working directory of every task."""
    user: Account | None = None
    """The user every task runs as (the daemon must run as root to use it). Default:
    the daemon's user."""
    group: Account | None = None
    """The group every task runs as. Default: the user's own group."""
    history: History | None = None
    """How many runs and days of history to keep."""
    max_parallel: Positive | None = Field(None, alias="maxParallel")
    """At most this many of the job's tasks run at once, across its runs. Default: no
    limit but the daemon's --max-parallel."""
    pool: Name | None = None
    """A Pool every task of the job takes a slot of while it runs (a task's own `pool`
    overrides it)."""
    tasks: Annotated[list[Task], Field(min_length=1)]
    """The steps, run in the order written unless `after` says otherwise."""
    holds: list[InlineHold] = Field(default_factory=list)
    """Holds on this job's tasks."""


class Hold(Model):
    """A hold as its own resource; it may cover many jobs, by name or by labels."""

    api_version: Literal["runner/v1"] = Field(alias="apiVersion")
    """Always runner/v1."""
    kind: Literal["Hold"]
    name: Name
    """Unique among Holds across the whole configuration folder."""
    jobs: NameList | None = None
    """Jobs covered, by name."""
    selector: Selector | None = None
    """Jobs covered, by labels."""
    tasks: NameList | None = None
    """The tasks held; names a covered job lacks are ignored. Default: every task."""
    until: Timestamp | None = None
    """Released at this time (RFC 3339 with an offset)."""
    depends_on: DependsOn | None = Field(None, alias="dependsOn")
    """Released once this job (and task) succeeded."""
    reason: Text | None = None
    """Why the jobs are held; shown wherever the hold is."""


class Pool(Model):
    """Slots shared by the tasks of the jobs that name it: a database that takes four
    loads at a time, say. A task that finds every slot taken waits for one."""

    api_version: Literal["runner/v1"] = Field(alias="apiVersion")
    """Always runner/v1."""
    kind: Literal["Pool"]
    name: Name
    """Unique among Pools across the whole configuration folder."""
    description: str | None = None
    """What the slots stand for, for people."""
    slots: Positive
    """How many tasks may hold a slot at once."""


Resource = Job | Hold | Pool
MODELS: dict[str, type[Job] | type[Hold] | type[Pool]] = {"Job": Job, "Hold": Hold, "Pool": Pool}
