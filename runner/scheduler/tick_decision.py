"""What a tick decides at a given instant, as a pure function of what it read (no I/O):
for each auto job, the runs its schedule makes due (after the overlap rule), the active
runs those cancel, the ticks that made no run (by reason), where its cursor moves, and
when its next tick falls. `runner.scheduler.tick` reads the inputs and writes the
decision to the store.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from runner.domain import RunState
from runner.domain.jobs import JobView, JobViews
from runner.domain.runs import ActiveRun
from runner.scheduler.decide import Decision, decide, ticks
from runner.scheduler.overlap import MISSED, Cancel, cancel_reason, decide_overlap, policy_of
from runner.store import Cursor, StoredResource


@dataclass(frozen=True, slots=True, kw_only=True)
class TickFacts:
    """What a tick decides from, as read from the store just before."""

    # the jobs to decide, with their specs (None: `views` keeps that revision's view)
    jobs: Sequence[tuple[StoredResource, Mapping[str, Any] | None]]
    cursors: Mapping[str, Cursor]  # as stored
    active: Sequence[ActiveRun]  # the runs scheduled or running
    # When the jobs with no cursor for their schedule were applied (None: unknown); a
    # job missing here that needs it is named in the decision's `unstarted`.
    applied: Mapping[str, datetime | None] = field(default_factory=dict)
    up_since: datetime  # ticks after it were live; the ones before it are caught up
    views: JobViews = field(default_factory=JobViews)  # the jobs' views, kept by the caller
    # Whether a hold keeps a job's runs from starting at all (a freeze, a hold on the
    # whole job): its missed ticks are then not caught up (SPEC 2.3). Asked only of a
    # job with ticks to catch up.
    held: Callable[[JobView], bool] = field(default=lambda job: False)


@dataclass(frozen=True, slots=True)
class NewRun:
    """A run to create, for the tick of `job` due at `due`."""

    job: str
    revision: int
    due: datetime
    trigger: str  # schedule | catchup
    tasks: tuple[str, ...]

    @property
    def state(self) -> str:
        return RunState.SCHEDULED  # what it is to the overlap rule, once created


@dataclass(frozen=True, slots=True)
class Missed:
    """Ticks of a job that made no run, for one reason, and the event that says so."""

    job: str
    reason: str  # overlap | deadline | catchup
    count: int
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TickDecision:
    create: tuple[NewRun, ...] = ()
    cancel: tuple[Cancel, ...] = ()  # active runs a live tick cancels (cancel-running)
    missed: tuple[Missed, ...] = ()
    summaries: tuple[str, ...] = ()  # "job: 12 ticks missed between ... and ..."
    cursors: Mapping[str, Cursor] = field(default_factory=dict)  # only those that move
    next_by_job: Mapping[str, datetime | None] = field(default_factory=dict)
    next_due: datetime | None = None  # the earliest next tick of a job that runs
    # Jobs with no cursor for their schedule (new, or the schedule changed) whose apply
    # time the facts lack: their ticks count from it. Nothing else is decided then: decide
    # again with their `applied` (rarely needed, so not read on every tick).
    unstarted: tuple[str, ...] = ()


def decide_tick(facts: TickFacts, now: datetime) -> TickDecision:
    """Every auto job's decision at `now`, from `facts` alone."""
    jobs = [(r, facts.views.of(r.name, r.revision, spec)) for r, spec in facts.jobs]
    jobs = [(r, view) for r, view in jobs if not r.deleting and view.schedule.auto]
    cursors: dict[str, Cursor] = {}
    unstarted: list[str] = []
    for resource, view in jobs:
        cursor = _cursor(resource.name, view, facts, now)
        if cursor is None:
            unstarted.append(resource.name)
        else:
            cursors[resource.name] = cursor
    if unstarted:
        return TickDecision(unstarted=tuple(unstarted))
    active: dict[str, list[ActiveRun]] = defaultdict(list)
    for run in facts.active:
        active[run.job].append(run)
    out = _Decisions()
    for resource, view in jobs:
        cursor = cursors[resource.name]
        out.job(resource, view, cursor, facts=facts, active=active[resource.name], now=now)
    return out.done()


def _cursor(name: str, job: JobView, facts: TickFacts, now: datetime) -> Cursor | None:
    """The job's cursor; a new job or a changed schedule starts when it was applied
    (ticks before a schedule change are never caught up), with its pause armed again
    when the file says `status: paused` (SPEC 2.2). None: that time is not in `facts`."""
    digest = job.schedule.digest
    kept = facts.cursors.get(name)
    if kept is not None and kept.schedule_digest == digest:
        # A clock stepped back: go on from now (the ticks that run again find their
        # runs there, unique on job and due time), rather than wait for the old time.
        return kept if kept.cursor <= now else kept._replace(cursor=now)
    if name not in facts.applied:
        return None
    return Cursor(
        cursor=min(facts.applied[name] or now, now),
        schedule_digest=digest,
        paused=job.status == "paused",
    )


