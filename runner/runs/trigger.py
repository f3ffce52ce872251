"""A manual trigger (`runner run`, SPEC 3.1): the checks that can refuse it, the overlap
policy (SPEC 2.3: it holds for manual triggers too, unless overridden), and the run
created for it, ready for an executor."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from runner.config.secrets import job_secrets
from runner.domain import RunState
from runner.domain.jobs import JobView, job_view
from runner.domain.runs import ActiveRun
from runner.errors import NotFound, RunnerError
from runner.executors.order import RunOrder, order_from_view
from runner.reconciler.planning import relative_source
from runner.scheduler.overlap import (
    POLICIES,
    QUEUE_FULL,
    Cancel,
    Overlap,
    cancel_reason,
    decide_overlap,
    policy_of,
)
from runner.spec.findings import did_you_mean
from runner.store import Store, StoredResource
from runner.system.procs import ProcessId

OVERLAPS = POLICIES  # what `--overlap` accepts


class Refused(RunnerError):
    """An action refused by the state of a job or run (SPEC 3.1): one line, exit 1. Each
    refusal passes its own `code` (`job-disabled`, `run-ended`); the API answers 409."""

    code = "refused"


@dataclass(frozen=True, slots=True)
class Triggered:
    """A run created for a trigger. Whoever hands it on (executes it here, or queues it to
    a daemon) first asks each run in `cancel` to cancel, with its reason."""

    run_id: int
    order: RunOrder
    waits_for: tuple[ActiveRun, ...]  # active runs this one queues behind or cancels
    policy: str
    cancel: tuple[Cancel, ...] = ()  # cancel-running: what to cancel first, and why


def applied_job(store: Store, name: str) -> tuple[StoredResource, dict[str, Any]]:
    """The applied job `name` and its spec, or an error naming the close ones."""
    here = store.resources("Job", names=[name])  # not all of them: a trigger is frequent
    found = here[0] if here else None
    if found is None:
        jobs = {r.name: r for r in store.resources("Job")}
        raise NotFound(
            f'unknown job "{name}"{did_you_mean(name, jobs)}: `runner jobs` lists the '
            "applied jobs (a job in a file exists once `runner apply` has run)"
        )
    spec = store.current_specs([found]).get(("Job", name)) or {}
    return found, spec


def trigger(
    store: Store,
    *,
    job: str,
    now: datetime,
    tasks: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    overlap: str | None = None,
    trigger: str = "manual",
    owner: ProcessId | None = None,
    reason: str | None = None,
    audit: Mapping[str, Any] | None = None,
) -> Triggered:
    """Check a trigger and create its run. `owner`: the process that will run it;
    `audit`: its audit entry, written with the run (`Store.create_run`)."""
    resource, spec = applied_job(store, job)
    view = job_view(spec)
    _check_job(job, resource, view)
    _check_tasks(job, view, tasks)
    policy = policy_of(view.schedule, overlap)
    decided: list[Overlap[ActiveRun]] = []

    def guard(active: list[ActiveRun]) -> None:  # in the run's transaction
        decided.append(decide_overlap(policy, active))
        _refuse(job, decided[0])

    run_id = store.create_run(
        job=job,
        revision=resource.revision,
        trigger=trigger,
        due=now,
        now=now,
        tasks=list(view.task_names),
        selected=list(tasks) or None,
        env=dict(env or {}) or None,
        owner=owner,
        guard=guard,
        overlap=overlap,
        reason=reason,
        audit=audit,
    )
    if trigger in ("manual", "api") and spec.get("status") == "paused":
        store.disarm_pause(job)  # the first run by hand starts a paused schedule (SPEC 2.2)
    order = order_from_view(
        view,
        run_id=run_id,
        revision=resource.revision,
        trigger=trigger,
        due=now,
        source_file=resource.source_file,
        selected=tasks,
        run_env=env,
        secrets=job_secrets(view, resource.source_file),
    )
    return _triggered(run_id, order, decided[0])


def _triggered(run_id: int, order: RunOrder, outcome: Overlap[ActiveRun]) -> Triggered:
    """The run created; under cancel-running, the active runs it cancels, each with a
    reason that names this run."""
    reason = cancel_reason(f"run {run_id}")
    return Triggered(
        run_id=run_id,
        order=order,
        waits_for=outcome.waits_for,
        policy=outcome.policy,
        cancel=tuple(Cancel(r.id, reason) for r in outcome.cancel),
    )


def _check_job(job: str, resource: StoredResource, view: JobView) -> None:
    """A job being deleted, or disabled, takes no runs."""
    if resource.deleting:
        raise Refused(
            f"job {job} is being deleted (gone from the configuration): no new runs",
            code="job-deleting",
        )
    if view.disabled:
        raise Refused(
            f"job {job} is disabled (disabled: true, {relative_source(resource.source)}): "
            "it takes no runs "
            "of any kind until the file says otherwise",
            code="job-disabled",
        )


def _check_tasks(job: str, view: JobView, wanted: Sequence[str]) -> None:
    tasks = {t.name: t for t in view.tasks}
    for name in wanted:
        if name not in tasks:
            raise NotFound(
                f'job {job} has no task "{name}"{did_you_mean(name, tasks)}; '
                f"its tasks: {', '.join(tasks)}"
            )
        if not tasks[name].active:
            raise Refused(
                f"task {name} of job {job} is inactive (active: false): make it active "
                "in the file to run it",
                code="task-inactive",
            )


def _refuse(job: str, outcome: Overlap[ActiveRun]) -> None:
    """A manual trigger that the overlap policy drops is refused, saying by what."""
    if outcome.create:
        return
    if outcome.code == QUEUE_FULL:
        raise Refused(
            f"job {job} already has run {outcome.dropped_by[0].id} queued (overlap: queue "
            "keeps one waiting): this trigger is dropped; use --overlap allow to run anyway",
            code=outcome.code,
        )
    active = outcome.dropped_by
    ids = ", ".join(str(r.id) for r in active)
    states = " and ".join(sorted({r.state for r in active}))
    # A queued run (the one run of `status: start`, queued by an apply) starts only
    # when a daemon runs: waiting for it alone does nothing.
    running = any(r.state == RunState.RUNNING for r in active)
    wait = "wait for it" if running else "wait for a daemon to run it"
    raise Refused(
        f"job {job} has run {ids} {states}; its overlap policy (skip) drops this trigger: "
        f"{wait}, cancel it (runner cancel {active[0].id}), or use --overlap allow",
        code=outcome.code,
    )
