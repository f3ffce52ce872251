"""Runs in the JSON shapes of SPEC 6, shared by the CLI and the API, and read back from
them (the CLI's `--server`: a run the API answered, shown as a run read here is)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from runner.domain import ENDED_TASK_STATES
from runner.spec.env import SHOWN
from runner.spec.types import format_timestamp, read_timestamp
from runner.store import AttemptRecord, Owner, RunRecord, TaskRecord


def when(value: datetime | None) -> str | None:
    return format_timestamp(value) if value else None


def at(text: str | None) -> datetime | None:
    """`when`'s text read back."""
    return read_timestamp(text) if text else None


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
        "env": shown_run_env(run.env),
        "owner": (
            {"host": run.owner.host, "pid": run.owner.pid} if run.owner is not None else None
        ),
    }


def shown_run_env(env: Mapping[str, str] | None) -> dict[str, str]:
    """The run's `--env` as it is shown everywhere: the names, each value `(secret)`
    (SPEC 3: values given at run time are never shown)."""
    return {name: SHOWN for name in sorted(env or ())}


def run_from_json(data: Mapping[str, Any]) -> RunRecord:
    """`run_json`'s answer read back. What it leaves out (the environment's values, the
    owner's start time, heartbeats) is not shown by the CLI, and `run_json` gives the
    same JSON."""
    owner = data.get("owner")
    return RunRecord(
        id=data["id"],
        job=data["job"],
        revision=data["revision"],
        trigger=data["trigger"],
        state=data["state"],
        reason=data["reason"],
        due=read_timestamp(data["due"]),
        created=read_timestamp(data["created"]),
        started=at(data["started"]),
        ended=at(data["ended"]),
        attempt=data.get("attempt", 1),
        selected=data.get("selected"),
        env=dict(data.get("env") or {}) or None,  # names, each value (secret)
        owner=Owner(owner["host"], owner["pid"], 0.0) if owner else None,
        heartbeat=None,
        cancel_requested=None,
        tasks=tuple(
            task_from_json(t, run_id=data["id"], position=i) for i, t in enumerate(data["tasks"])
        ),
        waiting=data.get("waiting"),
    )


def task_from_json(data: Mapping[str, Any], *, run_id: int, position: int = 0) -> TaskRecord:
    """`task_json`'s answer read back (with its attempts when it has them)."""
    return TaskRecord(
        run_id=run_id,
        name=data["name"],
        position=position,
        state=data["state"],
        attempt=data["attempt"],
        started=at(data["started"]),
        ended=at(data["ended"]),
        exit_code=data["exit_code"],
        reason=data["reason"],
        pid=None,
        pid_started=None,
        attempts=tuple(
            AttemptRecord(
                attempt=a["attempt"],
                started=at(a["started"]),
                ended=at(a["ended"]),
                exit_code=a["exit_code"],
                reason=a["reason"],
                log=a["log"],
            )
            for a in data.get("attempts") or ()
        ),
    )
