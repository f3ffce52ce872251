"""Runs in the store: their creation, idempotent on job and due time (one by one, or a
tick's many at once), the active runs, and a scheduled run discarded. What an executor
writes as a run goes on is `runner.store.run_writes`."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Required, TypedDict, Unpack

import sqlalchemy as sa

from runner.domain import ACTIVE_RUN_STATES, RunState, TaskState
from runner.domain.runs import ActiveRun
from runner.store.cursors import Cursor, write_cursors
from runner.store.database import Database
from runner.store.events import record, run_event
from runner.store.tables import audit as audit_table
from runner.store.tables import events as events_table
from runner.store.tables import resources, runs, task_runs, utc_param
from runner.system.procs import ProcessId as Owner

__all__ = [
    "MadeRuns",
    "NewRun",
    "Owner",
    "RunOperations",
    "discard",
    "discard_scheduled",
]

TICK_TRIGGERS = ("schedule", "catchup")


class MadeRuns(list[int]):
    """A tick's runs' ids, in the order asked, and which of them this call made: a tick
    decided again (a clock stepped back, a crash before its cursor moved) finds its run
    already there, which is not to be started a second time."""

    def __init__(self, ids: Sequence[int] = (), new: Collection[int] = ()) -> None:
        super().__init__(ids)
        self.new = frozenset(new)


class NewRun(TypedDict, total=False):
    """A run to create: `create_run`'s keywords, and each of `create_runs`' items."""

    job: Required[str]
    revision: Required[int]
    trigger: Required[str]
    due: Required[datetime]
    now: Required[datetime]
    state: str  # scheduled (the default), or running for a run made by its runner
    tasks: Sequence[str]  # a `pending` row each, in this order
    selected: Sequence[str] | None  # `runner run --task`
    env: dict[str, str] | None
    owner: Owner | None  # the process that will run it, when that is its maker
    attempt: int  # 1, or one more than the stale run it retries
    after_run: int | None  # the run a follow-up follows
    overlap: str | None  # the trigger's overlap policy (`runner run --overlap`)
    reason: str | None


class RunOperations(Database):
    def active_runs(self) -> list[ActiveRun]:
        with self.reading("reading the active runs") as conn:
            return active_runs(conn)

    def last_runs(self) -> dict[str, tuple[int, str]]:
        """The latest run of each job that has started or ended: (id, state). A run still
        waiting for its time is no "last run"."""
        latest = (
            sa.select(runs.c.job, sa.func.max(runs.c.id).label("id"))
            .where(runs.c.state != RunState.SCHEDULED)
            .group_by(runs.c.job)
            .subquery()
        )
        query = sa.select(runs.c.job, runs.c.id, runs.c.state).join(
            latest, runs.c.id == latest.c.id
        )
        with self.reading("reading the last runs") as conn:
            return {r.job: (r.id, r.state) for r in conn.execute(query).all()}

    def create_run(
        self,
        *,
        guard: Callable[[list[ActiveRun]], None] | None = None,
        audit: Mapping[str, Any] | None = None,
        **run: Unpack[NewRun],
    ) -> int:
        """A run row with a `pending` row per task, in order; idempotent on (job, due):
        a second create returns the first's id. A run made by the process that will run
        it (a foreground `runner run`) names it as owner from the start, so that a run
        left `scheduled` by a process that died is found too.

        `guard` sees the job's active runs and may refuse (raise) in the same
        transaction, which first takes a write lock on the job's row: two triggers of
        one job are decided one after the other (the overlap policy), never both on
        the same view. `audit`: the audit's entry for it (a row of the audit table
        without its run id), written in the same transaction."""
        with self.writing(f"creating a run of {run['job']}") as conn:
            if guard is not None:
                guard(_locked_active_runs(conn, run["job"]))
            run_id = _insert_run(conn, run)
            if audit is not None:
                conn.execute(sa.insert(audit_table).values({**audit, "run_id": run_id}))
            return run_id

    def create_runs(
        self,
        items: Sequence[Mapping[str, Any]],
        cursors: Mapping[str, Cursor] | None = None,
        events: Sequence[Mapping[str, Any]] = (),
        *,
        stored: Collection[str] = (),
    ) -> MadeRuns:
        """Several runs in one transaction (a tick's), each a `NewRun` (no owner), with
        the jobs' cursors moved past them and the events (rows of the events table) of
        the ticks that made none; the runs' ids (and which are new). `stored`: the jobs
        whose cursors the caller read as there (`write_cursors`)."""
        if not items and not cursors and not events:
            return MadeRuns()
        ticks = all(i.get("trigger") in TICK_TRIGGERS and set(i) <= _TICK_KEYS for i in items)
        with self.writing("creating the tick's runs") as conn:
            made = insert_tick_runs(conn, items) if ticks else _insert_runs(conn, items)
            write_cursors(conn, cursors or {}, stored=stored)
            if events:
                conn.execute(sa.insert(events_table), list(events))
        return made

    def set_run_state(
        self, run_id: int, state: str, *, now: datetime, reason: str | None = None
    ) -> None:
        ended = now if state not in ACTIVE_RUN_STATES else None
        with self.writing(f"setting the state of run {run_id}") as conn:
            conn.execute(
                sa.update(runs)
                .where(runs.c.id == run_id)
                .values(state=state, reason=reason, ended=ended)
            )
            record(conn, [run_event(run_id, state, at=now, reason=reason)])


_TICK_KEYS = frozenset(("job", "revision", "trigger", "due", "now", "tasks"))
_B = sa.bindparam
_NEW_TICK_RUN = sa.insert(runs).values(
    job=_B("b_job"),
    revision=_B("b_revision"),
    trigger=_B("b_trigger"),
    state=RunState.SCHEDULED,
    due=utc_param("b_due"),
    created=utc_param("b_now"),
    attempt=1,
)
_NEW_TICK_RUN_ID = _NEW_TICK_RUN.returning(runs.c.id)
_TICK_RUNS = sa.select(runs.c.id, runs.c.job, runs.c.due).where(
    runs.c.job.in_(sa.bindparam("jobs", expanding=True)),
    runs.c.due.in_(sa.bindparam("dues", expanding=True)),
)
_NEW_TASK = sa.insert(task_runs).values(
    run_id=_B("b_run"), task=_B("b_task"), position=_B("b_position"), state=TaskState.PENDING
)


def _insert_runs(conn: sa.Connection, items: Sequence[Mapping[str, Any]]) -> MadeRuns:
    before = conn.execute(sa.select(sa.func.max(runs.c.id))).scalar() or 0
    ids = [_insert_run(conn, item) for item in items]
    return MadeRuns(ids, new=[i for i in ids if i > before])


def insert_tick_runs(conn: sa.Connection, items: Sequence[Mapping[str, Any]]) -> MadeRuns:
    """A tick's runs, many at once: the same as `_insert_run` for each (one run per job
    and due time), in a few statements whatever their number."""
    if not items:
        return MadeRuns()
    jobs = sorted({i["job"] for i in items})
    dues = sorted({i["due"] for i in items})
    found = {
        (r.job, r.due): int(r.id) for r in conn.execute(_TICK_RUNS, {"jobs": jobs, "dues": dues})
    }
    new = [i for i in items if (i["job"], i["due"]) not in found]
    first: dict[tuple[str, datetime], Mapping[str, Any]] = {}
    for item in new:  # twice in one tick: made once, as first asked (as `_insert_run` does)
        first.setdefault((item["job"], item["due"]), item)
    new = list(first.values())
    params = [
        {
            "b_job": i["job"],
            "b_revision": i["revision"],
            "b_trigger": i["trigger"],
            "b_due": i["due"],
            "b_now": i["now"],
        }
        for i in new
    ]
    made: dict[tuple[str, datetime], int] = {}
    if len(new) == 1:  # one row: its id returned
        only = conn.execute(_NEW_TICK_RUN_ID, params[0]).scalar_one()
        made[(new[0]["job"], new[0]["due"])] = int(only)
    elif new:  # one executemany (RETURNING in order would send them one by one), then their ids
        conn.execute(_NEW_TICK_RUN, params)
        wanted = {"jobs": sorted({i["job"] for i in new}), "dues": sorted({i["due"] for i in new})}
        made = {(r.job, r.due): int(r.id) for r in conn.execute(_TICK_RUNS, wanted)}
    tasks, told = [], []
    for item in new:
        run_id = found[(item["job"], item["due"])] = made[(item["job"], item["due"])]
        tasks += _task_rows(run_id, item["tasks"])
        told.append(run_event(run_id, RunState.SCHEDULED, at=item["now"], job=item["job"]))
    if tasks:
        conn.execute(_NEW_TASK, tasks)
    record(conn, told)
    return MadeRuns([found[(i["job"], i["due"])] for i in items], new=made.values())


def _insert_run(conn: sa.Connection, run: Mapping[str, Any]) -> int:
    """One run (a `NewRun`) and its tasks; the id of the run already there for its job
    and due time when a tick asks again, or for the run it follows."""
    found, due = _existing_run(conn, run)
    if found is not None:
        return found
    result = conn.execute(sa.insert(runs).values(_run_row(run, due)))
    key = result.inserted_primary_key
    if key is None:  # pragma: no cover - every backend reports it
        raise RuntimeError("the store did not return the new run's id")
    run_id = int(key[0])
    if run.get("tasks"):
        conn.execute(_NEW_TASK, _task_rows(run_id, run["tasks"]))
    state = run.get("state", RunState.SCHEDULED)
    record(
        conn, [run_event(run_id, state, at=run["now"], job=run["job"], reason=run.get("reason"))]
    )
    return run_id


def _existing_run(conn: sa.Connection, run: Mapping[str, Any]) -> tuple[int | None, datetime]:
    """The run `run` already is (a follow-up is known by the run it follows, a tick's by
    its job and due time), or None and the due time a new one takes: a trigger at the
    same instant as another's run is made a microsecond later."""
    job, due = run["job"], run["due"]
    if run.get("after_run") is not None:
        found = conn.execute(
            sa.select(runs.c.id).where(runs.c.job == job, runs.c.after_run == run["after_run"])
        ).scalar()
        if found is not None:
            return int(found), due
    while True:
        found = conn.execute(
            sa.select(runs.c.id).where(runs.c.job == job, runs.c.due == due)
        ).scalar()
        if found is None:
            return None, due
        if run["trigger"] in TICK_TRIGGERS:  # a tick's run: one per (job, due), whoever asks
            return int(found), due
        due += timedelta(microseconds=1)


