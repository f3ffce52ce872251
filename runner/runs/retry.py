"""A run that goes on (`runner retry`, SPEC 3.1): which of its tasks run again, and the
order an executor gets for it, with the tasks that keep how they ended and every
task's attempts so far (so that numbering goes on: attempt 3 after 2)."""

from __future__ import annotations

from pathlib import Path

from runner.clock import Clock
from runner.config.secrets import job_secrets
from runner.domain import ENDED_TASK_STATES, TaskState
from runner.domain.jobs import job_view
from runner.executors.order import RunOrder, order_from_view
from runner.runs.trigger import Triggered
from runner.store import RunRecord, Store
from runner.store.interfaces import AppliedResources


def again_for(run: RunRecord, *, from_task: str | None, only: str | None) -> list[str]:
    """The tasks of an ended run that run again, in order: `only` just that one; else
    every task that did not succeed, and with `from_task` that task and every task
    after it (those that follow it through `after`) too."""
    if only is not None:
        return [only]
    again = {t.name for t in run.tasks if t.state != TaskState.SUCCESS}
    if from_task is not None:
        again |= {from_task} | _after(run, from_task)
    return [t.name for t in run.tasks if t.name in again]


def _after(run: RunRecord, name: str) -> set[str]:
    """The tasks written below `name` in the run: a task follows the one above it
    unless its `after` says otherwise, and the executor's graph decides what runs
    when; here, every later task runs again, as "from this step on" means."""
    position = next(t.position for t in run.tasks if t.name == name)
    return {t.name for t in run.tasks if t.position > position}


def retry_order(
    store: AppliedResources, run: RunRecord, *, source_file: str | None
) -> RunOrder | None:
    """The order for a retried run, of the revision it was made for; None when that
    revision is no longer kept (pruned)."""
    spec = store.revision_spec("Job", run.job, run.revision)
    if spec is None:
        return None
    view = job_view(spec)
    return order_from_view(
        view,
        run_id=run.id,
        revision=run.revision,
        trigger=run.trigger,
        due=run.due,
        source_file=source_file,
        selected=run.selected,
        run_env=run.env,
        kept={t.name: (t.state, t.reason) for t in run.tasks if t.state in ENDED_TASK_STATES},
        attempts={t.name: t.attempt for t in run.tasks if t.attempt},
        secrets=job_secrets(view, source_file),
    )


def retry_here(store: Store, run: RunRecord, *, home: Path, clock: Clock) -> RunRecord:
    """With no daemon on the home: the retried run goes on in this process, to its
    end, as a foreground `runner run`."""
    from runner.runs.foreground import execute  # the executor only when run here

    source = {r.name: r.source_file for r in store.resources("Job", names=[run.job])}
    order = retry_order(store, run, source_file=source.get(run.job))
    if order is None:
        from runner.errors import NotFound

        raise NotFound(
            f"revision {run.revision} of job {run.job}, which run {run.id} was made for, is "
            "no longer kept: start a new run with `runner run`"
        )
    return execute(
        store,
        Triggered(run_id=run.id, order=order, waits_for=(), policy="allow"),
        home=home,
        clock=clock,
    )
