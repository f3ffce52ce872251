"""The writes an executor makes as its runs go on, each batch one durable transaction
(`RunWriter`), a run's claim, and cancels asked for by another process."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from runner.domain import RunState, TaskState
from runner.store.cursors import rows_matched
from runner.store.database import Database
from runner.store.events import EVENT, run_event, task_event
from runner.store.runs import Owner, discard
from runner.store.tables import UTCTime, run_requests, runs, task_attempts, task_runs, utc_param

_B = sa.bindparam
_RUN = runs.c.id == _B("b_run")
# No IN: it would be expanded for each row of an executemany.
_ACTIVE = sa.or_(runs.c.state == RunState.SCHEDULED, runs.c.state == RunState.RUNNING)
_TASK = (task_runs.c.run_id == _B("b_run"), task_runs.c.task == _B("b_task"))


# Built once: a run of 500 tasks makes a few thousand of these writes, and building a
# statement costs more than executing it.
_OWNED = {  # a run that starts: running, since `b_at`, by its owner
    "state": RunState.RUNNING,
    "waiting": None,  # what it waited for, if anything
    "started": utc_param("b_at"),
    "heartbeat": utc_param("b_at"),
    "owner": _B("b_owner"),
    "owner_host": _B("b_host"),
    "owner_pid": _B("b_pid"),
    "owner_started": _B("b_pid_started"),
}
# Started by its owner, or taken by one: a run nobody owns yet, scheduled (the daemon's
# start is its claim) or its own (a foreground run's, made with its owner).
_RUN_STARTED = (
    sa.update(runs)
    .where(_RUN, _ACTIVE, sa.or_(runs.c.owner.is_(None), runs.c.owner == _B("b_owner")))
    .values(_OWNED)
)
_RUN_CLAIMED = sa.update(runs).where(_RUN, runs.c.state == RunState.SCHEDULED).values(_OWNED)


def _owned(run_id: int, at: datetime, owner: Owner) -> dict[str, Any]:
    return {
        "b_run": run_id,
        "b_at": at,
        "b_owner": owner.label,
        "b_host": owner.host,
        "b_pid": owner.pid,
        "b_pid_started": owner.started,
    }


_RUN_ENDED = (
    sa.update(runs)
    .where(_RUN, _ACTIVE)
    .values(state=_B("b_state"), reason=_B("b_reason"), ended=utc_param("b_at"))
)
_HEARTBEAT = sa.update(runs).where(_RUN).values(heartbeat=utc_param("b_at"))
_TASK_SET = sa.update(task_runs).where(*_TASK).values(state=_B("b_state"), reason=_B("b_reason"))
_TASK_STARTED = (
    sa.update(task_runs)
    .where(*_TASK)
    .values(
        state=TaskState.RUNNING,
        attempt=_B("b_attempt"),
        started=utc_param("b_at"),
        ended=None,
        exit_code=None,
        reason=None,
        pid=None,
        pid_started=None,
    )
)
_ATTEMPT_STARTED = sa.insert(task_attempts).values(
    run_id=_B("b_run"),
    task=_B("b_task"),
    attempt=_B("b_attempt"),
    started=utc_param("b_at"),
    log=_B("b_log"),
)
_TASK_SPAWNED = (
    sa.update(task_runs).where(*_TASK).values(pid=_B("b_pid"), pid_started=_B("b_pid_started"))
)
_ATTEMPT_ENDED = (
    sa.update(task_attempts)
    .where(
        task_attempts.c.run_id == _B("b_run"),
        task_attempts.c.task == _B("b_task"),
        task_attempts.c.attempt == _B("b_attempt"),
    )
    .values(ended=utc_param("b_at"), exit_code=_B("b_code"), reason=_B("b_reason"))
)
_TASK_ENDED = (
    sa.update(task_runs)
    .where(*_TASK)
    .values(
        state=_B("b_state"),
        ended=utc_param("b_at"),
        exit_code=_B("b_code"),
        reason=_B("b_reason"),
        pid=None,
        pid_started=None,
    )
)


_ANSWERED = (
    sa.update(run_requests)
    .where(run_requests.c.id == _B("b_request"), run_requests.c.answered.is_(None))
    .values(
        answered=utc_param("b_at"),
        status=_B("b_status"),
        state=_B("b_state"),
        detail=_B("b_detail"),
    )
)


class RunsTaken(Exception):
    """Runs an executor was to start were not startable: the transaction is rolled back."""

    def __init__(self, run_ids: frozenset[int]) -> None:
        super().__init__(f"runs not startable: {sorted(run_ids)}")
        self.run_ids = run_ids


class RunWriter:
    """The writes of one transaction on the runs of an executor (see `run_writes`).

    Writes are gathered and sent as one `executemany` per statement: a daemon starting
    100 runs makes three statements, not 300. They keep their order wherever it could
    matter: a write to a row already written in the gathered batch sends the batch first.
    """

    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn
        self._batch: dict[Any, list[dict[str, Any]]] = {}
        self._rows: set[tuple[Any, ...]] = set()
        self._claims: dict[int, str] = {}  # runs started: by whom
        self._events = 0

    def _event(self, params: dict[str, Any]) -> None:
        self._events += 1
        self._add(EVENT, params, ("event", self._events))

    def _add(self, statement: Any, params: dict[str, Any], *rows: tuple[Any, ...]) -> None:
        if not self._rows.isdisjoint(rows):
            self.flush()
        self._rows.update(rows)
        self._batch.setdefault(statement, []).append(params)

    def flush(self) -> None:
        """Send what was gathered (done when the transaction ends)."""
        batch, self._batch, self._rows = self._batch, {}, set()
        started = False  # every run started was matched by its conditional write
        for statement, params in batch.items():
            result = self.conn.execute(statement, params)
            if statement is _RUN_STARTED:
                started = rows_matched(self.conn, result, len(params))
        if self._claims:  # were the runs started ours to start?
            claims, self._claims = self._claims, {}
            if started:
                return
            owned = {
                (r.id, r.owner)
                for r in self.conn.execute(
                    sa.select(runs.c.id, runs.c.owner).where(
                        runs.c.id.in_(list(claims)), runs.c.state == RunState.RUNNING
                    )
                )
            }
            taken = frozenset(i for i, owner in claims.items() if (i, owner) not in owned)
            if taken:
                raise RunsTaken(taken)

    def run_started(self, run_id: int, *, at: datetime, owner: Owner) -> None:
        """The run starts: it is `owner`'s now; `RunsTaken` when the transaction ends if
        it was not startable (ended, or another's)."""
        self._add(_RUN_STARTED, _owned(run_id, at, owner), ("run", run_id))
        self._claims[run_id] = owner.label
        self._event(run_event(run_id, RunState.RUNNING, at=at))

    def run_ended(self, run_id: int, *, state: str, reason: str | None, at: datetime) -> None:
        params = {"b_run": run_id, "b_state": state, "b_reason": reason, "b_at": at}
        self._add(_RUN_ENDED, params, ("run", run_id))
        self._event(run_event(run_id, state, at=at, reason=reason))

    def heartbeat(self, run_ids: Sequence[int], *, at: datetime) -> None:
        for run_id in run_ids:
            self._add(_HEARTBEAT, {"b_run": run_id, "b_at": at}, ("run", run_id))

    def task_set(
        self, run_id: int, task: str, *, state: str, reason: str | None, at: datetime
    ) -> None:
        """A task that changes state without an attempt: skipped, cancelled, waiting."""
        params = {"b_run": run_id, "b_task": task, "b_state": state, "b_reason": reason}
        self._add(_TASK_SET, params, ("task", run_id, task))
        self._event(task_event(run_id, task, state, at=at, reason=reason))

    def answered(
        self, request_id: int, *, at: datetime, status: str, state: str, detail: str | None
    ) -> None:
        """The owner's answer to a task action (`ActionOperations.request_task_action`)."""
        params = {
            "b_request": request_id,
            "b_at": at,
            "b_status": status,
            "b_state": state,
            "b_detail": detail,
        }
        self._add(_ANSWERED, params, ("request", request_id))

    def attempt_started(
        self, run_id: int, task: str, *, attempt: int, at: datetime, log: str
    ) -> None:
        params = {"b_run": run_id, "b_task": task, "b_attempt": attempt, "b_at": at}
        self._add(_TASK_STARTED, params, ("task", run_id, task))
        self._add(_ATTEMPT_STARTED, {**params, "b_log": log}, ("attempt", run_id, task, attempt))
        self._event(task_event(run_id, task, TaskState.RUNNING, at=at, attempt=attempt))

    def attempt_spawned(self, run_id: int, task: str, *, pid: int, pid_started: float) -> None:
        params = {"b_run": run_id, "b_task": task, "b_pid": pid, "b_pid_started": pid_started}
        self._add(_TASK_SPAWNED, params, ("task", run_id, task))

    def attempt_ended(
        self,
        run_id: int,
        task: str,
        *,
        attempt: int,
        at: datetime,
        exit_code: int | None,
        reason: str | None,
        task_state: str,
    ) -> None:
        """The attempt is over; the task becomes `task_state` (`pending` when it will be
        retried)."""
        params = {
            "b_run": run_id,
            "b_task": task,
            "b_attempt": attempt,
            "b_at": at,
            "b_code": exit_code,
            "b_reason": reason,
        }
        self._add(_ATTEMPT_ENDED, params, ("attempt", run_id, task, attempt))
        self._add(_TASK_ENDED, {**params, "b_state": task_state}, ("task", run_id, task))
        event = task_event(
            run_id, task, task_state, at=at, reason=reason, attempt=attempt, exit_code=exit_code
        )
        self._event(event)


class RunWriteOperations(Database):
    @contextlib.contextmanager
    def run_writes(self) -> Iterator[RunWriter]:
        """One transaction of executor writes, durable when the block ends."""
        with self.writing("recording what the runs did") as conn:
            writer = RunWriter(conn)
            yield writer
            writer.flush()

    def request_cancel(self, run_id: int, *, now: datetime, reason: str) -> str | None:
        """Ask the owner of a running run to cancel it, or discard a scheduled one at once.
        Returns the state the run was in when this acted (None: no such run). Each step
        is a conditional write, so a run that starts meanwhile is asked, not missed."""
        with self.writing(f"cancelling run {run_id}") as conn:
            if discard(conn, run_id, now=now, reason=reason):
                return RunState.SCHEDULED
            asked = conn.execute(
                sa.update(runs)
                .where(runs.c.id == run_id, runs.c.state == RunState.RUNNING)
                .values(
                    cancel_requested=sa.func.coalesce(
                        runs.c.cancel_requested, sa.literal(now, UTCTime()), type_=UTCTime()
                    ),
                    cancel_reason=sa.func.coalesce(runs.c.cancel_reason, reason),
                )
            ).rowcount
            if asked:
                return RunState.RUNNING
            state = conn.execute(sa.select(runs.c.state).where(runs.c.id == run_id)).scalar()
            return str(state) if state is not None else None

    def claim_run(self, run_id: int, *, owner: Owner, now: datetime) -> bool:
        """Take a scheduled run to start it; False when it is no longer scheduled (it
        was cancelled, or another process took it)."""
        with self.writing(f"starting run {run_id}") as conn:
            claimed = conn.execute(_RUN_CLAIMED, _owned(run_id, now, owner)).rowcount
        return bool(claimed)

    def cancel_requests(self, run_ids: Sequence[int]) -> dict[int, str]:
        """The runs among `run_ids` that another process asked to cancel, with the reason."""
        if not run_ids:
            return {}
        with self.reading("reading the cancels asked for") as conn:
            rows = conn.execute(
                sa.select(runs.c.id, runs.c.cancel_reason).where(
                    runs.c.id.in_(list(run_ids)), runs.c.cancel_requested.is_not(None)
                )
            ).all()
        return {r.id: r.cancel_reason or "cancelled" for r in rows}
