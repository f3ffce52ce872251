"""Forward-only schema migrations: a short ordered list, no Alembic.

Why not Alembic: the store has a handful of tables, the runner migrates itself when it
opens the store (no separate tool to run), and the same code must serve SQLite and
PostgreSQL. A new store is created from the current tables and stamped with the latest
version; an older store runs each later migration in order, in one transaction. A store
newer than the program is refused rather than guessed at.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

from runner.errors import RunnerError
from runner.store.database import StoreError
from runner.store.tables import (
    audit,
    events,
    holds,
    idempotency,
    job_cursors,
    meta,
    metadata,
    reconciles,
    run_requests,
    runs,
)

Migration = Callable[[sa.Connection], None]

# (version, what it does, how). Append only; never edit a released step.
MIGRATIONS: list[tuple[int, str, Migration]] = [
    (1, "initial tables", lambda conn: metadata.create_all(conn)),
    (
        2,
        "runs: cancel requests",
        lambda conn: _add_columns(conn, runs, "cancel_requested", "cancel_reason"),
    ),
    (3, "job cursors", lambda conn: metadata.create_all(conn, tables=[job_cursors])),
    (
        4,
        "runs: the run a follow-up waits on, a trigger's overlap policy",
        lambda conn: _add_columns(conn, runs, "after_run", "overlap"),
    ),
    (
        5,
        "task actions asked of a run's owner, the audit, retried runs, what a scheduled run "
        "waits for, holds by selector",
        lambda conn: _actions(conn),
    ),
    (6, "idempotency keys", lambda conn: metadata.create_all(conn, tables=[idempotency])),
    (
        7,
        "events: by run (a run's events streamed, pruned with it), by kind and job",
        lambda conn: _indexes(conn, events, "ix_events_run_id", "ix_events_kind_job"),
    ),
    (
        8,
        "reconciles: where the configuration came from",
        lambda conn: _add_columns(conn, reconciles, "source"),
    ),
]
LATEST = MIGRATIONS[-1][0]


def _actions(conn: sa.Connection) -> None:
    metadata.create_all(conn, tables=[run_requests, audit])
    _add_columns(conn, runs, "retried", "waiting")
    _add_columns(conn, holds, "selector")


class StoreTooNew(RunnerError):
    """The store was written by a newer runner: refused rather than guessed at."""

    code = "store-too-new"


def current_version(conn: sa.Connection) -> int | None:
    if not sa.inspect(conn).has_table("meta"):
        return None
    value = conn.execute(sa.select(meta.c.value).where(meta.c.key == "schema_version")).scalar()
    return int(value) if value is not None else None


def migrate(conn: sa.Connection, where: str) -> int:
    """Bring the store at `where` to the latest schema; return the version it had.

    Two processes opening an old store at once migrate it one after the other: the
    transaction first takes a lock (an advisory lock on PostgreSQL, the write lock on
    SQLite), then reads the version, so the second sees the first's result."""
    _serialize(conn)
    version = current_version(conn)
    if version is None:
        _not_foreign(conn, where)
        metadata.create_all(conn)
        _stamp(conn, LATEST, new=True)
        return 0
    if version > LATEST:
        raise StoreTooNew(
            f"the store at {where} has schema version {version}, newer than this runner "
            f"knows ({LATEST}): upgrade runner, or point --store/--home elsewhere"
        )
    for number, _, step in MIGRATIONS:
        if number > version:
            step(conn)
    if version < LATEST:
        _stamp(conn, LATEST, new=False)
    return version


class ForeignStore(StoreError):
    """A SQLite file with tables but none of runner's: not made a store over."""

    code = "store-foreign"


def _not_foreign(conn: sa.Connection, where: str) -> None:
    """A SQLite database with tables of its own is another program's (or a store whose
    `meta` was lost): refused. (A PostgreSQL database may hold other schemas' tables.)"""
    if conn.dialect.name != "sqlite":
        return
    tables = sa.inspect(conn).get_table_names()
    if tables:
        shown = ", ".join(sorted(tables)[:5])
        raise ForeignStore(
            f"the store at {where} holds tables ({shown}) but no runner store: another "
            "program's database, or a damaged store; point --home or --store elsewhere, or "
            "restore the store from a backup"
        )


def _stamp(conn: sa.Connection, version: int, *, new: bool) -> None:
    if new:
        conn.execute(sa.insert(meta).values(key="schema_version", value=str(version)))
    else:
        conn.execute(
            sa.update(meta).where(meta.c.key == "schema_version").values(value=str(version))
        )


def _indexes(conn: sa.Connection, table: sa.Table, *names: str) -> None:
    """Indexes of the table's definition added later (step 1 makes them in a new store)."""
    for index in table.indexes:
        if index.name in names:
            index.create(conn, checkfirst=True)


def _add_columns(conn: sa.Connection, table: sa.Table, *names: str) -> None:
    """ALTER TABLE ... ADD COLUMN for nullable columns, typed for the connection's dialect."""
    for name in names:
        column = table.c[name]
        kind = column.type.compile(dialect=conn.dialect)
        conn.execute(sa.text(f"ALTER TABLE {table.name} ADD COLUMN {name} {kind}"))


MIGRATION_LOCK = 0x72756E6D  # "runm"


def _serialize(conn: sa.Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
    elif sa.inspect(conn).has_table("meta"):
        # A write that changes nothing, for SQLite's write lock (held to the commit).
        conn.execute(
            sa.update(meta).where(meta.c.key == "schema_version").values(value=meta.c.value)
        )