def _run_row(run: Mapping[str, Any], due: datetime) -> dict[str, Any]:
    """The runs table's row of a new run (a `NewRun`), due at `due`."""
    state, owner, selected = run.get("state", RunState.SCHEDULED), run.get("owner"), None
    if run.get("selected") is not None:
        selected = list(run["selected"])
    return {
        "job": run["job"],
        "revision": run["revision"],
        "trigger": run["trigger"],
        "state": state,
        "due": due,
        "created": run["now"],
        "started": run["now"] if state == RunState.RUNNING else None,
        "attempt": run.get("attempt", 1),
        "after_run": run.get("after_run"),
        "overlap": run.get("overlap"),
        "reason": run.get("reason"),
        "selected": selected,
        "env": run.get("env") or None,
        "owner": owner.label if owner else None,
        "owner_host": owner.host if owner else None,
        "owner_pid": owner.pid if owner else None,
        "owner_started": owner.started if owner else None,
    }


def _task_rows(run_id: int, tasks: Sequence[str]) -> list[dict[str, Any]]:
    """A new run's task rows (`_NEW_TASK`): pending, in order."""
    return [{"b_run": run_id, "b_task": name, "b_position": n} for n, name in enumerate(tasks)]


def _locked_active_runs(conn: sa.Connection, job: str) -> list[ActiveRun]:
    # A write that changes nothing, for its lock: the row's on PostgreSQL, the
    # database's on SQLite (whose transactions otherwise begin as readers).
    conn.execute(
        sa.update(resources)
        .where(resources.c.kind == "Job", resources.c.name == job)
        .values(updated=resources.c.updated)
    )
    return active_runs(conn, job)


