"""Runs in the store: their creation (idempotent on job and due time), the writes an
executor makes as a run goes on (each batch one durable transaction), and cancels asked
for by another process."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from runner.domain.runs import ActiveRun, RuntimeHold
from runner.procs import ProcessId as Owner

__all__ = [
    "ACTIVE_STATES",
    "ENDED_STATES",
    "Owner",
    "RunOperations",
    "RunWriter",
    "discard_scheduled",
]
from runner.store.cursors import Cursor, rows_matched, write_cursors
from runner.store.tables import UTCTime, holds, resources, runs, task_attempts, task_runs
from runner.store.tables import events as events_table

ACTIVE_STATES = ("scheduled", "running")
TICK_TRIGGERS = ("schedule", "catchup")
ENDED_STATES = ("success", "failed", "cancelled", "discarded", "stale")


_B = sa.bindparam
_RUN = runs.c.id == _B("b_run")
_ACTIVE = sa.or_(runs.c.state == "scheduled", runs.c.state == "running")  # no IN: executemany
_TASK = (task_runs.c.run_id == _B("b_run"), task_runs.c.task == _B("b_task"))


def _time(name: str) -> sa.BindParameter[Any]:
    return sa.bindparam(name, type_=UTCTime())


# Built once: a run of 500 tasks makes a few thousand of these writes, and building a
# statement costs more than executing it.
_OWNED = {  # a run that starts: running, since `b_at`, by its owner
    "state": "running",
    "started": _time("b_at"),
    "heartbeat": _time("b_at"),
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
_RUN_CLAIMED = sa.update(runs).where(_RUN, runs.c.state == "scheduled").values(_OWNED)


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
    .values(state=_B("b_state"), reason=_B("b_reason"), ended=_time("b_at"))
)
_HEARTBEAT = sa.update(runs).where(_RUN).values(heartbeat=_time("b_at"))
_TASK_SET = sa.update(task_runs).where(*_TASK).values(state=_B("b_state"), reason=_B("b_reason"))
_TASK_STARTED = (
    sa.update(task_runs)
    .where(*_TASK)
    .values(
        state="running",
        attempt=_B("b_attempt"),
        started=_time("b_at"),
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
    started=_time("b_at"),
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
    .values(ended=_time("b_at"), exit_code=_B("b_code"), reason=_B("b_reason"))
)
_TASK_ENDED = (
    sa.update(task_runs)
    .where(*_TASK)
    .values(
        state=_B("b_state"),
        ended=_time("b_at"),
        exit_code=_B("b_code"),
        reason=_B("b_reason"),
        pid=None,
        pid_started=None,
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
                        runs.c.id.in_(list(claims)), runs.c.state == "running"
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

    def run_ended(self, run_id: int, *, state: str, reason: str | None, at: datetime) -> None:
        params = {"b_run": run_id, "b_state": state, "b_reason": reason, "b_at": at}
        self._add(_RUN_ENDED, params, ("run", run_id))

    def heartbeat(self, run_ids: Sequence[int], *, at: datetime) -> None:
        for run_id in run_ids:
            self._add(_HEARTBEAT, {"b_run": run_id, "b_at": at}, ("run", run_id))

    def task_set(self, run_id: int, task: str, *, state: str, reason: str | None) -> None:
        """A task that changes state without an attempt: skipped, cancelled, waiting."""
        params = {"b_run": run_id, "b_task": task, "b_state": state, "b_reason": reason}
        self._add(_TASK_SET, params, ("task", run_id, task))

    def attempt_started(
        self, run_id: int, task: str, *, attempt: int, at: datetime, log: str
    ) -> None:
        params = {"b_run": run_id, "b_task": task, "b_attempt": attempt, "b_at": at}
        self._add(_TASK_STARTED, params, ("task", run_id, task))
        self._add(_ATTEMPT_STARTED, {**params, "b_log": log}, ("attempt", run_id, task, attempt))

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


class RunOperations:
    engine: sa.Engine

    def active_runs(self) -> list[ActiveRun]:
        with self.engine.connect() as conn:
            return active_runs(conn)

    def last_runs(self) -> dict[str, tuple[int, str]]:
        """The latest run of each job that has started or ended: (id, state). A run still
        waiting for its time is no "last run"."""
        latest = (
            sa.select(runs.c.job, sa.func.max(runs.c.id).label("id"))
            .where(runs.c.state != "scheduled")
            .group_by(runs.c.job)
            .subquery()
        )
        query = sa.select(runs.c.job, runs.c.id, runs.c.state).join(
            latest, runs.c.id == latest.c.id
        )
        with self.engine.connect() as conn:
            return {r.job: (r.id, r.state) for r in conn.execute(query).all()}

    def runtime_holds(self) -> list[RuntimeHold]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(holds.c.job, holds.c.name, holds.c.reason).order_by(
                    holds.c.job, holds.c.name
                )
            ).all()
        return [RuntimeHold(job=r.job, name=r.name, reason=r.reason) for r in rows]

    def runtime_hold_rows(self, job: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(holds).where(holds.c.job == job).order_by(holds.c.name)
            ).all()
        return [dict(r._mapping) for r in rows]

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
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                sa.insert(holds).values(
                    job=job,
                    name=name,
                    reason=reason,
                    tasks=tasks,
                    until=until,
                    depends_job=depends_job,
                    depends_task=depends_task,
                    created=now,
                    created_by=created_by,
                )
            )

    def create_run(
        self,
        *,
        job: str,
        revision: int,
        trigger: str,
        due: datetime,
        now: datetime,
        state: str = "scheduled",
        tasks: Sequence[str] = (),
        selected: Sequence[str] | None = None,
        env: dict[str, str] | None = None,
        owner: Owner | None = None,
        guard: Callable[[list[ActiveRun]], None] | None = None,
        attempt: int = 1,
        after_run: int | None = None,
        overlap: str | None = None,
        reason: str | None = None,
    ) -> int:
        """A run row with a `pending` row per task, in order; idempotent on (job, due):
        a second create returns the first's id. A run made by the process that will run
        it (a foreground `runner run`) names it as owner from the start, so that a run
        left `scheduled` by a process that died is found too.

        `guard` sees the job's active runs and may refuse (raise) in the same
        transaction, which first takes a write lock on the job's row: two triggers of
        one job are decided one after the other (the overlap policy), never both on
        the same view."""
        with self.engine.begin() as conn:
            if guard is not None:
                guard(_locked_active_runs(conn, job))
            return _insert_run(
                conn,
                job=job,
                revision=revision,
                trigger=trigger,
                due=due,
                now=now,
                state=state,
                tasks=tasks,
                selected=selected,
                env=env,
                owner=owner,
                attempt=attempt,
                after_run=after_run,
                overlap=overlap,
                reason=reason,
            )

    def create_runs(
        self,
        items: Sequence[Mapping[str, Any]],
        cursors: Mapping[str, Cursor] | None = None,
        events: Sequence[Mapping[str, Any]] = (),
        *,
        stored: Collection[str] = (),
    ) -> list[int]:
        """Several runs in one transaction (a tick's), each as `create_run`'s keywords
        (no guard, no owner), with the jobs' cursors moved past them and the events
        (rows of the events table) of the ticks that made none; the runs' ids.
        `stored`: the jobs whose cursors the caller read as there (`write_cursors`)."""
        if not items and not cursors and not events:
            return []
        ticks = all(i.get("trigger") in TICK_TRIGGERS and set(i) <= _TICK_KEYS for i in items)
        with self.engine.begin() as conn:
            if ticks:
                made = _insert_tick_runs(conn, items)
            else:
                made = [_insert_run(conn, **item) for item in items]
            write_cursors(conn, cursors or {}, stored=stored)
            if events:
                conn.execute(sa.insert(events_table), list(events))
        return made

    def set_run_state(
        self, run_id: int, state: str, *, now: datetime, reason: str | None = None
    ) -> None:
        ended = now if state not in ACTIVE_STATES else None
        with self.engine.begin() as conn:
            conn.execute(
                sa.update(runs)
                .where(runs.c.id == run_id)
                .values(state=state, reason=reason, ended=ended)
            )

    @contextlib.contextmanager
    def run_writes(self) -> Iterator[RunWriter]:
        """One transaction of executor writes, durable when the block ends."""
        with self.engine.begin() as conn:
            writer = RunWriter(conn)
            yield writer
            writer.flush()

    def request_cancel(self, run_id: int, *, now: datetime, reason: str) -> str | None:
        """Ask the owner of a running run to cancel it, or discard a scheduled one at once.
        Returns the state the run was in when this acted (None: no such run). Each step
        is a conditional write, so a run that starts meanwhile is asked, not missed."""
        with self.engine.begin() as conn:
            if _discard(conn, run_id, now=now, reason=reason):
                return "scheduled"
            asked = conn.execute(
                sa.update(runs)
                .where(runs.c.id == run_id, runs.c.state == "running")
                .values(
                    cancel_requested=sa.func.coalesce(
                        runs.c.cancel_requested, sa.literal(now, UTCTime()), type_=UTCTime()
                    ),
                    cancel_reason=sa.func.coalesce(runs.c.cancel_reason, reason),
                )
            ).rowcount
            if asked:
                return "running"
            state = conn.execute(sa.select(runs.c.state).where(runs.c.id == run_id)).scalar()
            return str(state) if state is not None else None

    def claim_run(self, run_id: int, *, owner: Owner, now: datetime) -> bool:
        """Take a scheduled run to start it; False when it is no longer scheduled (it
        was cancelled, or another process took it)."""
        with self.engine.begin() as conn:
            claimed = conn.execute(_RUN_CLAIMED, _owned(run_id, now, owner)).rowcount
        return bool(claimed)

    def cancel_requests(self, run_ids: Sequence[int]) -> dict[int, str]:
        """The runs among `run_ids` that another process asked to cancel, with the reason."""
        if not run_ids:
            return {}
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(runs.c.id, runs.c.cancel_reason).where(
                    runs.c.id.in_(list(run_ids)), runs.c.cancel_requested.is_not(None)
                )
            ).all()
        return {r.id: r.cancel_reason or "cancelled" for r in rows}


_TICK_KEYS = frozenset(("job", "revision", "trigger", "due", "now", "tasks"))
_NEW_TICK_RUN = sa.insert(runs).values(
    job=_B("b_job"),
    revision=_B("b_revision"),
    trigger=_B("b_trigger"),
    state="scheduled",
    due=_time("b_due"),
    created=_time("b_now"),
    attempt=1,
)
_NEW_TICK_RUN_ID = _NEW_TICK_RUN.returning(runs.c.id)
_TICK_RUNS = sa.select(runs.c.id, runs.c.job, runs.c.due).where(
    runs.c.job.in_(sa.bindparam("jobs", expanding=True)),
    runs.c.due.in_(sa.bindparam("dues", expanding=True)),
)
_NEW_TASK = sa.insert(task_runs).values(
    run_id=_B("b_run"), task=_B("b_task"), position=_B("b_position"), state="pending"
)


def rehearse_writes(conn: sa.Connection, job: str) -> None:
    """A tick's writes and a run's, on a run of no job, for the caller to roll back:
    SQLAlchemy compiles each statement the first time it is sent (about a millisecond
    each), and a daemon's first tick should not wait for that."""
    at = datetime(1970, 1, 1, tzinfo=UTC)
    item = {"job": job, "revision": 0, "trigger": "schedule", "due": at, "now": at}
    (run_id,) = _insert_tick_runs(conn, [{**item, "tasks": ["task"]}])
    for _ in range(2):  # the first writes a new cursor, the second moves it
        write_cursors(conn, {job: Cursor(at, "", False)}, stored=[job])
    writer = RunWriter(conn)
    writer.run_started(run_id, at=at, owner=Owner(host="", pid=0, started=0.0))
    writer.task_set(run_id, "task", state="pending", reason=None)
    writer.flush()
    writer.attempt_started(run_id, "task", attempt=1, at=at, log="")
    writer.flush()
    writer.attempt_spawned(run_id, "task", pid=0, pid_started=0.0)
    writer.flush()
    writer.attempt_ended(
        run_id, "task", attempt=1, at=at, exit_code=0, reason=None, task_state="success"
    )
    writer.run_ended(run_id, state="success", reason=None, at=at)
    writer.flush()


def _insert_tick_runs(conn: sa.Connection, items: Sequence[Mapping[str, Any]]) -> list[int]:
    """A tick's runs, many at once: the same as `_insert_run` for each (one run per job
    and due time), in a few statements whatever their number."""
    if not items:
        return []
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
    tasks = []
    for item in new:
        run_id = found[(item["job"], item["due"])] = made[(item["job"], item["due"])]
        tasks += _task_rows(run_id, item["tasks"])
    if tasks:
        conn.execute(_NEW_TASK, tasks)
    return [found[(i["job"], i["due"])] for i in items]


def _insert_run(
    conn: sa.Connection,
    *,
    job: str,
    revision: int,
    trigger: str,
    due: datetime,
    now: datetime,
    state: str = "scheduled",
    tasks: Sequence[str] = (),
    selected: Sequence[str] | None = None,
    env: dict[str, str] | None = None,
    owner: Owner | None = None,
    attempt: int = 1,
    after_run: int | None = None,
    overlap: str | None = None,
    reason: str | None = None,
) -> int:
    if after_run is not None:  # a follow-up is identified by the run it follows
        found = conn.execute(
            sa.select(runs.c.id).where(runs.c.job == job, runs.c.after_run == after_run)
        ).scalar()
        if found is not None:
            return int(found)
    while True:
        found = conn.execute(
            sa.select(runs.c.id).where(runs.c.job == job, runs.c.due == due)
        ).scalar()
        if found is None:
            break
        if trigger in TICK_TRIGGERS:  # a tick's run: one per (job, due), whoever asks
            return int(found)
        due += timedelta(microseconds=1)  # a trigger at the same instant as another
    result = conn.execute(
        sa.insert(runs).values(
            job=job,
            revision=revision,
            trigger=trigger,
            state=state,
            due=due,
            created=now,
            started=now if state == "running" else None,
            attempt=attempt,
            after_run=after_run,
            overlap=overlap,
            reason=reason,
            selected=list(selected) if selected is not None else None,
            env=env or None,
            owner=owner.label if owner else None,
            owner_host=owner.host if owner else None,
            owner_pid=owner.pid if owner else None,
            owner_started=owner.started if owner else None,
        )
    )
    key = result.inserted_primary_key
    if key is None:  # pragma: no cover - every backend reports it
        raise RuntimeError("the store did not return the new run's id")
    run_id = int(key[0])
    if tasks:
        conn.execute(_NEW_TASK, _task_rows(run_id, tasks))
    return run_id


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
        runs.c.state.in_(ACTIVE_STATES)
    )
    if job is not None:
        query = query.where(runs.c.job == job)
    rows = conn.execute(query.order_by(runs.c.id)).all()
    return [ActiveRun(id=r.id, job=r.job, revision=r.revision, state=r.state) for r in rows]


def _discard(conn: sa.Connection, run_id: int, *, now: datetime, reason: str) -> bool:
    """A scheduled run ends `discarded`, its tasks skipped; False when not scheduled."""
    done = conn.execute(
        sa.update(runs)
        .where(runs.c.id == run_id, runs.c.state == "scheduled")
        .values(state="discarded", reason=reason, ended=now)
    ).rowcount
    if done:
        conn.execute(
            sa.update(task_runs)
            .where(task_runs.c.run_id == run_id, task_runs.c.state == "pending")
            .values(state="skipped", reason=reason)
        )
    return bool(done)


def discard_scheduled(conn: sa.Connection, job: str, *, now: datetime, reason: str) -> None:
    """Every scheduled run of a job ends `discarded` (the job was deleted)."""
    ids = conn.execute(
        sa.select(runs.c.id).where(runs.c.job == job, runs.c.state == "scheduled")
    ).scalars()
    for run_id in list(ids):
        _discard(conn, run_id, now=now, reason=reason)
