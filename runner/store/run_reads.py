"""Reading runs back: one run with its tasks and attempts, history, the last run of each
task, runs owned by processes on a host (for stale detection), and pruning by history."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypedDict, Unpack

import sqlalchemy as sa

from runner.domain import ACTIVE_RUN_STATES, ENDED_RUN_STATES, RunState, TaskState
from runner.store.database import Database
from runner.store.events import record, run_event
from runner.store.runs import Owner
from runner.store.tables import events, runs, task_attempts, task_runs


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    attempt: int
    started: datetime | None
    ended: datetime | None
    exit_code: int | None
    reason: str | None
    log: str | None


@dataclass(frozen=True, slots=True)
class TaskRecord:
    run_id: int
    name: str
    position: int
    state: str
    attempt: int
    started: datetime | None
    ended: datetime | None
    exit_code: int | None
    reason: str | None
    pid: int | None
    pid_started: float | None
    attempts: tuple[AttemptRecord, ...] = ()


@dataclass(frozen=True, slots=True)
class RunRecord:
    id: int
    job: str
    revision: int
    trigger: str
    state: str
    reason: str | None
    due: datetime
    created: datetime
    started: datetime | None
    ended: datetime | None
    attempt: int
    selected: list[str] | None
    env: dict[str, str] | None
    owner: Owner | None
    heartbeat: datetime | None
    cancel_requested: datetime | None
    tasks: tuple[TaskRecord, ...] = ()
    waiting: str | None = None  # scheduled: what it waits for (a hold, a pool's slot)


REPORTING = timedelta(seconds=30)  # a run that just ended is being reported on


class RunFilter(TypedDict, total=False):
    """Which runs `Store.history` returns (its keywords): all when none is given."""

    job: str | None
    since: datetime | None  # due at or after
    until: datetime | None  # due before
    states: Sequence[str]
    limit: int  # 50 unless given


class RunQueries(Database):
    def run(self, run_id: int) -> RunRecord | None:
        found = self._runs(sa.select(runs).where(runs.c.id == run_id), attempts=True)
        return found[0] if found else None

    def history(self, **only: Unpack[RunFilter]) -> list[RunRecord]:
        """Runs, newest first, filtered by job, due time [since, until) and state."""
        query = sa.select(runs)
        if job := only.get("job"):
            query = query.where(runs.c.job == job)
        if since := only.get("since"):
            query = query.where(runs.c.due >= since)
        if until := only.get("until"):
            query = query.where(runs.c.due < until)
        if states := only.get("states"):
            query = query.where(runs.c.state.in_(list(states)))
        limit = only.get("limit", 50)
        return self._runs(query.order_by(runs.c.id.desc()).limit(limit), attempts=False)

    def active_run_records(self, job: str | None = None) -> list[RunRecord]:
        query = sa.select(runs).where(runs.c.state.in_(ACTIVE_RUN_STATES))
        if job:
            query = query.where(runs.c.job == job)
        return self._runs(query.order_by(runs.c.id), attempts=False)

    def owned_on_host(self, host: str) -> list[RunRecord]:
        """Scheduled and running runs whose owner is a process on `host` (without their
        tasks: every command asks this, and few of the runs turn out stale)."""
        query = sa.select(runs).where(
            runs.c.state.in_(ACTIVE_RUN_STATES), runs.c.owner_host == host
        )
        return self._runs(query.order_by(runs.c.id), attempts=False, tasks=False)

    def task_last_runs(self, job: str) -> dict[str, TaskRecord]:
        """For each task of a job's runs, its row in the newest run where it started
        (or, for a task that never started, its newest row)."""
        query = (
            sa.select(task_runs)
            .join(runs, runs.c.id == task_runs.c.run_id)
            .where(runs.c.job == job)
            .order_by(task_runs.c.run_id.desc())
        )
        out: dict[str, TaskRecord] = {}
        with self.reading(f"reading the last runs of the tasks of {job}") as conn:
            for row in conn.execute(query):
                seen = out.get(row.task)
                if seen is None or (seen.started is None and row.started is not None):
                    out[row.task] = _task(row._mapping)
        return out

    def runs_beyond_history(
        self, job: str, *, keep_runs: int, keep_days: int, now: datetime
    ) -> list[tuple[int, datetime]]:
        """Ended runs of a job past its history: beyond the `keep_runs` that ended last,
        or ended more than `keep_days` ago. Returns (id, created) pairs. (By when they
        ended, so that a run that just ended is never the one pruned.) A run that ended
        less than `REPORTING` ago is kept whatever `keep_runs` says: the process that ran
        it (a `runner run`, a `run --wait`) may still be reading it for its report and
        exit code, which never depend on another process's pruning (issue 17)."""
        cutoff = now - timedelta(days=keep_days)
        recent = now - REPORTING
        query = (
            sa.select(runs.c.id, runs.c.created, runs.c.ended)
            .where(runs.c.job == job, runs.c.state.in_(ENDED_RUN_STATES))
            .order_by(runs.c.ended.desc(), runs.c.id.desc())
        )
        with self.reading(f"reading the history of {job}") as conn:
            rows = conn.execute(query).all()
        return [
            (r.id, r.created)
            for i, r in enumerate(rows)
            if (i >= keep_runs and (r.ended is None or r.ended < recent))
            or (r.ended is not None and r.ended < cutoff)
        ]

    def missed_ticks(self, job: str, reasons: Sequence[str]) -> dict[str, int]:
        """Ticks of a job that did not start a run, by reason: the scheduler records them
        as events of kind `missed` with data {"reason": ..., "count": n}."""
        counts = dict.fromkeys(reasons, 0)
        query = sa.select(events.c.data).where(events.c.job == job, events.c.kind == "missed")
        with self.reading(f"reading the missed ticks of {job}") as conn:
            for (data,) in conn.execute(query):
                reason = (data or {}).get("reason", "other")
                counts[reason] = counts.get(reason, 0) + int((data or {}).get("count", 1))
        return counts

    def run_ids(self, job: str) -> list[int]:
        with self.reading(f"reading the runs of {job}") as conn:
            return list(conn.execute(sa.select(runs.c.id).where(runs.c.job == job)).scalars())

    def delete_runs(self, run_ids: Sequence[int]) -> None:
        with self.writing("deleting runs") as conn:
            for chunk in range(0, len(run_ids), 500):
                ids = list(run_ids[chunk : chunk + 500])
                conn.execute(sa.delete(task_attempts).where(task_attempts.c.run_id.in_(ids)))
                conn.execute(sa.delete(task_runs).where(task_runs.c.run_id.in_(ids)))
                conn.execute(sa.delete(runs).where(runs.c.id.in_(ids)))
                conn.execute(sa.delete(events).where(events.c.run_id.in_(ids)))

    def mark_stale(self, run_id: int, *, now: datetime, reason: str) -> bool:
        """A running run whose owner is gone becomes `stale`: its running tasks failed,
        the ones not started (pending, waiting, held) skipped. False when it was no
        longer running."""
        with self.writing(f"marking run {run_id} stale") as conn:
            done = conn.execute(
                sa.update(runs)
                .where(runs.c.id == run_id, runs.c.state == RunState.RUNNING)
                .values(state=RunState.STALE, reason=reason, ended=now)
            ).rowcount
            if not done:
                return False
            for states, becomes, ended in (
                ((TaskState.RUNNING,), TaskState.FAILED, now),
                ((TaskState.PENDING, TaskState.WAITING, TaskState.HELD), TaskState.SKIPPED, None),
            ):
                conn.execute(
                    sa.update(task_runs)
                    .where(task_runs.c.run_id == run_id, task_runs.c.state.in_(states))
                    .values(state=becomes, reason=reason, ended=ended)
                )
            conn.execute(
                sa.update(task_attempts)
                .where(task_attempts.c.run_id == run_id, task_attempts.c.ended.is_(None))
                .values(ended=now, reason=reason)
            )
            record(conn, [run_event(run_id, RunState.STALE, at=now, reason=reason)])
            return True

    def _runs(
        self, query: sa.Select[Any], *, attempts: bool, tasks: bool = True
    ) -> list[RunRecord]:
        with self.reading("reading runs") as conn:
            rows = conn.execute(query).all()
            found = _tasks(conn, [r.id for r in rows], attempts=attempts) if tasks else {}
        return [_run(r._mapping, found.get(r.id, ())) for r in rows]