def active_runs(conn: sa.Connection, job: str | None = None) -> list[ActiveRun]:
    """The scheduled and running runs (of one job), oldest first."""
    query = sa.select(runs.c.id, runs.c.job, runs.c.revision, runs.c.state).where(
        runs.c.state.in_(ACTIVE_RUN_STATES)
    )
    if job is not None:
        query = query.where(runs.c.job == job)
    rows = conn.execute(query.order_by(runs.c.id)).all()
    return [ActiveRun(id=r.id, job=r.job, revision=r.revision, state=r.state) for r in rows]


def discard(conn: sa.Connection, run_id: int, *, now: datetime, reason: str) -> bool:
    """A scheduled run ends `discarded`, its tasks skipped; False when not scheduled."""
    done = conn.execute(
        sa.update(runs)
        .where(runs.c.id == run_id, runs.c.state == RunState.SCHEDULED)
        .values(state=RunState.DISCARDED, reason=reason, ended=now)
    ).rowcount
    if done:
        conn.execute(
            sa.update(task_runs)
            .where(task_runs.c.run_id == run_id, task_runs.c.state == TaskState.PENDING)
            .values(state=TaskState.SKIPPED, reason=reason)
        )
        record(conn, [run_event(run_id, RunState.DISCARDED, at=now, reason=reason)])
    return bool(done)


def discard_scheduled(conn: sa.Connection, job: str, *, now: datetime, reason: str) -> None:
    """Every scheduled run of a job ends `discarded` (the job was deleted)."""
    ids = conn.execute(
        sa.select(runs.c.id).where(runs.c.job == job, runs.c.state == RunState.SCHEDULED)
    ).scalars()
    for run_id in list(ids):
        discard(conn, run_id, now=now, reason=reason)
