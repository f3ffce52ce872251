"""Runs in the JSON shapes of SPEC 6, shared by the CLI and the API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from runner.domain import ENDED_TASK_STATES
from runner.spec.types import format_timestamp
from runner.store import RunRecord, TaskRecord


def when(value: datetime | None) -> str | None:
    return format_timestamp(value) if value else None


def task_json(task: TaskRecord, *, attempts: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": task.name,
        "state": task.state,
        "attempt": task.attempt,
        "started": when(task.started),
        "ended": when(task.ended),
        "exit_code": task.exit_code,
        "reason": task.reason,
    }
    if attempts:
        out["attempts"] = [
            {
                "attempt": a.attempt,
                "started": when(a.started),
                "ended": when(a.ended),
                "exit_code": a.exit_code,
                "reason": a.reason,
                "log": a.log,
            }
            for a in task.attempts
        ]
    return out


def progress(run: RunRecord) -> tuple[int, int]:
    """(done, total): tasks ended, of every task in the run."""
    return sum(t.state in ENDED_TASK_STATES for t in run.tasks), len(run.tasks)


def run_json(run: RunRecord, *, attempts: bool = False) -> dict[str, Any]:
    done, total = progress(run)
    return {
        "id": run.id,
        "job": run.job,
        "revision": run.revision,
        "trigger": run.trigger,
        "state": run.state,
        "reason": run.reason,
        "waiting": run.waiting,
        "due": when(run.due),
        "created": when(run.created),
        "started": when(run.started),
        "ended": when(run.ended),
        "tasks": [task_json(t, attempts=attempts) for t in run.tasks],
        "progress": {"done": done, "total": total},
        "selected": run.selected,
        "owner": (
            {"host": run.owner.host, "pid": run.owner.pid} if run.owner is not None else None
        ),
    }
