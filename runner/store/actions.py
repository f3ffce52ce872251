"""Actions on runs already under way (SPEC 3.1) as the store keeps them: a task action
(finish, stop, retry --only) asked of a running run's owner and answered by it, a run
that ended put back to be started again (`runner retry`), and the audit of who did
what."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Required, TypedDict, Unpack

import sqlalchemy as sa

from runner.domain import RunState, TaskState
from runner.store.database import Database
from runner.store.events import record, run_event
from runner.store.runs import TICK_TRIGGERS
from runner.store.tables import audit, events, run_requests, runs, task_attempts, task_runs

# What a retry may put back (which of them it does is the caller's rule): a run that
# ended and started.
RETRYABLE = (RunState.FAILED, RunState.CANCELLED, RunState.STALE, RunState.SUCCESS)


@dataclass(frozen=True, slots=True)
class TaskRequest:
    """A task action asked of a run's owner."""

    id: int
    run_id: int
    action: str  # finish | stop | retry
    task: str
    arg: str | None  # finish --reject's reason
    who: str


@dataclass(frozen=True, slots=True)
class Answer:
    """How the owner answered a task action."""

    status: str  # ok | refused
    state: str  # the task's state after it
    detail: str | None


class AuditEntry(TypedDict, total=False):
    """One action, as `record_audit` takes it and `audit` returns it."""

    time: Required[datetime]
    who: Required[str]
    origin: Required[str]
    action: Required[str]
    status: Required[str]
    job: str | None
    run_id: int | None
    target: str | None
    detail: str | None


class ActionOperations(Database):
    def request_task_action(
        self, run_id: int, *, action: str, task: str, arg: str | None, who: str, now: datetime
    ) -> int | None:
        """Ask the owner of a running run to act on one of its tasks; the request's id,
        or None when the run is no longer running (nothing is asked then)."""
        with self.writing(f"asking for {action} of task {task} in run {run_id}") as conn:
            state = conn.execute(sa.select(runs.c.state).where(runs.c.id == run_id)).scalar()
            if state != RunState.RUNNING:
                return None
            values = {
                "run_id": run_id,
                "action": action,
                "task": task,
                "arg": arg,
                "who": who,
                "requested": now,
            }
            return int(
                conn.execute(
                    sa.insert(run_requests).values(values).returning(run_requests.c.id)
                ).scalar_one()
            )

    def task_requests(self, run_ids: Sequence[int]) -> list[TaskRequest]:
        """The task actions not yet answered on these runs, oldest first."""
        if not run_ids:
            return []
        query = (
            sa.select(run_requests)
            .where(run_requests.c.run_id.in_(list(run_ids)), run_requests.c.answered.is_(None))
            .order_by(run_requests.c.id)
        )
        with self.reading("reading the task actions asked for") as conn:
            rows = conn.execute(query).all()
        return [TaskRequest(r.id, r.run_id, r.action, r.task, r.arg, r.who) for r in rows]

    def task_answer(self, request_id: int) -> Answer | None:
        """The owner's answer to a task action; None while it has not answered."""
        query = sa.select(run_requests).where(run_requests.c.id == request_id)
        with self.reading(f"reading the answer to task action {request_id}") as conn:
            row = conn.execute(query).first()
        if row is None or row.answered is None:
            return None
        return Answer(row.status, row.state, row.detail)

    def retry_run(
        self, run_id: int, *, again: Sequence[str], now: datetime, reason: str
    ) -> str | None:
        """Put a run that ended back to be started: the tasks `again` become pending
        (their attempts kept, so numbering goes on), the others keep how they ended.
        Returns the run's state when it was not retryable (nothing is written then),
        None when it was put back."""
        with self.writing(f"retrying run {run_id}") as conn:
            put_back = conn.execute(
                sa.update(runs)
                .where(runs.c.id == run_id, runs.c.state.in_(RETRYABLE))
                .values(
                    state=RunState.SCHEDULED,
                    reason=reason,
                    ended=None,
                    owner=None,
                    owner_host=None,
                    owner_pid=None,
                    owner_started=None,
                    heartbeat=None,
                    cancel_requested=None,
                    cancel_reason=None,
                    retried=now,
                )
            ).rowcount
            if not put_back:
                state = conn.execute(sa.select(runs.c.state).where(runs.c.id == run_id)).scalar()
                return str(state) if state is not None else "gone"
            record(conn, [run_event(run_id, RunState.SCHEDULED, at=now, reason=reason)])
            if again:
                conn.execute(
                    sa.update(task_runs)
                    .where(task_runs.c.run_id == run_id, task_runs.c.task.in_(list(again)))
                    .values(
                        state=TaskState.PENDING,
                        ended=None,
                        exit_code=None,
                        reason=None,
                        pid=None,
                        pid_started=None,
                    )
                )
        return None

    def record_audit(self, **entry: Unpack[AuditEntry]) -> None:
        with self.writing(f"recording {entry['action']} in the audit") as conn:
            conn.execute(sa.insert(audit).values(dict(entry)))

    def figures(self) -> Figures:
        """Counts for the metrics: runs by job and state, missed ticks, task durations."""
        with self.reading("reading the figures for the metrics") as conn:
            return figures(conn)

    def audit(
        self, *, since: datetime | None = None, who: str | None = None, limit: int = 200
    ) -> list[dict[str, Any]]:
        """The audit's entries, oldest first (the newest `limit` of them)."""
        query = sa.select(audit)
        if since is not None:
            query = query.where(audit.c.time >= since)
        if who is not None:
            query = query.where(audit.c.who == who)
        with self.reading("reading the audit") as conn:
            rows = conn.execute(query.order_by(audit.c.id.desc()).limit(limit)).all()
        return [
            {k: v for k, v in r._mapping.items() if k != "id"} | {"id": r.id}
            for r in reversed(rows)
        ]