def _held_through(decision: Decision) -> Decision:
    """The decision for a job held while its ticks passed: its catch-up runs are not
    made (they would wait for the release, one more on every restart), and count as
    missed because `held`."""
    caught = [d.due for d in decision.runs if d.trigger == "catchup"]
    first, last = caught[0], caught[-1]
    if decision.missed_between is not None:
        first, last = min(first, decision.missed_between[0]), max(last, decision.missed_between[1])
    return replace(
        decision,
        runs=tuple(d for d in decision.runs if d.trigger != "catchup"),
        missed={**decision.missed, "held": len(caught)},
        missed_between=(first, last),
    )


def _off(job: JobView, cursor: Cursor) -> bool:
    """Nothing runs, nothing piles up: re-enabling resumes from then (SPEC 2.3)."""
    return job.disabled or not job.schedule.enabled or cursor.paused


@dataclass(slots=True)
class _Decisions:
    """The decision being built, one job after the other."""

    create: list[NewRun] = field(default_factory=list)
    cancel: dict[int, Cancel] = field(default_factory=dict)  # the first reason per run
    missed: list[Missed] = field(default_factory=list)
    summaries: list[str] = field(default_factory=list)
    cursors: dict[str, Cursor] = field(default_factory=dict)
    next_by_job: dict[str, datetime | None] = field(default_factory=dict)
    next_due: datetime | None = None

    def job(
        self,
        resource: StoredResource,
        job: JobView,
        cursor: Cursor,
        *,
        facts: TickFacts,
        active: list[ActiveRun],
        now: datetime,
    ) -> None:
        name, schedule = resource.name, job.schedule
        stored = facts.cursors.get(name)
        decision = decide(schedule, cursor=cursor.cursor, up_since=facts.up_since, now=now)
        if any(d.trigger == "catchup" for d in decision.runs) and facts.held(job):
            decision = _held_through(decision)
        # The cursor is written only when a tick passed (not on every call), and after
        # the tick's runs exist, so that a crash in between decides the tick again.
        moved = cursor._replace(cursor=decision.cursor or cursor.cursor)
        if moved != stored:
            self.cursors[name] = moved
        if _off(job, cursor):
            self.next_by_job[name] = next(ticks(schedule, after=now), None)
            return
        if decision.runs:  # most calls of a job that is due make one run
            tasks = job.task_names
            made = [NewRun(name, resource.revision, d.due, d.trigger, tasks) for d in decision.runs]
            dropped = self._overlaps(made, policy_of(schedule), active)
            self._missed(name, decision, dropped)
        elif decision.missed:
            self._missed(name, decision, 0)
        following = next(ticks(schedule, after=max(now, decision.cursor or now)), None)
        self.next_by_job[name] = following
        if following is not None and (self.next_due is None or following < self.next_due):
            self.next_due = following

    def _overlaps(self, made: list[NewRun], policy: str, active: list[ActiveRun]) -> int:
        """Create `made` in order, each live tick's run under the overlap rule against the
        job's active runs and the runs created before it; the live ticks it dropped."""
        pending: list[ActiveRun | NewRun] = list(active)  # and then the runs created
        dropped = 0
        for run in made:
            if run.trigger == "schedule":  # a live tick; catch-up runs queue, whatever
                outcome = decide_overlap(policy, pending)
                for other in outcome.cancel:
                    if isinstance(other, NewRun):  # not created yet: it never will be
                        pending.remove(other)
                        dropped += 1
                    else:
                        reason = cancel_reason(f"the tick at {run.due:%Y-%m-%d %H:%M:%S}Z")
                        self.cancel.setdefault(other.id, Cancel(other.id, reason))
                if not outcome.create:
                    dropped += 1
                    continue
            pending.append(run)
        self.create += (r for r in pending if isinstance(r, NewRun))
        return dropped

    def _missed(self, job: str, decision: Decision, overlap: int) -> None:
        counts = {**decision.missed, MISSED: decision.missed.get(MISSED, 0) + overlap}
        for reason, count in counts.items():
            if count:
                message = (
                    f"{count} tick(s) skipped: overlap"
                    if reason == MISSED
                    else decision.summary or f"{count} tick(s) missed ({reason})"
                )
                self.missed.append(Missed(job, reason, count, message))
        if decision.summary:
            self.summaries.append(f"{job}: {decision.summary}")

    def done(self) -> TickDecision:
        return TickDecision(
            create=tuple(self.create),
            cancel=tuple(self.cancel.values()),
            missed=tuple(self.missed),
            summaries=tuple(self.summaries),
            cursors=self.cursors,
            next_by_job=self.next_by_job,
            next_due=self.next_due,
        )
