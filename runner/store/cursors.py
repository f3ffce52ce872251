"""Where each job's schedule stands (the scheduler's cursor), and the events it records."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple, Required, TypedDict, Unpack

import sqlalchemy as sa

from runner.store.database import Database
from runner.store.tables import events, job_cursors, resources


class Cursor(NamedTuple):
    cursor: datetime  # the last tick handled
    schedule_digest: str  # of the schedule it was handled for: a change resets it
    paused: bool  # the pause of `status: paused` is armed


class NewEvent(TypedDict, total=False):
    """An event: `Store.record_event`'s keywords (a row of the events table)."""

    kind: Required[str]  # missed, say
    at: Required[datetime]
    message: Required[str]
    job: str | None
    run_id: int | None
    data: dict[str, Any] | None


class CursorOperations(Database):
    def cursors(self, names: Sequence[str] | None = None) -> dict[str, Cursor]:
        with self.reading("reading the schedules' cursors") as conn:
            return read_cursors(conn, names)

    def applied_at(self, jobs: Sequence[str]) -> dict[str, datetime]:
        """When each job was last written by an apply (a new schedule starts there)."""
        with self.reading("reading when the jobs were applied") as conn:
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
            with self.writing("moving the schedules' cursors") as conn:
                write_cursors(conn, cursors)

    def record_event(self, **event: Unpack[NewEvent]) -> None:
        row = {"time": event["at"], **{k: v for k, v in event.items() if k != "at"}}
        with self.writing("recording an event") as conn:
            conn.execute(sa.insert(events).values(row))


def read_cursors(conn: sa.Connection, names: Sequence[str] | None) -> dict[str, Cursor]:
    query = sa.select(job_cursors)
    if names is not None:
        query = query.where(job_cursors.c.job.in_(list(names)))
    rows = conn.execute(query).all()
    return {r.job: Cursor(r.cursor, r.schedule_digest, r.paused) for r in rows}


def write_cursors(
    conn: sa.Connection, cursors: Mapping[str, Cursor], *, stored: Collection[str] = ()
) -> None:
    """Write the jobs' cursors. `stored`: those read as there by the writer (a tick):
    they are updated without asking first; should one have gone meanwhile, the rest
    are looked up and written as for any other."""
    if not cursors:
        return
    rows = {job: {"b_job": job, **cursor._asdict()} for job, cursor in cursors.items()}
    likely = [rows[job] for job in cursors if job in stored]
    if likely and rows_matched(conn, conn.execute(_UPDATE_CURSOR, likely), len(likely)):
        rows = {job: row for job, row in rows.items() if job not in stored}
        if not rows:
            return
    known = set(
        conn.execute(
            sa.select(job_cursors.c.job).where(job_cursors.c.job.in_(list(rows)))
        ).scalars()
    )
    updates = [r for job, r in rows.items() if job in known]
    inserts = [{**r, "job": r.pop("b_job")} for job, r in rows.items() if job not in known]
    if updates:  # one statement, many rows
        conn.execute(_UPDATE_CURSOR, updates)
    if inserts:
        conn.execute(sa.insert(job_cursors), inserts)


_UPDATE_CURSOR = sa.update(job_cursors).where(job_cursors.c.job == sa.bindparam("b_job"))


def rows_matched(conn: sa.Connection, result: sa.CursorResult[Any], expected: int) -> bool:
    """Whether a write (one or many rows of parameters) matched `expected` rows, when
    the driver can say so (False when it cannot: the caller then looks)."""
    if expected != 1 and not conn.dialect.supports_sane_multi_rowcount:
        return False
    return result.rowcount == expected
