"""The normalised form: every default filled in, so that spelling one out is no change.

`plan` diffs normalised forms; `apply` stores them; a run executes one. The form is
plain data (the files' field names, durations in their canonical spelling, times in
UTC), made from one dump of the model: copying models field by field costs ten times
as much for 10,000 jobs.
"""

from __future__ import annotations

from typing import Any

from runner.spec.env import normal_env
from runner.spec.models import Hold, Job, Pool, Resource
from runner.spec.schedules import cron_fields

DEFAULT_RETRIES: dict[str, Any] = {"limit": 0, "delay": "10s", "backoff": 2.0, "maxDelay": "10m"}
# Fields added after jobs were first applied: left out of the normal form when unset.
UNSET_LEFT_OUT = ("maxParallel", "pool", "user", "group")
DEFAULT_KEEP_RUNS = 100
DEFAULT_KEEP_DAYS = 30
SCHEDULE_DEFAULTS: dict[str, Any] = {
    "mode": None,
    "cron": None,
    "every": None,
    "timezone": "UTC",
    "enabled": True,
    "jitter": "0s",
    "overlap": "skip",
    "catchup": "latest",
    "startingDeadline": None,
}


def normal_form(resource: Resource) -> dict[str, Any]:
    """The normalised resource as plain data, with the files' field names."""
    data = resource.model_dump(mode="json", by_alias=True)
    if isinstance(resource, Pool):
        return data
    return _job(data) if isinstance(resource, Job) else _hold(data)


def normalize(resource: Resource) -> Resource:
    """The normalised resource as a model."""
    model: type[Job] | type[Hold] | type[Pool] = type(resource)
    return model.model_validate(normal_form(resource))


def dump(resource: Resource) -> dict[str, Any]:
    """A resource as plain data, with the files' field names (normalise it first)."""
    return resource.model_dump(mode="json", by_alias=True)


def _job(data: dict[str, Any]) -> dict[str, Any]:
    retries = merge_retries(data.get("retries"), DEFAULT_RETRIES)
    data["schedule"] = normalize_schedule(data.get("schedule"))
    if data["status"] is None and data["schedule"]["mode"] == "auto":
        # A manual job keeps `status` as written: without it, creating the job never
        # runs it (SPEC 2.2), so a left-out status is not the same as `start`.
        data["status"] = "start"
    data["retries"] = retries
    history = data.get("history") or {}
    data["history"] = {
        "keepRuns": history.get("keepRuns") or DEFAULT_KEEP_RUNS,
        "keepDays": history.get("keepDays") or DEFAULT_KEEP_DAYS,
    }
    previous: str | None = None
    for task in data["tasks"]:
        _task(task, previous=previous, job=data, retries=retries)
        previous = task["name"]
    for hold in data["holds"]:
        hold["tasks"] = sorted(set(hold["tasks"])) if hold.get("tasks") else None
    data["after"] = sorted(set(data["after"]))
    for key in UNSET_LEFT_OUT:  # so that jobs applied before these fields existed
        if data.get(key) is None:  # are no change
            data.pop(key, None)
    data["labels"] = dict(sorted(data["labels"].items()))
    data["env"] = normal_env(data["name"], data["env"])
    passthrough = data.pop("envPassthrough", None)  # left out when none, as UNSET_LEFT_OUT
    if passthrough:
        data["envPassthrough"] = sorted(set(passthrough))
    return data


def normalize_schedule(schedule: dict[str, Any] | None) -> dict[str, Any]:
    """A schedule with every default, `mode` decided and crons' spaces collapsed."""
    out = {**SCHEDULE_DEFAULTS, **(schedule or {})}
    if out["cron"]:
        out["cron"] = [" ".join(cron_fields(c)) for c in out["cron"]]
    if out["mode"] is None:
        out["mode"] = "auto" if out["cron"] or out["every"] is not None else "manual"
    return out


def merge_retries(own: dict[str, Any] | None, inherited: dict[str, Any]) -> dict[str, Any]:
    """Retries field by field: the own value where given, else the inherited one."""
    if not own:
        return dict(inherited)
    return {k: own[k] if own.get(k) is not None else v for k, v in inherited.items()}


def _task(
    task: dict[str, Any], *, previous: str | None, job: dict[str, Any], retries: dict[str, Any]
) -> None:
    if task.get("after") is None:
        task["after"] = [previous] if previous else []
    task["retries"] = merge_retries(task.get("retries"), retries)
    if task.get("continueOnError") is None:
        task["continueOnError"] = job["continueOnError"]
    task["env"] = normal_env(job["name"], task["env"])
    for inherited in ("pool", "user", "group"):
        task[inherited] = task.get(inherited) or job.get(inherited)
        if task[inherited] is None:
            del task[inherited]


def _hold(data: dict[str, Any]) -> dict[str, Any]:
    data["jobs"] = sorted(set(data["jobs"])) if data.get("jobs") else None
    data["tasks"] = sorted(set(data["tasks"])) if data.get("tasks") else None
    return data
