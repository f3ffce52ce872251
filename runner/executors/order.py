"""What an executor is asked to run: one run of one revision, read from the job's
normalised spec (SPEC 1.1), with the environment and working folder of SPEC 3."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runner.spec.durations import parse_seconds


@dataclass(frozen=True, slots=True)
class Retries:
    limit: int = 0
    delay: float = 10.0
    backoff: float = 2.0
    max_delay: float = 600.0

    def wait(self, failed_attempt: int) -> float:
        """The wait before the attempt after `failed_attempt` (1-based):
        delay * backoff^(n-1), capped at max_delay."""
        return float(min(self.delay * self.backoff ** (failed_attempt - 1), self.max_delay))


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskSpec:
    name: str
    kind: str = "command"
    run: str | None = None
    argv: tuple[str, ...] | None = None
    after: tuple[str, ...] = ()
    active: bool = True
    env: Mapping[str, str] = field(default_factory=dict)
    workdir: str | None = None
    timeout: float | None = None
    retries: Retries = Retries()
    continue_on_error: bool = False
    prompt: str | None = None

    @property
    def command(self) -> list[str]:
        if self.argv is not None:
            return list(self.argv)
        return ["/bin/sh", "-c", self.run or ""]

    @property
    def shown(self) -> str:
        """The command as a person would type it, for messages."""
        return self.argv[0] if self.argv else (self.run or "")


@dataclass(frozen=True, slots=True, kw_only=True)
class RunOrder:
    run_id: int
    job: str
    revision: int
    trigger: str
    due: datetime
    tasks: tuple[TaskSpec, ...]
    selected: frozenset[str] | None = None  # None: every task
    env: Mapping[str, str] = field(default_factory=dict)  # the job's
    run_env: Mapping[str, str] = field(default_factory=dict)  # `runner run --env`
    workdir: str = "."
    timeout: float | None = None

    def task_env(self, task: TaskSpec, *, attempt: int, base: Mapping[str, str]) -> dict[str, str]:
        """The daemon's environment, then the job's, the task's and the run's `--env`,
        then the RUNNER_ variables, which nothing overrides."""
        env = {**base, **self.env, **task.env, **self.run_env}
        env.update(
            RUNNER_JOB=self.job,
            RUNNER_RUN_ID=str(self.run_id),
            RUNNER_TASK=task.name,
            RUNNER_ATTEMPT=str(attempt),
            RUNNER_TRIGGER=self.trigger,
            RUNNER_SCHEDULED_FOR=self.due.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
        return env

    def task_workdir(self, task: TaskSpec) -> str:
        if not task.workdir:
            return self.workdir
        return os.path.join(self.workdir, os.path.expanduser(task.workdir))


def order_from_spec(
    spec: Mapping[str, Any],
    *,
    run_id: int,
    revision: int,
    trigger: str,
    due: datetime,
    source_file: str | None,
    selected: Sequence[str] | None = None,
    run_env: Mapping[str, str] | None = None,
) -> RunOrder:
    """A run order from a job's normalised spec. A relative `workdir` (and the default,
    none) is the folder of the job's file, so scripts kept beside the YAML are found."""
    base = str(Path(source_file).parent) if source_file else os.getcwd()
    workdir = os.path.join(base, os.path.expanduser(spec.get("workdir") or "."))
    job_env = {k: str(v) for k, v in (spec.get("env") or {}).items()}
    return RunOrder(
        run_id=run_id,
        job=spec["name"],
        revision=revision,
        trigger=trigger,
        due=due,
        tasks=tuple(_task(t) for t in spec.get("tasks") or ()),
        selected=frozenset(selected) if selected else None,
        env=job_env,
        run_env=dict(run_env or {}),
        workdir=os.path.normpath(workdir),
        timeout=_seconds(spec.get("timeout")),
    )


def _task(data: Mapping[str, Any]) -> TaskSpec:
    retries = data.get("retries") or {}
    return TaskSpec(
        name=data["name"],
        kind=data.get("kind") or "command",
        run=data.get("run"),
        argv=tuple(data["argv"]) if data.get("argv") else None,
        after=tuple(data.get("after") or ()),
        active=data.get("active", True) is not False,
        env={k: str(v) for k, v in (data.get("env") or {}).items()},
        workdir=data.get("workdir"),
        timeout=_seconds(data.get("timeout")),
        retries=Retries(
            limit=int(retries.get("limit") or 0),
            delay=_seconds(retries.get("delay")) or 0.0,
            backoff=float(retries.get("backoff") or 1.0),
            max_delay=_seconds(retries.get("maxDelay")) or 0.0,
        ),
        continue_on_error=bool(data.get("continueOnError")),
        prompt=data.get("prompt"),
    )


def _seconds(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    seconds = parse_seconds(str(value))
    return float(seconds) if seconds is not None else None