def _tasks(
    conn: sa.Connection, run_ids: list[int], *, attempts: bool
) -> dict[int, tuple[TaskRecord, ...]]:
    out: dict[int, list[TaskRecord]] = defaultdict(list)
    tries: dict[tuple[int, str], list[AttemptRecord]] = defaultdict(list)
    for chunk in _chunks(run_ids):
        if attempts:
            for a in conn.execute(
                sa.select(task_attempts)
                .where(task_attempts.c.run_id.in_(chunk))
                .order_by(task_attempts.c.attempt)
            ):
                tries[(a.run_id, a.task)].append(
                    AttemptRecord(a.attempt, a.started, a.ended, a.exit_code, a.reason, a.log)
                )
        for t in conn.execute(
            sa.select(task_runs)
            .where(task_runs.c.run_id.in_(chunk))
            .order_by(task_runs.c.run_id, task_runs.c.position)
        ):
            out[t.run_id].append(_task(t._mapping, tuple(tries.get((t.run_id, t.task), ()))))
    return {k: tuple(v) for k, v in out.items()}


def _chunks(ids: list[int]) -> Iterable[list[int]]:
    for start in range(0, len(ids), 500):
        yield ids[start : start + 500]


def _task(m: Any, attempts: tuple[AttemptRecord, ...] = ()) -> TaskRecord:
    return TaskRecord(
        run_id=m["run_id"],
        name=m["task"],
        position=m["position"],
        state=m["state"],
        attempt=m["attempt"] or 0,
        started=m["started"],
        ended=m["ended"],
        exit_code=m["exit_code"],
        reason=m["reason"],
        pid=m["pid"],
        pid_started=m["pid_started"],
        attempts=attempts,
    )


def _run(m: Any, tasks: tuple[TaskRecord, ...]) -> RunRecord:
    owner = (
        Owner(host=m["owner_host"], pid=m["owner_pid"], started=m["owner_started"] or 0.0)
        if m["owner_pid"] is not None
        else None
    )
    return RunRecord(
        id=m["id"],
        job=m["job"],
        revision=m["revision"],
        trigger=m["trigger"],
        state=m["state"],
        reason=m["reason"],
        due=m["due"],
        created=m["created"],
        started=m["started"],
        ended=m["ended"],
        attempt=m["attempt"],
        selected=m["selected"],
        env=m["env"],
        owner=owner,
        heartbeat=m["heartbeat"],
        cancel_requested=m["cancel_requested"],
        tasks=tasks,
        waiting=m.get("waiting") if m["state"] == RunState.SCHEDULED else None,
    )
