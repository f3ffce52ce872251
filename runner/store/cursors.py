"""Where each job's schedule stands (the scheduler's cursor), and the events it records."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

import sqlalchemy as sa

from runner.store.tables import events, job_cursors, resources


class Cursor(NamedTuple):
    cursor: datetime  # the last tick handled
    schedule_digest: str  # of the schedule it was handled for: a change resets it
    paused: bool  # the pause of `status: paused` is armed


class CursorOperations:
    engine: sa.Engine

    def cursors(self, names: Sequence[str] | None = None) -> dict[str, Cursor]:
        with self.engine.connect() as conn:
            return read_cursors(conn, names)

    def applied_at(self, jobs: Sequence[str]) -> dict[str, datetime]:
        """When each job was last written by an apply (a new schedule starts there)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(resources.c.name, resources.c.updated).where(
                    resources.c.kind == "Job", resources.c.name.in_(list(jobs))
                )
            ).all()
        return {r.name: r.updated for r in rows if isinstance(r.updated, datetime)}

    def set_cursor(self, job: str, cursor: Cursor) -> None:
        self.set_cursors({job: cursor})

    def set_cursors(self, cursors: Mapping[str, Cursor]) -> None:
        """Several jobs' cursors in one transaction."""
        if cursors:
            with self.engine.begin() as conn:
                write_cursors(conn, cursors)

    def record_event(
        self,
        *,
        kind: str,
        at: datetime,
        message: str,
        job: str | None = None,
        run_id: int | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                sa.insert(events).values(
                    time=at, kind=kind, job=job, run_id=run_id, message=message, data=data
                )
            )


def read_cursors(conn: sa.Connection, names: Sequence[str] | None) -> dict[str, Cursor]:
    query = sa.select(job_cursors)
    if names is not None:
        query = query.where(job_cursors.c.job.in_(list(names)))
    rows = conn.execute(query).all()
    return {r.job: Cursor(r.cursor, r.schedule_digest, r.paused) for r in rows}


def write_cursors(conn: sa.Connection, cursors: Mapping[str, Cursor]) -> None:
    if not cursors:
        return
    known = set(
        conn.execute(
            sa.select(job_cursors.c.job).where(job_cursors.c.job.in_(list(cursors)))
        ).scalars()
    )
    rows = [
        {
            "b_job": job,
            "cursor": c.cursor,
            "schedule_digest": c.schedule_digest,
            "paused": c.paused,
        }
        for job, c in cursors.items()
    ]
    updates = [r for r in rows if r["b_job"] in known]
    inserts = [{**r, "job": r.pop("b_job")} for r in rows if r["b_job"] not in known]
    if updates:  # one statement, many rows
        conn.execute(
            sa.update(job_cursors).where(job_cursors.c.job == sa.bindparam("b_job")), updates
        )
    if inserts:
        conn.execute(sa.insert(job_cursors), inserts)
