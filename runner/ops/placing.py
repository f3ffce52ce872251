"""hold (SPEC 1.3, 3.1): a runtime hold placed without a file, on one job or, by label,
on every job that carries the labels (a freeze). It is kept in the store, survives
restarts, is never pruned by `apply`, and ends at its `until`, when its `--on`
dependency succeeds, or with `runner release`.

A hold on named tasks is refused while one of them runs (it could only apply from the
next start, which is not what "hold this task" means at 3 a.m.); a whole-job hold is
accepted while tasks run, and applies from their next start."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from runner.clock import Clock, SystemClock
from runner.domain import TaskState
from runner.errors import NotFound, UsageError
from runner.ops.audit import record
from runner.ops.common import Home, opened_store, wake_everyone
from runner.ops.identity import Actor, local_actor
from runner.runs.reading import parse_time
from runner.runs.trigger import Refused, applied_job
from runner.spec.findings import did_you_mean
from runner.spec.types import format_timestamp
from runner.store import Store
from runner.store.holds import NewHold


@dataclass(frozen=True, slots=True)
class HoldRequest:
    job: str | None = None
    selector: Mapping[str, str] | None = None  # labels: a freeze of every job with them
    tasks: tuple[str, ...] = ()  # none: every task
    until: str | None = None  # a date or a time
    on: str | None = None  # JOB or JOB:TASK: released once that succeeds
    reason: str | None = None
    name: str | None = None  # default JOB-N, or freeze-N by selector


@dataclass(frozen=True, slots=True)
class Placed:
    hold: dict[str, Any]
    covers: tuple[str, ...]  # the jobs it covers now

    def as_json(self) -> dict[str, Any]:
        target = self.hold["job"] or None
        return {
            "holds": [self.hold | {"covers": list(self.covers)}],
            "results": [{"hold": self.hold["name"], "job": target, "status": "ok", "detail": None}],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Placed:
        """`as_json`'s answer read back (the CLI's `--server`)."""
        hold = dict(data["holds"][0])
        covers = hold.pop("covers")
        return cls(hold, tuple(covers))


def hold(
    home: Home, request: HoldRequest, *, actor: Actor | None = None, clock: Clock | None = None
) -> Placed:
    """Place a runtime hold; a daemon on the home is woken, so that it applies now."""
    check_target(request)
    clock, actor = clock or SystemClock(), actor or local_actor()
    now = clock.now()
    until = _until(request.until, now)
    with opened_store(home) as store:
        depends = _dependency(store, request.on)
        covered = _covered(store, request)
        job = request.job or ""
        try:
            _refuse_running_tasks(store, covered, request.tasks)
            name = _free_name(store, job, request.name)
        except Refused as refused:
            record(
                store,
                actor,
                "hold",
                status="refused",
                clock=clock,
                job=request.job,
                target=request.name,
                detail=refused.message,
            )
            raise
        row: NewHold = {
            "now": now,
            "job": job,
            "name": name,
            "tasks": list(request.tasks) or None,
            "until": until,
            "depends_job": depends[0] if depends else None,
            "depends_task": depends[1] if depends else None,
            "reason": request.reason,
            "selector": {"labels": dict(request.selector)} if request.selector else None,
            "created_by": actor.who,
        }
        store.add_runtime_hold(**row)
        placed = _shown(row, request)
        wake_everyone(store, home)
        record(
            store,
            actor,
            "hold",
            status="ok",
            clock=clock,
            job=request.job,
            target=name,
            detail=describe(placed),
        )
    return Placed(placed, tuple(covered))


def check_target(request: HoldRequest) -> None:
    """A hold is on a job, or (a freeze) on the jobs with labels: one of them."""
    if (request.job is None) == (not request.selector):
        raise UsageError(
            "give a JOB, or --selector K=V for a freeze by label: `runner hold --help`"
        )


def _until(text: str | None, now: datetime) -> datetime | None:
    if text is None:
        return None
    at = parse_time(text, option="--until")
    if at <= now:
        raise UsageError(
            f"--until {text} has passed (it is {format_timestamp(now)} now): give a later time"
        )
    return at


def _dependency(store: Store, on: str | None) -> tuple[str, str | None] | None:
    """`--on JOB[:TASK]`: a job (and task) that exists."""
    if on is None:
        return None
    job, _, task = on.partition(":")
    _, spec = applied_job(store, job)
    if task:
        tasks = [t["name"] for t in spec.get("tasks") or ()]
        if task not in tasks:
            raise NotFound(
                f'--on {on}: job {job} has no task "{task}"{did_you_mean(task, tasks)}; '
                f"its tasks: {', '.join(tasks)}"
            )
    return job, task or None


def _covered(store: Store, request: HoldRequest) -> list[str]:
    """The jobs the hold covers now; for one job, its `--task` names checked."""
    if request.job is not None:
        _, spec = applied_job(store, request.job)
        tasks = [t["name"] for t in spec.get("tasks") or ()]
        for task in request.tasks:
            if task not in tasks:
                raise NotFound(
                    f'job {request.job} has no task "{task}"{did_you_mean(task, tasks)}; '
                    f"its tasks: {', '.join(tasks)}"
                )
        return [request.job]
    wanted = dict(request.selector or {})
    views = store.views(r.name for r in store.resources("Job"))
    return sorted(
        name
        for name, view in views.items()
        if all((view.get("labels") or {}).get(k) == v for k, v in wanted.items())
    )


def _refuse_running_tasks(store: Store, jobs: Sequence[str], tasks: Sequence[str]) -> None:
    """A hold on named tasks, one of which runs now: refused (SPEC 3.1)."""
    if not tasks:
        return  # a whole-job hold applies from the next start
    for run in store.active_run_records():
        if run.job not in jobs:
            continue
        full = store.run(run.id) or run
        running = [t.name for t in full.tasks if t.name in tasks and t.state == TaskState.RUNNING]
        if running:
            raise Refused(
                f"task {running[0]} of {run.job} is running now in run {run.id}: a hold does not "
                f"stop a running task; `runner stop {run.id} {running[0]}` first, or hold the "
                "whole job (without --task), which applies from the next start",
                code="task-running",
            )


def _free_name(store: Store, job: str, asked: str | None) -> str:
    """The hold's name: `asked`, unless taken on `job` ("": the freezes), or JOB-N."""
    name = asked or _default_name(store, job)
    if name in store.runtime_hold_names(job):
        where = f"on {job}" if job else "by selector"
        raise Refused(
            f"a runtime hold named {name} is already {where}: pick another --name, "
            f"or `runner release {job + ' ' if job else '--name '}{name}` first",
            code="hold-exists",
        )
    return name


