"""The scheduler's tick (STYLE: apart from its loop): at a given instant, what each auto
job's schedule makes due, written to the store. It reads, decides (`decide_tick`, pure)
and writes the decision in a few batched statements.

Everything is rebuilt from the store (SPEC 9): each job's cursor (the last tick handled),
its active runs, and the runs themselves, which are unique on (job, due time). A crash
between creating a run and moving the cursor only means the next tick decides the same
tick again, and finds its run already there.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from runner.domain.jobs import JobView, JobViews
from runner.scheduler.tick_decision import TickDecision, TickFacts, decide_tick
from runner.store import Store, StoredResource, TickInputs


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
    found: list[int] = field(default_factory=list)  # ticks whose runs were already there
    cancelled: list[int] = field(default_factory=list)
    missed: dict[str, dict[str, int]] = field(default_factory=dict)  # job -> reason -> n
    events: list[str] = field(default_factory=list)
    next_due: datetime | None = None  # when the next tick of any job falls
    next_by_job: dict[str, datetime | None] = field(default_factory=dict)
    specs: dict[tuple[str, int], Any] = field(default_factory=dict)  # of the runs created


def tick(
    store: Store,
    *,
    now: datetime,
    up_since: datetime,
    only: Collection[str] | None = None,
    inputs: TickInputs | None = None,
    made_at: datetime | None = None,
    views: JobViews | None = None,
    held: Callable[[JobView], bool] | None = None,
) -> TickReport:
    """Create the runs that are due at `now` for every auto job (or those in `only`:
    the daemon knows which are due), count the ticks that make none, and say when the
    next tick falls. `inputs`: what `store.tick_inputs` returned for (at least) these
    jobs, read just before by a caller that knows nothing changed since. `made_at`: the
    time the runs are created, when that is before `now` (made ahead of their tick).
    `views`: the jobs' views kept between ticks (else made for this one). `held`: whether
    a hold keeps a job's runs from starting (its missed ticks are then not caught up)."""
    facts = read_facts(store, up_since=up_since, only=only, inputs=inputs, views=views)
    if held is not None:
        facts = replace(facts, held=held)
    decision = decide_tick(facts, now)
    if decision.unstarted:  # new jobs, changed schedules: one query for them all
        applied = store.applied_at(decision.unstarted)
        facts = replace(facts, applied={name: applied.get(name) for name in decision.unstarted})
        decision = decide_tick(facts, now)
    return write_decision(store, decision, facts=facts, now=now, made_at=made_at)


def read_facts(
    store: Store,
    *,
    up_since: datetime,
    only: Collection[str] | None = None,
    inputs: TickInputs | None = None,
    views: JobViews | None = None,
) -> TickFacts:
    """What the tick decides from: `inputs` (else read now), for the jobs in `only`."""
    if inputs is None:
        names = list(only) if only is not None else None
        inputs = store.tick_inputs(names, with_specs=views is None)
    found, cursors, active = inputs
    if only is not None:
        wanted = set(only)
        found = [(r, spec) for r, spec in found if r.name in wanted]
    views = views or JobViews()
    found = [(r, spec if spec is not None else _unviewed(store, r, views)) for r, spec in found]
    return TickFacts(jobs=found, cursors=cursors, active=active, up_since=up_since, views=views)


def _unviewed(store: Store, job: StoredResource, views: JobViews) -> dict[str, Any] | None:
    """The spec of a revision read without it: None when its view is kept (as it is
    unless the job was applied since the daemon's table last read it)."""
    if views.kept(job.name, job.revision) is not None:
        return None
    return store.revision_spec("Job", job.name, job.revision) or {}


def write_decision(
    store: Store,
    decision: TickDecision,
    *,
    facts: TickFacts,
    now: datetime,
    made_at: datetime | None = None,
) -> TickReport:
    """Write `decision`: the cancels first, then the runs, the cursors and the events of
    the missed ticks in one transaction (the runs exist as soon as the cursors have moved
    past them)."""
    report = TickReport(
        events=list(decision.summaries),
        next_due=decision.next_due,
        next_by_job=dict(decision.next_by_job),
    )
    for cancel in decision.cancel:
        store.request_cancel(cancel.run_id, now=now, reason=cancel.reason)
        report.cancelled.append(cancel.run_id)
    for missed in decision.missed:
        report.missed.setdefault(missed.job, {})[missed.reason] = missed.count
    creations = [
        {
            "job": run.job,
            "revision": run.revision,
            "trigger": run.trigger,
            "due": run.due,
            "now": made_at or now,
            "tasks": list(run.tasks),
        }
        for run in decision.create
    ]
    events = [
        {
            "kind": "missed",
            "time": now,
            "job": m.job,
            "message": m.message,
            "data": {"reason": m.reason, "count": m.count},
        }
        for m in decision.missed
    ]
    made = store.create_runs(creations, decision.cursors, events, stored=facts.cursors.keys())
    specs = {(r.name, r.revision): spec for r, spec in facts.jobs if spec is not None}
    for run, run_id in zip(decision.create, made, strict=True):
        if run_id not in made.new:  # decided again (a clock stepped back): it is there
            report.found.append(run_id)
            continue
        report.created.append(Created(run_id, run.job, run.due, run.trigger, run.revision))
        if (run.job, run.revision) in specs:
            report.specs[(run.job, run.revision)] = specs[(run.job, run.revision)]
    return report
