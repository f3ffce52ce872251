"""`Store`: one object over the store's tables, the same for SQLite and PostgreSQL.

It opens (creating or migrating) the database and brings together the store's concerns,
each in its own module: what was applied (`configuration`), runs made (`runs`), what an
executor writes (`run_writes`), reading runs back (`run_reads`), runtime holds
(`holds`), schedules' cursors (`cursors`) and a daemon's queue (`queue`). What each
caller needs of it is written down as small interfaces in `runner.store.interfaces`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import sqlalchemy as sa

from runner.domain.runs import ActiveRun
from runner.store import interfaces
from runner.store import lock as locks
from runner.store.actions import ActionOperations
from runner.store.configuration import (
    RESOURCE_COLUMNS,
    ConfigurationOperations,
    StoredResource,
    chunks,
)
from runner.store.cursors import Cursor, CursorOperations, read_cursors
from runner.store.database import NO_STATEMENT_TIMEOUT, failing_as
from runner.store.engine import create_engine, reads_time_out
from runner.store.events import EventOperations
from runner.store.holds import HoldOperations
from runner.store.idempotency import IdempotencyOperations
from runner.store.migrations import LATEST, current_version, migrate
from runner.store.queue import QueueOperations
from runner.store.run_reads import RunQueries
from runner.store.run_writes import RunWriteOperations
from runner.store.runs import RunOperations, active_runs
from runner.store.tables import resources
from runner.store.warmup import WARM_UP_JOB, send_busiest_writes


class TickInputs(NamedTuple):
    """What a tick reads in one connection (`Store.tick_inputs`)."""

    # each with its applied spec (None: not read, the reader has its view)
    jobs: list[tuple[StoredResource, dict[str, Any] | None]]
    cursors: dict[str, Cursor]  # by job
    active: list[ActiveRun]  # every active run, of any job


class Store(
    ConfigurationOperations,
    RunOperations,
    RunWriteOperations,
    RunQueries,
    HoldOperations,
    CursorOperations,
    QueueOperations,
    ActionOperations,
    IdempotencyOperations,
    EventOperations,
    # and so every interface of `runner.store.interfaces`, as mypy checks:
    interfaces.Locking,
    interfaces.AppliedResources,
    interfaces.RunCreation,
    interfaces.RunJournal,
    interfaces.RunHistory,
    interfaces.RuntimeHolds,
    interfaces.Schedules,
    interfaces.Queue,
    interfaces.Actions,
):
    def __init__(self, url: str, *, home: Path, command: bool = False) -> None:
        """`command`: opened for one command, not a daemon (see `runner.store.engine`)."""
        self.url = url
        self.home = home
        self.dialect = "postgresql" if url.startswith("postgresql") else "sqlite"
        self.engine = create_engine(url, command=command)
        self.reads_time_out = reads_time_out(url, command=command)
        with self.engine.connect() as conn:
            if current_version(conn) == LATEST:
                return  # a reader takes no write lock to find nothing to migrate
        try:
            self._migrate()
        except (sa.exc.OperationalError, sa.exc.ProgrammingError, sa.exc.IntegrityError) as exc:
            if not any(s in str(exc) for s in ("already exists", "UNIQUE", "duplicate key")):
                raise
            # Another process created the new store's tables at the same moment; now
            # they are there, and the second look finds them stamped.
            self._migrate()

    def _migrate(self) -> None:
        with self.engine.begin() as conn:
            if self.reads_time_out:
                conn.execute(NO_STATEMENT_TIMEOUT)
            migrate(conn, self.where)

    def close(self) -> None:
        self.engine.dispose()

    def forget_connections(self) -> None:
        """In a forked child: drop the parent's connections without closing them (they
        are the parent's); the child opens its own."""
        self.engine.dispose(close=False)

    def commit_counter(self) -> Callable[[], int]:
        """How many transactions this process commits through the store from now on:
        the function returned says so far (a daemon's reads made ahead stand while it
        does not move)."""
        count = [0]

        def committed(_conn: Any) -> None:
            count[0] += 1

        sa.event.listen(self.engine, "commit", committed)
        return lambda: count[0]

    @contextlib.contextmanager
    def lock(self, *, timeout: float, command: str | None = None) -> Iterator[None]:
        """The write lock (`apply`, a daemon's reconcile); see `runner.store.lock`."""
        if self.dialect == "postgresql":
            held = locks.advisory_lock(self.engine, timeout=timeout, command=command)
        else:
            database = Path(sa.make_url(self.url).database or "state.db")
            path = database.with_name(database.name + ".lock")
            held = locks.file_lock(path, timeout=timeout, command=command)
        with failing_as(self.url, "holding its write lock"), held:
            yield

    def tick_inputs(
        self, names: Sequence[str] | None = None, *, with_specs: bool = True
    ) -> TickInputs:
        """What a tick reads, in one connection: the jobs (all, or those named) with
        their specs (unless not `with_specs`), their cursors, and every active run."""
        columns = (*RESOURCE_COLUMNS, resources.c.spec) if with_specs else RESOURCE_COLUMNS
        query = sa.select(*columns).where(resources.c.kind == "Job")
        with self.reading("reading the jobs due") as conn:
            if names is None:
                rows = list(conn.execute(query.order_by(resources.c.name)))
                cursors = read_cursors(conn, None)
            else:
                rows, cursors = [], {}
                for chunk in chunks(sorted(names), 500):
                    rows += conn.execute(query.where(resources.c.name.in_(chunk)))
                    cursors.update(read_cursors(conn, chunk))
            active = active_runs(conn)
        if not with_specs:
            return TickInputs([(StoredResource._make(r), None) for r in rows], cursors, active)
        jobs = [(StoredResource._make(r[:-1]), r[-1] or {}) for r in rows]
        return TickInputs(jobs, cursors, active)

    def warm_up(self) -> None:
        """Send once the statements sent most often (the reads of a tick and of the
        queue, and writes rolled back: `runner.store.warmup`), so that the first of
        them is as quick as the next."""
        self.generation()
        self.tick_inputs([WARM_UP_JOB], with_specs=False)  # as the daemon's ticks read
        self.queue_state(even_empty=True)
        with self.reading("warming up") as conn:
            transaction = conn.begin()
            try:
                send_busiest_writes(conn)
            finally:
                transaction.rollback()