def _default_name(store: Store, job: str) -> str:
    prefix = job or "freeze"
    taken = store.runtime_hold_names(job)
    return next(f"{prefix}-{n}" for n in itertools.count(1) if f"{prefix}-{n}" not in taken)


def _shown(row: NewHold, request: HoldRequest) -> dict[str, Any]:
    until = row.get("until")
    return {
        "name": row["name"],
        "job": row["job"] or None,
        "selector": dict(request.selector) if request.selector else None,
        "tasks": row.get("tasks"),
        "until": format_timestamp(until) if until else None,
        "depends_on": (
            {"job": row.get("depends_job"), "task": row.get("depends_task")}
            if row.get("depends_job")
            else None
        ),
        "reason": row.get("reason"),
        "origin": "runtime",
        "created_by": row.get("created_by"),
    }


def describe(hold: Mapping[str, Any]) -> str:
    """What it holds and what releases it, in words."""
    what = f"tasks {', '.join(hold['tasks'])}" if hold["tasks"] else "every task"
    ways = []
    if hold["until"]:
        ways.append(f"at {hold['until']}")
    if hold["depends_on"]:
        d = hold["depends_on"]
        ways.append(
            f"when {'task ' + d['task'] + ' of ' if d['task'] else 'job '}{d['job']} succeeds"
        )
    release = (
        f"runner release {hold['job']} {hold['name']}"
        if hold["job"]
        else f"runner release --name {hold['name']}"
    )
    ways.append(release)
    return f"holds {what}; released {', or '.join(ways)}"