class Figures(TypedDict):
    """What `/metrics` reads, in one connection (`ActionOperations.figures`)."""

    runs: list[tuple[str, str, int]]  # (job, state, runs)
    missed: dict[str, int]  # ticks that did not run, by reason
    durations: list[tuple[str, float]]  # (job, seconds) of the task attempts that ended
    queued: int
    delays: list[tuple[str, float]]  # (job, seconds from due to start) of scheduled runs


def figures(conn: sa.Connection) -> Figures:
    counted = sa.select(runs.c.job, runs.c.state, sa.func.count()).group_by(
        runs.c.job, runs.c.state
    )
    missed: dict[str, int] = {}
    for (data,) in conn.execute(sa.select(events.c.data).where(events.c.kind == "missed")):
        reason = (data or {}).get("reason", "other")
        missed[reason] = missed.get(reason, 0) + int((data or {}).get("count", 1))
    ended = (
        sa.select(runs.c.job, task_attempts.c.started, task_attempts.c.ended)
        .join(runs, runs.c.id == task_attempts.c.run_id)
        .where(task_attempts.c.ended.is_not(None), task_attempts.c.started.is_not(None))
        .order_by(task_attempts.c.ended.desc())
        .limit(10_000)  # the latest: a scrape stays cheap whatever the history
    )
    fired = (
        sa.select(runs.c.job, runs.c.due, runs.c.started)
        .where(runs.c.trigger.in_(TICK_TRIGGERS), runs.c.started.is_not(None))
        .order_by(runs.c.id.desc())
        .limit(10_000)
    )
    queued = sa.select(sa.func.count()).where(runs.c.state == RunState.SCHEDULED)
    return {
        "runs": [(r[0], r[1], int(r[2])) for r in conn.execute(counted)],
        "missed": missed,
        "durations": [(r.job, (r.ended - r.started).total_seconds()) for r in conn.execute(ended)],
        "queued": int(conn.execute(queued).scalar_one()),
        "delays": [(r.job, (r.started - r.due).total_seconds()) for r in conn.execute(fired)],
    }
