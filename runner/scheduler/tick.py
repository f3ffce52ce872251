"""The scheduler's tick (STYLE: apart from its loop): at a given instant, what each auto
job's schedule makes due, written to the store.

Everything is rebuilt from the store (SPEC 9): each job's cursor (the last tick handled),
its active runs, and the runs themselves, which are unique on (job, due time). A crash
between creating a run and moving the cursor only means the next tick decides the same
tick again, and finds its run already there.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from runner.plan import ActiveRun
from runner.scheduler.decide import decide, ticks
from runner.scheduler.overlap import cancel_reason, decide_overlap, policy_of
from runner.store import Cursor, Store, TickInputs


@dataclass(frozen=True, slots=True)
class Created:
    run_id: int
    job: str
    due: datetime
    trigger: str
    revision: int


@dataclass(slots=True)
class TickReport:
    created: list[Created] = field(default_factory=list)
    cancelled: list[int] = field(default_factory=list)
    missed: dict[str, dict[str, int]] = field(default_factory=dict)  # job -> reason -> n
    events: list[str] = field(default_factory=list)
    next_due: datetime | None = None  # when the next tick of any job falls
    next_by_job: dict[str, datetime | None] = field(default_factory=dict)
    specs: dict[tuple[str, int], Any] = field(default_factory=dict)  # of the runs created


def schedule_digest(schedule: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(schedule, sort_keys=True).encode()).hexdigest()


def tick(
    store: Store,
    *,
    now: datetime,
    up_since: datetime,
    only: Collection[str] | None = None,
    inputs: TickInputs | None = None,
    made_at: datetime | None = None,
) -> TickReport:
    """Create the runs that are due at `now` for every auto job (or those in `only`:
    the daemon knows which are due), count the ticks that make none, and say when the
    next tick falls. `inputs`: what `store.tick_inputs` returned for (at least) these
    jobs, read just before by a caller that knows nothing changed since. `made_at`: the
    time the runs are created, when that is before `now` (made ahead of their tick)."""
    report = TickReport()
    if inputs is None:
        inputs = store.tick_inputs(list(only) if only is not None else None)
    found, cursors, running = inputs
    if only is not None:
        wanted = set(only)
        found = [(r, spec) for r, spec in found if r.name in wanted]
    jobs = [r for r, _ in found if not r.deleting]
    specs = {r.name: spec for r, spec in found}
    active: dict[str, list[ActiveRun]] = defaultdict(list)
    for run in running:
        active[run.job].append(run)
    # Written together once every job is decided: the runs, then the cursors.
    applied_times: dict[str, datetime] | None = None

    def applied(job: str) -> datetime | None:
        """When a job was applied; read for all of the tick's jobs at the first need
        (a first tick of 10,000 new jobs: one query, not 10,000)."""
        nonlocal applied_times
        if applied_times is None:
            applied_times = store.applied_at([r.name for r in jobs])
        return applied_times.get(job)

    creations: list[dict[str, Any]] = []
    dropped: set[int] = set()  # creations a later tick replaced (cancel-running)
    events: list[dict[str, Any]] = []  # ticks missed, by job and reason
    moves: dict[str, Cursor] = {}
    for resource in jobs:
        spec = specs[resource.name]
        schedule = spec.get("schedule") or {}
        if schedule.get("mode") != "auto":
            continue
        stored = cursors.get(resource.name)
        cursor = _cursor(applied, resource.name, spec, stored, now)
        decision = decide(schedule, cursor=cursor.cursor, up_since=up_since, now=now)
        # The cursor is written only when a tick passed (not on every call), and after
        # the tick's runs exist, so that a crash in between decides the tick again.
        moved = cursor._replace(cursor=decision.cursor or cursor.cursor)
        if spec.get("disabled") or not schedule.get("enabled", True) or cursor.paused:
            if moved != stored:  # nothing runs, nothing piles up: re-enabling resumes then
                moves[resource.name] = moved
            report.next_by_job[resource.name] = next(ticks(schedule, after=now), None)
            continue
        missed = dict(decision.missed)
        for due in decision.runs:
            if due.trigger == "schedule":
                outcome = decide_overlap(policy_of(schedule), active[resource.name])
                for run_id in (r.id for r in outcome.cancel):
                    if run_id < 0:  # this tick's own earlier run, not written yet: dropped
                        dropped.add(-run_id - 1)
                        missed["overlap"] = missed.get("overlap", 0) + 1
                        active[resource.name] = [r for r in active[resource.name] if r.id != run_id]
                        continue
                    reason = cancel_reason(f"the tick at {due.due:%Y-%m-%d %H:%M:%S}Z")
                    store.request_cancel(run_id, now=now, reason=reason)
                    report.cancelled.append(run_id)
                if not outcome.create:
                    missed["overlap"] = missed.get("overlap", 0) + 1
                    continue
            report.specs[(resource.name, resource.revision)] = spec
            creations.append(
                {
                    "job": resource.name,
                    "revision": resource.revision,
                    "trigger": due.trigger,
                    "due": due.due,
                    "now": made_at or now,
                    "tasks": [t["name"] for t in spec.get("tasks") or ()],
                }
            )
            active[resource.name].append(  # its id is known once written: until then,
                ActiveRun(  # a placeholder that says which creation it is
                    id=-len(creations),
                    job=resource.name,
                    revision=resource.revision,
                    state="scheduled",
                )
            )
        _record_missed(events, report, resource.name, missed, decision.summary, now)
        if moved != stored:
            moves[resource.name] = moved
        following = next(ticks(schedule, after=max(now, decision.cursor or now)), None)
        report.next_by_job[resource.name] = following
        if following is not None and (report.next_due is None or following < report.next_due):
            report.next_due = following
    creations = [c for i, c in enumerate(creations) if i not in dropped]
    # One transaction: the runs exist as soon as the cursors have moved past them.
    made_ids = store.create_runs(creations, moves, events, stored=cursors.keys())
    for made, run_id in zip(creations, made_ids, strict=True):
        report.created.append(
            Created(run_id, made["job"], made["due"], made["trigger"], made["revision"])
        )
    return report


def _cursor(
    applied: Callable[[str], datetime | None],
    job: str,
    spec: Mapping[str, Any],
    stored: Cursor | None,
    now: datetime,
) -> Cursor:
    """The job's cursor; a new job or a changed schedule starts when it was applied
    (ticks before a schedule change are never caught up), with its pause armed again
    when the file says `status: paused` (SPEC 2.2)."""
    digest = schedule_digest(spec.get("schedule") or {})
    if stored is not None and stored.schedule_digest == digest:
        # A clock stepped back: go on from now (the ticks that run again find their
        # runs there, unique on job and due time), rather than wait for the old time.
        return stored if stored.cursor <= now else stored._replace(cursor=now)
    start = applied(job) or now
    return Cursor(
        cursor=min(start, now), schedule_digest=digest, paused=spec.get("status") == "paused"
    )


def _record_missed(
    events: list[dict[str, Any]],
    report: TickReport,
    job: str,
    missed: Mapping[str, int],
    summary: str | None,
    now: datetime,
) -> None:
    for reason, count in missed.items():
        if count:
            report.missed.setdefault(job, {})[reason] = count
            message = summary if reason != "overlap" else f"{count} tick(s) skipped: overlap"
            events.append(
                {
                    "kind": "missed",
                    "time": now,
                    "job": job,
                    "message": message or f"{count} tick(s) missed ({reason})",
                    "data": {"reason": reason, "count": count},
                }
            )
    if summary:
        report.events.append(f"{job}: {summary}")
