"""What follows from a run starting or ending, or from an apply (SPEC 2.2, 2.3, 3):
follow-up runs, the runtime hold of `holdOnFailure`, the one run of a new manual job
with `status: start`, and the retry of a stale run whose tasks had retries left.

Each is a function of the store and the event, so that whoever notices the event (the
daemon, a command that finds a run stale) does the same thing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from runner.domain.jobs import JobView, job_view
from runner.domain.runs import ActiveRun
from runner.domain.states import RunState, TaskState
from runner.errors import RunnerError
from runner.plan import Action, Plan
from runner.runs.trigger import trigger
from runner.scheduler.overlap import MISSED, cancel_reason, decide_overlap, policy_of
from runner.store import RunRecord, Store, StoreError

ON_FAILURE_HOLD = "on-failure"
FAILED = (RunState.FAILED, RunState.STALE)


def create_follow_ups(
    store: Store, *, run_id: int, job: str, followers: Iterable[str], now: datetime
) -> list[tuple[int | None, str, str]]:
    """A run of `job` started: a scheduled run of each follower, waiting on it. Returns
    (run id or None, follower, what happened) for the log. A follower that is disabled,
    being deleted, or whose overlap policy drops the run (skip) gets none; under
    `cancel-running` its active run is asked to cancel (its owner carries it out)."""
    out: list[tuple[int | None, str, str]] = []
    names = list(followers)
    if not names:
        return out
    found = {r.name: r for r in store.resources("Job", names=names)}
    specs = store.specs(("Job", n) for n in found)
    active: dict[str, list[ActiveRun]] = {}
    for run in store.active_runs():
        active.setdefault(run.job, []).append(run)
    for name in names:
        resource, view = found.get(name), job_view(specs.get(("Job", name)) or {})
        if resource is None or resource.deleting or view.disabled:
            out.append((None, name, "no follow-up: the job is disabled or being deleted"))
            continue
        policy = policy_of(view.schedule)
        outcome = decide_overlap(policy, active.get(name, []))
        for other in outcome.cancel:  # cancel-running: the follower's active run goes
            reason = cancel_reason(f"a follow-up of run {run_id} of {job}")
            store.request_cancel(other.id, now=now, reason=reason)
        if not outcome.create:
            store.record_event(
                kind="missed",
                at=now,
                job=name,
                run_id=run_id,
                message=f"follow-up of run {run_id} of {job} dropped: overlap ({policy})",
                data={"reason": MISSED, "count": 1},
            )
            out.append((None, name, f"no follow-up: a run is active (overlap: {policy})"))
            continue
        new = store.create_run(
            job=name,
            revision=resource.revision,
            trigger="follow-up",
            due=now,
            now=now,
            tasks=list(view.task_names),
            after_run=run_id,
            reason=f"follows run {run_id} of {job}",
        )
        out.append((new, name, f"follows run {run_id} of {job}"))
    return out


def hold_on_failure(store: Store, *, job: JobView, now: datetime) -> str | None:
    """After `holdOnFailure` failed runs in a row, a runtime hold on the job; the hold's
    reason, or None when none was placed."""
    limit, name = job.hold_on_failure, job.name
    if limit is None:
        return None
    recent = store.recent_outcomes(name, limit)
    if len(recent) < limit or any(state not in FAILED for _, state in recent):
        return None
    if any(row["name"] == ON_FAILURE_HOLD for row in store.runtime_hold_rows(name)):
        return None
    ids = ", ".join(str(run_id) for run_id, _ in reversed(recent))
    reason = (
        f"{limit} failed run{'s' if limit != 1 else ''} in a row (run {ids}): "
        f"holdOnFailure stops it piling up failures; look, then `runner release "
        f"{name} {ON_FAILURE_HOLD}`"
    )
    store.add_runtime_hold(
        job=name, name=ON_FAILURE_HOLD, now=now, reason=reason, created_by="holdOnFailure"
    )
    return reason


def start_new_manual_jobs(store: Store, plan: Plan, *, now: datetime) -> list[tuple[str, int]]:
    """The one run of each manual job with `status: start` that `plan` created (SPEC
    2.2): see `start_created_manual_jobs`."""
    added = [
        c.name
        for c in plan.changes
        if c.action is Action.ADD and c.kind == "Job" and _runs_once(c.after)
    ]
    return start_created_manual_jobs(store, added, now=now)


def jobs_added_by(saved_plan: Mapping[str, Any]) -> list[str]:
    """The manual jobs with `status: start` that a saved plan (`runner plan --out`)
    adds: those its apply creates and runs once."""
    return [
        str(c.get("name"))
        for c in saved_plan.get("changes") or ()
        if isinstance(c, dict)
        and c.get("action") == Action.ADD
        and c.get("kind") == "Job"
        and _runs_once(c.get("after"))
    ]


def _runs_once(spec: Any) -> bool:
    """Whether a planned job's spec is a manual job whose file says `status: start`:
    the plan already holds it, so an apply of 10,000 new jobs reads back from the
    store only these (`start_created_manual_jobs` checks them there again)."""
    if not isinstance(spec, Mapping):
        return False
    schedule = spec.get("schedule")
    manual = isinstance(schedule, Mapping) and schedule.get("mode") == "manual"
    return manual and spec.get("status") == "start"


def start_created_manual_jobs(
    store: Store, created: Iterable[str], *, now: datetime
) -> list[tuple[str, int]]:
    """A manual job whose file says `status: start` runs once when `apply` creates it
    (SPEC 2.2); one without `status` waits for a trigger. Whoever applied (`runner apply`
    or the daemon's own apply) creates the run, `scheduled`, for the daemon to start: only
    the apply that created the job lists it here, so it is made once. Returns (job, run
    id)."""
    out = []
    for name, spec in sorted(store.specs(("Job", n) for n in created).items()):
        view = job_view(spec)
        if view.schedule.mode != "manual" or view.status != "start":
            continue
        try:
            made = trigger(
                store,
                job=name[1],
                now=now,
                overlap="allow",
                reason="created by apply with status: start (runs once)",
            )
        except StoreError:
            raise
        except RunnerError:
            continue  # disabled: it takes no runs
        out.append((name[1], made.run_id))
    return out


def retry_stale(store: Store, run: RunRecord, *, now: datetime) -> int | None:
    """A stale run is a failed attempt (SPEC 3): when the task it was running had
    retries left, a new run (trigger `retry`) runs the tasks that had not succeeded."""
    spec = store.specs([("Job", run.job)]).get(("Job", run.job))
    view = job_view(spec) if spec is not None else None
    resource = next(iter(store.resources("Job", names=[run.job])), None)
    if view is None or resource is None or resource.deleting or view.disabled:
        return None
    limits = {t.name: t.retries.limit for t in view.tasks}
    # Attempts count across the retries of a run: the earlier runs' and this one's.
    # The task(s) its death cut short: running, or waiting for a retry's backoff.
    cut_short = [
        t
        for t in run.tasks
        if t.state == TaskState.RUNNING or (t.state == TaskState.PENDING and t.started is not None)
    ]
    if not cut_short or any(run.attempt - 1 + t.attempt > limits.get(t.name, 0) for t in cut_short):
        return None
    again = [
        t.name
        for t in run.tasks
        if t.state != TaskState.SUCCESS and (run.selected is None or t.name in run.selected)
    ]
    if not again:
        return None
    return store.create_run(
        job=run.job,
        revision=resource.revision,
        trigger="retry",
        due=now,
        now=now,
        tasks=list(view.task_names),
        selected=again,
        env=run.env,
        attempt=run.attempt + 1,
        reason=f"retry of run {run.id}, which went stale (attempt {run.attempt + 1})",
    )
