"""Which scheduled runs start now (SPEC 2.3, 3): each waits for its time (a tick's
jitter), its preceding run (a follow-up), a hold on its tasks, the end of the job's
active run (one at a time unless `overlap: allow`; catch-up runs always one after
another), and a free slot. A run whose preceding run did not succeed, whose job is
disabled, or that has waited past `startingDeadline` is discarded with the reason.

Rebuilt from the store on every pass (SPEC 9): nothing here is remembered between
passes but what the store says.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from runner.domain import RunState
from runner.domain.runs import ActiveRun
from runner.scheduler.decide import jitter
from runner.scheduler.jobs import Job
from runner.scheduler.overlap import must_wait, policy_of
from runner.spec.durations import format_seconds
from runner.store import QueuedRun

FREE_SLOT = "waiting for a free slot (--max-parallel)"
NOT_SUCCESS = frozenset({RunState.FAILED, RunState.CANCELLED, RunState.DISCARDED, RunState.STALE})


@dataclass(slots=True)
class Admission:
    start: list[QueuedRun] = field(default_factory=list)
    discard: list[tuple[QueuedRun, str]] = field(default_factory=list)
    waiting: dict[int, str] = field(default_factory=dict)  # run id -> what it waits for
    wake_at: datetime | None = None  # when a waiting run's situation changes by itself

    def _wake(self, at: datetime) -> None:
        if self.wake_at is None or at < self.wake_at:
            self.wake_at = at


HoldCheck = Callable[[Job, QueuedRun], tuple[str | None, datetime | None]]
# Why a run of a job with `maxParallel` or pools cannot start a first task now (None:
# it can); asked once per run in a pass, in order, so it counts what it let through.
SlotCheck = Callable[[Job, QueuedRun], str | None]


def admit(
    queued: Sequence[QueuedRun],
    *,
    jobs: Mapping[str, Job],
    active: Sequence[ActiveRun],
    preceding: Mapping[int, str],
    held: HoldCheck,
    free: int,
    now: datetime,
    slots: SlotCheck | None = None,
) -> Admission:
    """`preceding`: the states of the runs follow-ups wait on. `held(job, run)`: what
    holds the run's tasks (None: nothing) and when that hold's `until` passes."""
    out = Admission()
    gate = _Gate(preceding=preceding, held=held, free=free, now=now, slots=slots)
    gate.running.update(r.job for r in active if r.state == RunState.RUNNING)
    for run in queued:  # oldest first: what one takes (a slot, a turn), the next lacks
        job = jobs.get(run.job)
        why = gate.discard(run, job, out)
        if why is not None:
            out.discard.append((run, why))
            gate.discarded.add(run.id)
        elif job is not None and (wait := gate.wait(run, job, out)) is not None:
            out.waiting[run.id] = wait
        else:
            gate.free -= 1
            gate.running[run.job] += 1
            out.start.append(run)
    return out


@dataclass(slots=True, kw_only=True)
class _Gate:
    """One pass over the queue: what the runs looked at so far took or left behind."""

    preceding: Mapping[int, str]
    held: HoldCheck
    free: int
    now: datetime
    slots: SlotCheck | None = None
    running: Counter[str] = field(default_factory=Counter)  # runs of each job running
    discarded: set[int] = field(default_factory=set)  # in this pass
    catching_up: set[str] = field(default_factory=set)  # jobs with an older catch-up run

    def discard(self, run: QueuedRun, job: Job | None, out: Admission) -> str | None:
        """Why the run can never start (None: it may)."""
        if job is None or job.deleting:
            return f"job {run.job} was deleted before the run started"
        if job.view.disabled:
            return f"job {run.job} is disabled (disabled: true)"
        deadline = job.schedule.starting_deadline
        if deadline is not None:  # a retried run's counts from its retry
            since = run.retried or run.due
            limit = since + timedelta(seconds=deadline)
            if self.now > limit:
                what = "its retry at" if run.retried else "its due time"
                return (
                    f"not started within startingDeadline {format_seconds(int(deadline))} "
                    f"of {what} {since:%Y-%m-%d %H:%M:%S}Z"
                )
            out._wake(limit)
        state = self._preceding(run)
        if run.after_run is not None and (state is None or state in NOT_SUCCESS):
            return f"preceding run {run.after_run} {state or 'gone'}"
        return None

    def wait(self, run: QueuedRun, job: Job, out: Admission) -> str | None:
        """What the run waits for (None: it starts now)."""
        if run.after_run is not None and self._preceding(run) != RunState.SUCCESS:
            return f"waiting for preceding run {run.after_run}"
        if run.trigger == "catchup":
            if run.job in self.catching_up:
                return "waiting for the older catch-up runs (oldest first)"
            self.catching_up.add(run.job)  # until it starts, the younger ones wait
        if run.trigger in ("schedule", "catchup"):
            limit = job.schedule.jitter
            at = run.due + timedelta(seconds=jitter(run.job, run.due, limit))
            if at > self.now:
                out._wake(at)
                return f"jitter: starts at {at:%H:%M:%S.%f}Z"
        policy = policy_of(job.schedule, run.overlap)
        if must_wait(policy, trigger=run.trigger, running=self.running[run.job]):
            return "queued behind the job's active run"
        hold, until = self.held(job, run)
        if hold is not None:
            if until is not None:
                out._wake(until)
            return hold
        if self.free <= 0:
            return FREE_SLOT
        return self.slots(job, run) if self.slots is not None else None

    def _preceding(self, run: QueuedRun) -> str | None:
        """The state of the run a follow-up waits on (None: gone)."""
        if run.after_run in self.discarded:
            return RunState.DISCARDED
        return self.preceding.get(run.after_run) if run.after_run is not None else None
