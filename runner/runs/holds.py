"""The holds on a job as SPEC 6 shows them: inline, Hold resources that cover it, and
runtime holds, each with whether it is active now and what releases it (SPEC 1.3)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from runner.domain.holds import covers, dependency, hold_covers, parse_until, released_by
from runner.domain.jobs import JobView
from runner.executors.graph import TaskGraph
from runner.reconciler.inventory import dependency_met
from runner.reconciler.planning import relative_source
from runner.spec.types import format_timestamp
from runner.store import Store


def job_holds(store: Store, job: Mapping[str, Any], *, now: datetime) -> list[dict[str, Any]]:
    """Every hold on `job` (a normalised spec), each saying which file releases it."""
    name = job["name"]
    sources = {
        (r.kind, r.name): relative_source(r.source)
        for r in store.resources()
        if r.kind == "Hold" or r.name == name
    }
    found = [
        _hold(
            store,
            h,
            job=name,
            origin="config",
            where=f"the job's holds ({sources.get(('Job', name))})",
            now=now,
        )
        for h in job.get("holds") or ()
    ]
    hold_keys = [key for key in sources if key[0] == "Hold"]
    for key, spec in sorted(store.specs(hold_keys).items()):
        if hold_covers(spec, job):
            found.append(_hold(store, spec, job=name, origin="config", where=sources[key], now=now))
    for row in store.runtime_hold_rows(name, job.get("labels") or {}):
        spec = {
            "name": row["name"],
            "tasks": row["tasks"],
            "until": format_timestamp(row["until"]) if row["until"] else None,
            "dependsOn": (
                {"job": row["depends_job"], "task": row["depends_task"]}
                if row["depends_job"]
                else None
            ),
            "reason": row["reason"],
            "selector": row["selector"] if row["job"] == "" else None,
        }
        found.append(_hold(store, spec, job=name, origin="runtime", where="", now=now))
    return found


def blocking_hold(
    store: Store, job: Mapping[str, Any], *, selected: Sequence[str] | None, now: datetime
) -> tuple[dict[str, Any], list[str]] | None:
    """The first active hold on a task a run of `job` would start (its active tasks, or
    those `selected`), with the tasks it covers; None when nothing holds the run."""
    wanted = [
        t["name"]
        for t in job.get("tasks") or ()
        if t.get("active", True) and (not selected or t["name"] in selected)
    ]
    for hold in job_holds(store, job, now=now):
        covered = [t for t in wanted if not hold["tasks"] or t in hold["tasks"]]
        if hold["active"] and covered:
            return hold, covered
    return None


class Held(NamedTuple):
    """Why a task may not start (every active hold on it), and when the earliest of
    their `until`s passes (when to look again)."""

    reason: str
    until: datetime | None


def could_be_held(
    job: JobView, *, holds: Iterable[Mapping[str, Any]], runtime: Collection[str]
) -> bool:
    """Whether any hold could cover `job`, from what the caller keeps in memory: its
    inline holds, the Hold resources (`holds`), the jobs with a runtime hold (`runtime`,
    "" for a freeze by label)."""
    return bool(
        job.holds
        or job.name in runtime
        or "" in runtime
        or any(covers(h, name=job.name, labels=job.labels) for h in holds)
    )


def held_tasks(
    store: Store,
    *,
    job: JobView,
    holds: Iterable[Mapping[str, Any]],
    runtime: Collection[str],
    selected: Collection[str] | None,
    now: datetime,
) -> dict[str, Held]:
    """The tasks of a run of `job` (its active tasks, or those `selected`) that active
    holds keep from starting; the store is read only when a hold could cover the job."""
    if not could_be_held(job, holds=holds, runtime=runtime):
        return {}
    full = store.specs([("Job", job.name)]).get(("Job", job.name))
    if full is None:
        return {}
    wanted = [t.name for t in job.tasks if t.active and (not selected or t.name in selected)]
    on: dict[str, list[dict[str, Any]]] = {}
    for hold in job_holds(store, full, now=now):
        if hold["active"]:
            for name in wanted:
                if not hold["tasks"] or name in hold["tasks"]:
                    on.setdefault(name, []).append(hold)
    return {name: _held(found) for name, found in on.items()}


def _held(holds: Sequence[Mapping[str, Any]]) -> Held:
    untils = [parse_until(h["until"]) for h in holds if h.get("until")]
    why = "; ".join(
        f"{h['name']}{' (runtime)' if h['origin'] == 'runtime' else ''} "
        f"({released(h['releases_when'])})"
        for h in holds
    )
    return Held(f"held by {why}", min(untils) if untils else None)


def released(when: str) -> str:
    """ "released ..." before what releases a hold ("at T", "when J succeeds", "removed
    from F", "runner release J H"), as a sentence."""
    if when.startswith("removed"):
        return f"released when {when}"
    if when.startswith("runner "):
        return f"released by {when}"
    return f"released {when}"


def run_held(
    store: Store,
    *,
    job: JobView,
    holds: Iterable[Mapping[str, Any]],
    runtime: Collection[str],
    selected: Sequence[str] | None,
    now: datetime,
) -> tuple[str | None, datetime | None]:
    """Why a run of `job` waits, whole, for a hold ("held by ..."), and when to look
    again; (None, None) when it may start. A run waits whole only when every task it
    would start first is held (a freeze, a hold on the job): otherwise it starts, its
    other tasks run, and a held task waits in it as `held` (SPEC 1.3)."""
    held = held_tasks(store, job=job, holds=holds, runtime=runtime, selected=selected, now=now)
    if not held:
        return None, None
    first = TaskGraph(job.tasks, frozenset(selected) if selected else None).ready()
    if not first or any(name not in held for name in first):
        return None, None
    reasons = dict.fromkeys(held[name].reason for name in first)
    untils = [u for name in first if (u := held[name].until) is not None]
    what = " and ".join(reasons).removeprefix("held by ")
    return f"held by {what} on {', '.join(first)}", min(untils) if untils else None


def _hold(
    store: Store, spec: Mapping[str, Any], *, job: str, origin: str, where: str, now: datetime
) -> dict[str, Any]:
    released = released_by(spec, now=now, dependency_met=lambda d: dependency_met(store, d))
    return {
        "name": spec["name"],
        "job": job,
        "tasks": spec.get("tasks"),
        "until": spec.get("until"),
        "depends_on": spec.get("dependsOn"),
        "reason": spec.get("reason"),
        "origin": origin,
        "selector": (spec.get("selector") or {}).get("labels"),  # a hold by label
        "active": not released,
        "releases_when": "; ".join(released) if released else _releases(spec, origin, job, where),
    }


def _releases(spec: Mapping[str, Any], origin: str, job: str, where: str) -> str:
    ways = []
    if spec.get("until"):
        ways.append(f"at {spec['until']}")
    if spec.get("dependsOn"):
        ways.append(f"when {dependency(spec['dependsOn'])} succeeds")
    if origin == "runtime" and spec.get("selector"):
        ways.append(f"runner release --name {spec['name']}")
    elif origin == "runtime":
        ways.append(f"runner release {job} {spec['name']}")
    else:
        ways.append(f"removed from {where}")
    return ", or ".join(ways)
