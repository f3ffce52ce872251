"""What happened, in order (SPEC 7's `GET /v1/events`): runs and tasks changing state,
holds placed and released, configurations applied, ticks that made no run. Each is a row
of the events table written in the same transaction as the change it tells of, so its id
orders it, survives a restart, and means the same to every daemon on a shared store.

A run's and a task's events name the run, not the job (the executor's writes do not
carry it): reads take the job from the run."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from runner.store.database import Database
from runner.store.tables import JSONType, events, runs, utc_param

RUN, TASK, HOLD, CONFIG = "run", "task", "hold", "config"

_B = sa.bindparam
EVENT = sa.insert(events).values(
    time=utc_param("b_at"),
    kind=_B("b_kind"),
    job=_B("b_job"),
    run_id=_B("b_run"),
    message=_B("b_message"),
    data=_B("b_data", type_=JSONType),
)
PAGE = 500  # events read at once


def run_event(
    run_id: int, state: str, *, at: datetime, reason: str | None = None, job: str | None = None
) -> dict[str, Any]:
    """A run that became `state` (`record` writes it)."""
    why = f": {reason}" if reason else ""
    return {
        "b_at": at,
        "b_kind": RUN,
        "b_job": job,
        "b_run": run_id,
        "b_message": f"run {run_id} {state}{why}",
        "b_data": {"state": state, "reason": reason},
    }


def task_event(
    run_id: int,
    task: str,
    state: str,
    *,
    at: datetime,
    reason: str | None = None,
    attempt: int | None = None,
    exit_code: int | None = None,
) -> dict[str, Any]:
    """A task of a run that became `state`."""
    why = f": {reason}" if reason else ""
    data: dict[str, Any] = {"task": task, "state": state, "reason": reason}
    if attempt is not None:
        data["attempt"] = attempt
    if exit_code is not None:
        data["exit_code"] = exit_code
    return {
        "b_at": at,
        "b_kind": TASK,
        "b_job": None,
        "b_run": run_id,
        "b_message": f"run {run_id} task {task} {state}{why}",
        "b_data": data,
    }


def other_event(
    kind: str, message: str, *, at: datetime, job: str | None = None, **data: Any
) -> dict[str, Any]:
    """A hold placed or released, a configuration applied."""
    return {
        "b_at": at,
        "b_kind": kind,
        "b_job": job,
        "b_run": None,
        "b_message": message,
        "b_data": data or None,
    }


def record(conn: sa.Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Write events (`run_event`, `task_event`, `other_event`) in the caller's transaction."""
    if rows:
        conn.execute(EVENT, list(rows))


@dataclass(frozen=True)
class StoredEvent:
    id: int
    at: datetime
    kind: str  # run, task, hold, config, missed, run-retried
    job: str | None
    run: int | None
    message: str
    data: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        """SPEC 7's event: what `GET /v1/events` sends as an event's data."""
        data = self.data
        return {
            "id": self.id,
            "at": self.at.isoformat().replace("+00:00", "Z"),
            "kind": self.kind,
            "job": self.job,
            "run": self.run,
            "task": data.get("task"),
            "state": data.get("state"),
            "detail": data.get("reason") or data.get("detail"),
            "message": self.message,
        }


class EventOperations(Database):
    def events_after(
        self,
        after: int,
        *,
        job: str | None = None,
        run_id: int | None = None,
        limit: int = PAGE,
    ) -> list[StoredEvent]:
        """The events after id `after`, oldest first (at most `limit`), of one job or run."""
        owner = sa.func.coalesce(events.c.job, runs.c.job)
        query = (
            sa.select(events, owner.label("owner"))
            .outerjoin(runs, runs.c.id == events.c.run_id)
            .where(events.c.id > after)
            .order_by(events.c.id)
            .limit(limit)
        )
        if job is not None:
            query = query.where(owner == job)
        if run_id is not None:
            query = query.where(events.c.run_id == run_id)
        with self.reading("reading the events") as conn:
            rows = conn.execute(query).all()
        return [
            StoredEvent(r.id, r.time, r.kind, r.owner, r.run_id, r.message, dict(r.data or {}))
            for r in rows
        ]

    def last_event_id(self) -> int:
        """The id of the newest event (0 when there is none)."""
        with self.reading("reading the newest event") as conn:
            return int(conn.execute(sa.select(sa.func.max(events.c.id))).scalar() or 0)
