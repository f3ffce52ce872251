"""What an executor tells the store, and asks of it.

The executor knows nothing of the store (STYLE's layers): it describes each state change
as one of these records and hands a batch to a `Journal`, whose `write` returns only
once the batch is durable. The executor acts (spawns, reports an end) only after that,
so after a crash the store never says less than what happened.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from runner.system.procs import ProcessId


@dataclass(frozen=True, slots=True)
class RunStarted:
    run_id: int
    at: datetime
    owner: ProcessId


@dataclass(frozen=True, slots=True)
class RunEnded:
    run_id: int
    job: str
    state: str
    reason: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class TaskSet:
    """A task changes state without an attempt: skipped, cancelled, waiting."""

    run_id: int
    task: str
    state: str
    reason: str | None


@dataclass(frozen=True, slots=True)
class AttemptStarted:
    run_id: int
    task: str
    attempt: int
    at: datetime
    log: str


@dataclass(frozen=True, slots=True)
class AttemptSpawned:
    run_id: int
    task: str
    attempt: int
    pid: int
    pid_started: float


@dataclass(frozen=True, slots=True)
class AttemptEnded:
    run_id: int
    task: str
    attempt: int
    at: datetime
    exit_code: int | None
    reason: str | None
    state: str  # how the attempt ended: success, failed, cancelled
    task_state: str  # what the task is now: the same, or pending when it will be retried
    retry_in: float | None = None


@dataclass(frozen=True, slots=True)
class Answered:
    """The answer to a task action asked by another process (`Request`)."""

    request_id: int
    at: datetime
    status: str  # ok | refused
    state: str  # the task's state after it
    detail: str | None


@dataclass(frozen=True, slots=True)
class Heartbeat:
    run_ids: tuple[int, ...]
    at: datetime


Change = (
    RunStarted
    | RunEnded
    | TaskSet
    | AttemptStarted
    | AttemptSpawned
    | AttemptEnded
    | Answered
    | Heartbeat
)


@dataclass(frozen=True, slots=True)
class Request:
    """A task action asked by another process (SPEC 3.1): `finish` (with `arg`, the
    reason of a reject), `stop`, or `retry` (of a stopped task)."""

    id: int
    run_id: int
    action: str
    task: str
    arg: str | None
    who: str


class RunsTaken(Exception):
    """A journal write refused: these runs, about to start, are no longer ours to start
    (cancelled, or taken by another runner since they were read). Nothing was written."""

    def __init__(self, run_ids: frozenset[int]) -> None:
        super().__init__(f"runs no longer startable: {sorted(run_ids)}")
        self.run_ids = run_ids


class Journal(Protocol):
    def write(self, changes: Sequence[Change]) -> None:
        """Record the changes in one transaction; durable when this returns. Raises
        `RunsTaken` (writing nothing) when a `RunStarted` finds its run not startable."""

    def cancel_requests(self, run_ids: Sequence[int]) -> dict[int, str]:
        """Which of these runs another process asked to cancel, with the reason."""
        ...

    def task_requests(self, run_ids: Sequence[int]) -> Sequence[Request]:
        """The task actions other processes asked on these runs, not yet answered."""
        ...
