"""What the layers above ask of the store, by concern: small interfaces (as APScheduler's
data stores) that `Store` implements all of, and that a caller may name for what it
uses, so that it says which part of the store it needs and can be given any object
that does that part (a second backend, a fake in a test).

Each lists what is called from outside the store; the methods' meanings are on their
implementations in the module named. `Store` is checked against every one of them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, Unpack

from runner.plan import ActiveRun, Applied, RuntimeHold
from runner.store.configuration import ResourceWrite, StoredResource
from runner.store.cursors import Cursor
from runner.store.queue import QueueState
from runner.store.run_reads import RunRecord, TaskRecord
from runner.store.run_writes import RunWriter
from runner.store.runs import NewRun, Owner

if TYPE_CHECKING:
    from runner.store.facade import TickInputs


class Locking(Protocol):
    """The write lock of `apply` and a daemon's reconcile (`facade`, `lock`)."""

    @property
    def where(self) -> str: ...

    def lock(
        self, *, timeout: float, command: str | None = None
    ) -> contextlib.AbstractContextManager[None]: ...


class AppliedResources(Protocol):
    """What was applied, read and written by `apply`, read by the rest (`configuration`)."""

    def generation(self) -> int: ...
    def get_meta(self, key: str) -> str | None: ...
    def resources(
        self, kind: str | None = None, *, names: Sequence[str] | None = None
    ) -> list[StoredResource]: ...
    def views(self, names: Iterable[str]) -> dict[str, dict[str, Any]]: ...
    def specs(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]: ...
    def applied(
        self,
        with_specs: Iterable[tuple[str, str]] = (),
        stored: Sequence[StoredResource] | None = None,
    ) -> list[Applied]: ...
    def revision_spec(self, kind: str, name: str, revision: int) -> dict[str, Any] | None: ...
    def write_configuration(
        self,
        *,
        writes: Sequence[ResourceWrite],
        deletes: Sequence[tuple[str, str]],
        now: datetime,
        digest: str,
        expected_generation: int | None = None,
    ) -> int: ...
    def finish_deferred_deletes(self) -> list[str]: ...
    def file_cache(self, root: str) -> str | None: ...
    def save_file_cache(self, root: str, text: str) -> None: ...
    def record_reconcile(
        self,
        *,
        started: datetime,
        ended: datetime,
        origin: str,
        outcome: str,
        digest: str | None,
        summary: dict[str, Any],
        errors: list[str],
    ) -> None: ...
    def reconciles(self, limit: int = ...) -> list[dict[str, Any]]: ...


class RunCreation(Protocol):
    """Runs made, and the active ones (`runs`)."""

    def active_runs(self) -> list[ActiveRun]: ...
    def last_runs(self) -> dict[str, tuple[int, str]]: ...
    def create_run(
        self,
        *,
        guard: Callable[[list[ActiveRun]], None] | None = None,
        **run: Unpack[NewRun],
    ) -> int: ...
    def create_runs(
        self,
        items: Sequence[Mapping[str, Any]],
        cursors: Mapping[str, Cursor] | None = None,
        events: Sequence[Mapping[str, Any]] = (),
        *,
        stored: Collection[str] = (),
    ) -> list[int]: ...


class RunJournal(Protocol):
    """What an executor writes as its runs go on, and cancels (`run_writes`)."""

    def run_writes(self) -> contextlib.AbstractContextManager[RunWriter]: ...
    def claim_run(self, run_id: int, *, owner: Owner, now: datetime) -> bool: ...
    def request_cancel(self, run_id: int, *, now: datetime, reason: str) -> str | None: ...
    def cancel_requests(self, run_ids: Sequence[int]) -> dict[int, str]: ...


class RunHistory(Protocol):
    """Runs read back, stale runs marked, history pruned (`run_reads`)."""

    def run(self, run_id: int) -> RunRecord | None: ...
    def history(
        self,
        *,
        job: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        states: Sequence[str] = (),
        limit: int = 50,
    ) -> list[RunRecord]: ...
    def active_run_records(self, job: str | None = None) -> list[RunRecord]: ...
    def owned_on_host(self, host: str) -> list[RunRecord]: ...
    def task_last_runs(self, job: str) -> dict[str, TaskRecord]: ...
    def runs_beyond_history(
        self, job: str, *, keep_runs: int, keep_days: int, now: datetime
    ) -> list[tuple[int, datetime]]: ...
    def missed_ticks(self, job: str, reasons: Sequence[str]) -> dict[str, int]: ...
    def run_ids(self, job: str) -> list[int]: ...
    def delete_runs(self, run_ids: Sequence[int]) -> None: ...
    def mark_stale(self, run_id: int, *, now: datetime, reason: str) -> bool: ...


class RuntimeHolds(Protocol):
    """Holds placed while runs go on (`holds`)."""

    def runtime_holds(self) -> list[RuntimeHold]: ...
    def runtime_hold_rows(self, job: str) -> list[dict[str, Any]]: ...
    def add_runtime_hold(
        self,
        *,
        job: str,
        name: str,
        now: datetime,
        reason: str | None = None,
        tasks: list[str] | None = None,
        until: datetime | None = None,
        depends_job: str | None = None,
        depends_task: str | None = None,
        created_by: str | None = None,
    ) -> None: ...


class Schedules(Protocol):
    """Where each job's schedule stands, what a tick reads, and its events (`cursors`)."""

    def tick_inputs(self, names: Sequence[str] | None = None) -> TickInputs: ...
    def cursors(self, names: Sequence[str] | None = None) -> dict[str, Cursor]: ...
    def applied_at(self, jobs: Sequence[str]) -> dict[str, datetime]: ...
    def record_event(
        self,
        *,
        kind: str,
        at: datetime,
        message: str,
        job: str | None = None,
        run_id: int | None = None,
        data: dict[str, Any] | None = None,
    ) -> None: ...


class Queue(Protocol):
    """What a daemon reads to start runs, and its own record (`queue`)."""

    def queue_state(self, *, even_empty: bool = False) -> QueueState: ...
    def recent_outcomes(self, job: str, limit: int) -> list[tuple[int, str]]: ...
    def disarm_pause(self, job: str) -> None: ...
    def record_daemon(self, info: dict[str, Any] | None) -> None: ...
    def daemon_record(self) -> dict[str, Any] | None: ...
