"""Run and task states (SPEC 3). They are `str` enums, so what the store holds and what
the JSON shows are the same plain words as before: `RunState.RUNNING == "running"`."""

from __future__ import annotations

from enum import StrEnum


class RunState(StrEnum):
    SCHEDULED = "scheduled"
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    CANCELLED = "cancelled"
    DISCARDED = "discarded"
    STALE = "stale"

    @property
    def active(self) -> bool:
        return self in ACTIVE_RUN_STATES

    @property
    def ended(self) -> bool:
        return self in ENDED_RUN_STATES


class TaskState(StrEnum):
    PENDING = "pending"
    HELD = "held"
    WAITING = "waiting"  # a manual task waiting for `runner finish`
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"
    STOPPED = "stopped"  # killed by `runner stop`; waits for finish, retry or cancel


ACTIVE_RUN_STATES = frozenset({RunState.SCHEDULED, RunState.RUNNING})
ENDED_RUN_STATES = frozenset(set(RunState) - ACTIVE_RUN_STATES)
# A task in one of these has ended for good; `stopped` has not (it waits to be finished,
# retried or cancelled).
ENDED_TASK_STATES = frozenset(
    {TaskState.SUCCESS, TaskState.FAILED, TaskState.CANCELLED, TaskState.SKIPPED}
)

# The largest id of a run (or an event) the store holds: a 32-bit integer on PostgreSQL.
# A larger number names no run: the CLI and the API refuse it as a usage error.
MAX_ID = 2**31 - 1
