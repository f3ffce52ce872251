"""The variables that mark a task's processes as its own (SPEC 3): set in the task's
environment by the executor, inherited by what it starts, and looked for in
/proc/PID/environ when its run is found stale and its leader is gone
(`procs.kill_group_if_marked`). One place, so that the two never disagree.

The run id and task name alone are not enough: another home on the host (a second
daemon, a `runner run` elsewhere) numbers its runs from 1 too, and its task, having
taken a dead task's pid, would carry the same two. The job and the due time make such
a match all but impossible."""

from __future__ import annotations

from datetime import UTC, datetime


def scheduled_for(due: datetime) -> str:
    """RUNNER_SCHEDULED_FOR: the run's due time, UTC, to the second."""
    return due.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def task_marks(*, job: str, run_id: int, task: str, due: datetime) -> dict[str, str]:
    """The variables every process of one run's task carries."""
    return {
        "RUNNER_JOB": job,
        "RUNNER_RUN_ID": str(run_id),
        "RUNNER_TASK": task,
        "RUNNER_SCHEDULED_FOR": scheduled_for(due),
    }
