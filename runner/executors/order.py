"""What an executor is asked to run: one run of one revision, read from the job's
normalised spec (SPEC 1.1), with the environment and working folder of SPEC 3.

The secret values of the job's `env` travel here only, in memory (`secrets`: digest
to value, read from the job's file when the order is made), and so do the run's
`--env` values: a `RunOrder` is never stored, and its repr shows neither."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from runner.domain.jobs import EnvValues, JobView, Retries, TaskView
from runner.executors.environment import base_env, resolve
from runner.system.marks import task_marks

TaskSpec = TaskView  # a task as the executor runs it: the job view's
__all__ = ["Retries", "RunOrder", "TaskSpec", "order_from_view"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RunOrder:
    run_id: int
    job: str
    revision: int
    trigger: str
    due: datetime
    tasks: tuple[TaskSpec, ...]
    selected: frozenset[str] | None = None  # None: every task
    env: EnvValues = field(default_factory=dict)  # the job's
    run_env: Mapping[str, str] = field(default_factory=dict, repr=False)  # `runner run --env`
    passthrough: tuple[str, ...] = ()  # the job's envPassthrough
    secrets: Mapping[str, str] = field(default_factory=dict, repr=False)  # digest -> value
    source_file: str | None = None  # the job's file: relative fromFile paths start there
    workdir: str = "."
    timeout: float | None = None
    max_parallel: int | None = None  # the job's `maxParallel`: its tasks at once
    # A run that goes on (`runner retry`): the tasks that keep how they ended, with
    # their state and reason, and every task's attempts so far (numbering goes on).
    kept: Mapping[str, tuple[str, str | None]] = field(default_factory=dict)
    attempts: Mapping[str, int] = field(default_factory=dict)

    @property
    def limited(self) -> bool:
        """Whether its tasks wait for slots beyond the executor's (maxParallel, pools)."""
        return self.max_parallel is not None or any(t.pool for t in self.tasks)

    def task_env(self, task: TaskSpec, *, attempt: int, base: Mapping[str, str]) -> dict[str, str]:
        """The task's defined environment, from the daemon's `base`: its base names and
        the job's envPassthrough, the job's `env`, the task's and the run's `--env`,
        then the RUNNER_ variables, which nothing overrides. Raises `EnvUnresolved`
        (a failed attempt) when a value cannot be read."""
        env = base_env(base, self.passthrough)
        env.update(self._read(self.env, base))
        env.update(self._read(task.env, base))
        env.update(self.run_env)
        env.update(task_marks(job=self.job, run_id=self.run_id, task=task.name, due=self.due))
        env.update(RUNNER_ATTEMPT=str(attempt), RUNNER_TRIGGER=self.trigger)
        return env

    def _read(self, env: EnvValues, daemon: Mapping[str, str]) -> dict[str, str]:
        """`env` with its values read (a relative fromFile from the job file's folder)."""
        folder = os.path.dirname(self.source_file) if self.source_file else self.workdir
        return resolve(
            env, daemon=daemon, folder=folder, secrets=self.secrets, source=self.source_file
        )

    def task_workdir(self, task: TaskSpec) -> str:
        if not task.workdir:
            return self.workdir
        return os.path.join(self.workdir, os.path.expanduser(task.workdir))


def order_from_view(
    job: JobView,
    *,
    run_id: int,
    revision: int,
    trigger: str,
    due: datetime,
    source_file: str | None,
    selected: Sequence[str] | None = None,
    run_env: Mapping[str, str] | None = None,
    kept: Mapping[str, tuple[str, str | None]] | None = None,
    attempts: Mapping[str, int] | None = None,
    secrets: Mapping[str, str] | None = None,
) -> RunOrder:
    """A run order from a job's view. A relative `workdir` (and the default, none) is
    the folder of the job's file, so scripts kept beside the YAML are found. `secrets`:
    the job's secret values by digest (`runner.config.secrets.secret_values`)."""
    base = str(Path(source_file).parent) if source_file else os.getcwd()
    workdir = os.path.join(base, os.path.expanduser(job.workdir or "."))
    return RunOrder(
        job=job.name,
        tasks=job.tasks,
        env=job.env,
        timeout=job.timeout,
        max_parallel=job.max_parallel,
        run_id=run_id,
        revision=revision,
        trigger=trigger,
        due=due,
        selected=frozenset(selected) if selected else None,
        run_env=dict(run_env or {}),
        passthrough=job.env_passthrough,
        secrets=dict(secrets or {}),
        source_file=source_file,
        workdir=os.path.normpath(workdir),
        kept=dict(kept or {}),
        attempts=dict(attempts or {}),
    )
