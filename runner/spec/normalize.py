"""The normalised form: every default filled in, so that spelling one out is no change.

`plan` diffs normalised forms; `apply` stores them; a run executes one.
"""

from __future__ import annotations

from typing import Any

from runner.spec.durations import Duration
from runner.spec.models import (
    History,
    Hold,
    InlineHold,
    Job,
    Resource,
    Retries,
    Schedule,
    Task,
)

DEFAULT_RETRIES = Retries(limit=0, delay=Duration(10), backoff=2.0, max_delay=Duration(600))
DEFAULT_KEEP_RUNS = 100
DEFAULT_KEEP_DAYS = 30


def normalize(resource: Resource) -> Resource:
    return normalize_job(resource) if isinstance(resource, Job) else normalize_hold(resource)


def normalize_job(job: Job) -> Job:
    retries = merge_retries(job.retries, DEFAULT_RETRIES)
    tasks = [
        _normalize_task(
            task, previous=job.tasks[i - 1].name if i else None, job=job, retries=retries
        )
        for i, task in enumerate(job.tasks)
    ]
    history = History(
        keep_runs=(job.history and job.history.keep_runs) or DEFAULT_KEEP_RUNS,
        keep_days=(job.history and job.history.keep_days) or DEFAULT_KEEP_DAYS,
    )
    return job.model_copy(
        update={
            "schedule": normalize_schedule(job.schedule),
            "retries": retries,
            "tasks": tasks,
            "history": history,
            "holds": [_normalize_inline_hold(h) for h in job.holds],
            "after": sorted(set(job.after)),
            "labels": dict(sorted(job.labels.items())),
            "env": dict(sorted(job.env.items())),
        }
    )


def normalize_schedule(schedule: Schedule | None) -> Schedule:
    schedule = schedule or Schedule()
    mode = schedule.mode or ("auto" if schedule.cron or schedule.every is not None else "manual")
    cron = [" ".join(c.split()) for c in schedule.cron] if schedule.cron else None
    return schedule.model_copy(update={"mode": mode, "cron": cron})


def merge_retries(own: Retries | None, inherited: Retries) -> Retries:
    if own is None:
        return inherited
    filled = {
        name: getattr(own, name) if getattr(own, name) is not None else getattr(inherited, name)
        for name in Retries.model_fields
    }
    return own.model_copy(update=filled)


def _normalize_task(task: Task, *, previous: str | None, job: Job, retries: Retries) -> Task:
    after = task.after if task.after is not None else ([previous] if previous else [])
    continue_on_error = (
        task.continue_on_error if task.continue_on_error is not None else job.continue_on_error
    )
    return task.model_copy(
        update={
            "after": after,
            "retries": merge_retries(task.retries, retries),
            "continue_on_error": continue_on_error,
            "env": dict(sorted(task.env.items())),
        }
    )


def _normalize_inline_hold(hold: InlineHold) -> InlineHold:
    return hold.model_copy(update={"tasks": sorted(set(hold.tasks)) if hold.tasks else None})


def normalize_hold(hold: Hold) -> Hold:
    return hold.model_copy(
        update={
            "jobs": sorted(set(hold.jobs)) if hold.jobs else None,
            "tasks": sorted(set(hold.tasks)) if hold.tasks else None,
        }
    )


def dump(resource: Resource) -> dict[str, Any]:
    """The normalised resource as plain data, with the files' field names."""
    return resource.model_dump(mode="json", by_alias=True)
