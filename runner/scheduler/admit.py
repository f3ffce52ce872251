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

from runner.plan import ActiveRun
from runner.scheduler.decide import duration_seconds, jitter
from runner.scheduler.jobs import Job
from runner.store import QueuedRun

NOT_SUCCESS = ("failed", "cancelled", "discarded", "stale")


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


def admit(
    queued: Sequence[QueuedRun],
    *,
    jobs: Mapping[str, Job],
    active: Sequence[ActiveRun],
    preceding: Mapping[int, str],
    held: HoldCheck,
    free: int,
    now: datetime,
) -> Admission:
    """`preceding`: the states of the runs follow-ups wait on. `held(job, run)`: what
    holds the run's tasks (None: nothing) and when that hold's `until` passes."""
    out = Admission()
    running = Counter(r.job for r in active if r.state == "running")
    discarded: set[int] = set()
    catching_up: set[str] = set()  # jobs with an older catch-up run not started yet
    for run in queued:
        job = jobs.get(run.job)
        if job is None or job.deleting:
            out.discard.append((run, f"job {run.job} was deleted before the run started"))
            discarded.add(run.id)
            continue
        if job.spec.get("disabled"):
            out.discard.append((run, f"job {run.job} is disabled (disabled: true)"))
            discarded.add(run.id)
            continue
        deadline = duration_seconds(job.schedule.get("startingDeadline"))
        if deadline is not None:
            limit = run.due + timedelta(seconds=deadline)
            if now > limit:
                out.discard.append(
                    (
                        run,
                        f"not started within startingDeadline {job.schedule['startingDeadline']} "
                        f"of its due time {run.due:%Y-%m-%d %H:%M:%S}Z",
                    )
                )
                discarded.add(run.id)
                continue
            out._wake(limit)
        if run.after_run is not None:
            state = "discarded" if run.after_run in discarded else preceding.get(run.after_run)
            if state is None or state in NOT_SUCCESS:
                what = state or "gone"
                out.discard.append((run, f"preceding run {run.after_run} {what}"))
                discarded.add(run.id)
                continue
            if state != "success":
                out.waiting[run.id] = f"waiting for preceding run {run.after_run}"
                continue
        if run.trigger == "catchup" and run.job in catching_up:
            out.waiting[run.id] = "waiting for the older catch-up runs (oldest first)"
            continue
        if run.trigger == "catchup":
            catching_up.add(run.job)  # until it starts below, the younger ones wait
        if run.trigger in ("schedule", "catchup"):
            at = run.due + timedelta(
                seconds=jitter(run.job, run.due, duration_seconds(job.schedule.get("jitter")) or 0)
            )
            if at > now:
                out._wake(at)
                out.waiting[run.id] = f"jitter: starts at {at:%H:%M:%S.%f}Z"
                continue
        policy = run.overlap or job.schedule.get("overlap") or "skip"
        if running[run.job] and (policy != "allow" or run.trigger == "catchup"):
            out.waiting[run.id] = "queued behind the job's active run"
            continue
        hold, until = held(job, run)
        if hold is not None:
            out.waiting[run.id] = hold
            if until is not None:
                out._wake(until)
            continue
        if free <= 0:
            out.waiting[run.id] = "waiting for a free slot (--max-parallel)"
            continue
        free -= 1
        running[run.job] += 1
        out.start.append(run)
    return out
