"""What a daemon reads and writes to start runs: the scheduled runs nobody owns, with what
decides their start (the states of the runs follow-ups wait on, the active runs, the
runtime holds), read at once (a start's first write takes the run: `RunWriter`); the
failure streak behind `holdOnFailure`; the pause a manual run disarms; and the daemon's
own health record."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

import sqlalchemy as sa

from runner.domain import RunState
from runner.domain.runs import ActiveRun
from runner.store.database import Database
from runner.store.runs import active_runs
from runner.store.tables import holds, job_cursors, meta, runs

DAEMON_KEY = "daemon"


class QueuedRun(NamedTuple):
    id: int
    job: str
    revision: int
    trigger: str
    due: datetime
    attempt: int
    after_run: int | None
    overlap: str | None
    selected: list[str] | None
    env: dict[str, str] | None
    retried: datetime | None = None  # when `runner retry` put it back


class QueueState(NamedTuple):
    """What a daemon's admission reads, in one connection."""

    queued: list[QueuedRun]
    active: list[ActiveRun]
    held_jobs: set[str]  # the jobs with a runtime hold
    preceding: dict[int, str]  # the states of the runs the queued follow-ups wait on


_QUEUED = (  # the runs waiting to be started by a daemon (not a foreground run's own)
    sa.select(
        runs.c.id,
        runs.c.job,
        runs.c.revision,
        runs.c.trigger,
        runs.c.due,
        runs.c.attempt,
        runs.c.after_run,
        runs.c.overlap,
        runs.c.selected,
        runs.c.env,
        runs.c.retried,
    )
    .where(runs.c.state == RunState.SCHEDULED, runs.c.owner_pid.is_(None))
    .order_by(runs.c.due, runs.c.id)
)

_HELD_JOBS = sa.select(holds.c.job).distinct()
_NOTE_WAITING = (
    sa.update(runs)
    .where(runs.c.id == sa.bindparam("b_id"), runs.c.state == RunState.SCHEDULED)
    .values(waiting=sa.bindparam("b_reason"))
)


class QueueOperations(Database):
    def queue_state(self, *, even_empty: bool = False) -> QueueState:
        """The scheduled runs and what decides whether they start; nothing else is read
        when none is scheduled, unless `even_empty` (runs about to be added to it)."""
        with self.reading("reading the queue") as conn:
            queued = [QueuedRun._make(row) for row in conn.execute(_QUEUED)]
            if not queued and not even_empty:
                return QueueState([], [], set(), {})
            preceding = _states(conn, [q.after_run for q in queued if q.after_run])
            held = set(conn.execute(_HELD_JOBS).scalars())
            return QueueState(queued, active_runs(conn), held, preceding)

    def recent_outcomes(self, job: str, limit: int) -> list[tuple[int, str]]:
        """The last `limit` runs of a job that ran to an end (success, failed, stale),
        latest first: what `holdOnFailure` counts. Cancelled and discarded runs neither
        make nor break a streak."""
        query = (
            sa.select(runs.c.id, runs.c.state)
            .where(
                runs.c.job == job,
                runs.c.state.in_((RunState.SUCCESS, RunState.FAILED, RunState.STALE)),
            )
            .order_by(runs.c.ended.desc(), runs.c.id.desc())
            .limit(limit)
        )
        with self.reading(f"reading the last outcomes of {job}") as conn:
            return [(r.id, r.state) for r in conn.execute(query).all()]

    def note_waiting(self, reasons: Mapping[int, str]) -> None:
        """What scheduled runs wait for (a hold, a pool's slot), so that `status` says it;
        a run that started meanwhile is left alone."""
        if not reasons:
            return
        params = [{"b_id": run_id, "b_reason": why} for run_id, why in reasons.items()]
        with self.writing("noting what the scheduled runs wait for") as conn:
            conn.execute(_NOTE_WAITING, params)

    def disarm_pause(self, job: str) -> None:
        """A manual run of a paused job: its schedule runs from now on (SPEC 2.2)."""
        with self.writing(f"disarming the pause of {job}") as conn:
            conn.execute(
                sa.update(job_cursors)
                .where(job_cursors.c.job == job, job_cursors.c.paused.is_(True))
                .values(paused=False)
            )

    def record_daemon(self, info: dict[str, Any] | None) -> None:
        """The running daemon's record (None when it stops), for `runner status`."""
        value = json.dumps(info) if info is not None else ""
        with self.writing("recording the daemon") as conn:
            done = conn.execute(
                sa.update(meta).where(meta.c.key == DAEMON_KEY).values(value=value)
            ).rowcount
            if not done:
                conn.execute(sa.insert(meta).values(key=DAEMON_KEY, value=value))

    def daemon_record(self) -> dict[str, Any] | None:
        with self.reading("reading the daemon's record") as conn:
            value = conn.execute(sa.select(meta.c.value).where(meta.c.key == DAEMON_KEY)).scalar()
        if not value:
            return None
        try:
            found = json.loads(value)
        except ValueError:
            return None
        return found if isinstance(found, dict) else None


def _states(conn: sa.Connection, run_ids: Sequence[int]) -> dict[int, str]:
    if not run_ids:
        return {}
    rows = conn.execute(
        sa.select(runs.c.id, runs.c.state).where(runs.c.id.in_(sorted(set(run_ids))))
    ).all()
    return {r.id: r.state for r in rows}
