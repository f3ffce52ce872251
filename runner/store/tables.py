"""The state store's tables (SQLAlchemy Core), for SQLite and PostgreSQL alike.

Times are UTC: `timestamptz` on PostgreSQL, fixed-width ISO text on SQLite (which sorts
and compares like the time it is). Specs are JSON. Every decision the scheduler makes
is rebuilt from these tables; nothing lives only in a process's memory.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect

metadata = sa.MetaData()


class UTCTime(sa.types.TypeDecorator[datetime]):
    """An aware datetime, stored in UTC, read back aware."""

    impl = sa.String(32)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.TIMESTAMP(timezone=True))
        return dialect.type_descriptor(sa.String(32))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        if dialect.name == "postgresql":
            return value.astimezone(UTC)
        return _utc_text(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, datetime):
            return value.astimezone(UTC)
        return datetime.fromisoformat(value)  # as written above; 40 times strptime's speed


@functools.lru_cache(maxsize=1024)  # a pass writes the same few instants many times
def _utc_text(value: datetime) -> str:
    """`2026-11-23T12:00:00.000000Z`: fixed width, so that text order is time order."""
    return value.astimezone(UTC).isoformat(timespec="microseconds")[:-6] + "Z"


def utc_param(name: str) -> sa.BindParameter[Any]:
    """A bound parameter that is a time (statements built once, sent many times)."""
    return sa.bindparam(name, type_=UTCTime())


JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

meta = sa.Table(
    "meta",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

resources = sa.Table(
    "resources",
    metadata,
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("name", sa.String(63), primary_key=True),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("spec", JSONType, nullable=False),
    sa.Column("view", JSONType, nullable=False),
    sa.Column("source_file", sa.Text, nullable=False),
    sa.Column("source_line", sa.Integer, nullable=False),
    sa.Column("deleting", sa.Boolean, nullable=False, default=False),
    sa.Column("created", UTCTime, nullable=False),
    sa.Column("updated", UTCTime, nullable=False),
)

revisions = sa.Table(
    "revisions",
    metadata,
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("name", sa.String(63), primary_key=True),
    sa.Column("revision", sa.Integer, primary_key=True),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("spec", JSONType, nullable=False),
    sa.Column("created", UTCTime, nullable=False),
)

file_cache = sa.Table(
    "file_cache",
    metadata,
    sa.Column("root", sa.Text, primary_key=True),
    sa.Column("blob", sa.Text, nullable=False),  # the loader's records, one JSON text
)

reconciles = sa.Table(
    "reconciles",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("started", UTCTime, nullable=False),
    sa.Column("ended", UTCTime, nullable=False),
    sa.Column("origin", sa.String(32), nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("digest", sa.String(64), nullable=True),
    sa.Column("summary", JSONType, nullable=False),
    sa.Column("errors", JSONType, nullable=False),
    # since schema 8: where the configuration came from (git commit, branch, remote, who)
    sa.Column("source", JSONType, nullable=True),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("job", sa.String(63), nullable=False, index=True),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("trigger", sa.String(16), nullable=False),
    sa.Column("state", sa.String(16), nullable=False, index=True),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("due", UTCTime, nullable=False),
    sa.Column("created", UTCTime, nullable=False),
    sa.Column("started", UTCTime, nullable=True),
    sa.Column("ended", UTCTime, nullable=True),
    sa.Column("attempt", sa.Integer, nullable=False, default=1),
    sa.Column("selected", JSONType, nullable=True),
    sa.Column("env", JSONType, nullable=True),
    sa.Column("owner", sa.String(128), nullable=True),
    sa.Column("owner_host", sa.String(255), nullable=True),
    sa.Column("owner_pid", sa.Integer, nullable=True),
    sa.Column("owner_started", sa.Float, nullable=True),
    sa.Column("heartbeat", UTCTime, nullable=True),
    # Added in schema 2: a cancel asked for by another process, which the owner carries out.
    sa.Column("cancel_requested", UTCTime, nullable=True),
    sa.Column("cancel_reason", sa.Text, nullable=True),
    # Added in schema 4: the run a follow-up waits on, and an overlap policy that a
    # trigger gave this one run (`runner run --overlap allow`) in place of the job's.
    sa.Column("after_run", sa.Integer, nullable=True),
    sa.Column("overlap", sa.String(16), nullable=True),
    # Added in schema 5: when `runner retry` last put the run back to be started (its
    # startingDeadline counts from then, not from its due time).
    sa.Column("retried", UTCTime, nullable=True),
    # ... and what a scheduled run waits for (a hold, a pool's slot), as the daemon said.
    sa.Column("waiting", sa.Text, nullable=True),
    sa.UniqueConstraint("job", "due", name="runs_job_due"),
)

task_runs = sa.Table(
    "task_runs",
    metadata,
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("task", sa.String(63), primary_key=True),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False, default=0),
    sa.Column("started", UTCTime, nullable=True),
    sa.Column("ended", UTCTime, nullable=True),
    sa.Column("exit_code", sa.Integer, nullable=True),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("pid", sa.Integer, nullable=True),
    sa.Column("pid_started", sa.Float, nullable=True),
)

task_attempts = sa.Table(
    "task_attempts",
    metadata,
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("task", sa.String(63), primary_key=True),
    sa.Column("attempt", sa.Integer, primary_key=True),
    sa.Column("started", UTCTime, nullable=True),
    sa.Column("ended", UTCTime, nullable=True),
    sa.Column("exit_code", sa.Integer, nullable=True),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("log", sa.Text, nullable=True),
)

holds = sa.Table(
    "holds",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("job", sa.String(63), nullable=False, index=True),
    sa.Column("name", sa.String(63), nullable=False),
    sa.Column("tasks", JSONType, nullable=True),
    sa.Column("until", UTCTime, nullable=True),
    sa.Column("depends_job", sa.String(63), nullable=True),
    sa.Column("depends_task", sa.String(63), nullable=True),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("created", UTCTime, nullable=False),
    sa.Column("created_by", sa.Text, nullable=True),
    # Added in schema 5: a freeze by label (`runner hold --selector`), whose `job` is "".
    sa.Column("selector", JSONType, nullable=True),
    sa.UniqueConstraint("job", "name", name="holds_job_name"),
)

# Added in schema 3: where each job's schedule stands, so that a restart neither repeats
# nor forgets a tick (the last tick handled), and whether its pause is armed (SPEC 2.2).
job_cursors = sa.Table(
    "job_cursors",
    metadata,
    sa.Column("job", sa.String(63), primary_key=True),
    sa.Column("cursor", UTCTime, nullable=False),
    sa.Column("schedule_digest", sa.String(64), nullable=False),
    sa.Column("paused", sa.Boolean, nullable=False, default=False),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("time", UTCTime, nullable=False, index=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("job", sa.String(63), nullable=True, index=True),
    sa.Column("run_id", sa.Integer, nullable=True, index=True),  # since schema 7
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("data", JSONType, nullable=True),
    # since schema 7: the ticks missed, among every run's and task's events
    sa.Index("ix_events_kind_job", "kind", "job"),
)

# Added in schema 5: an action on a task of a running run (finish, stop, retry --only),
# asked by another process and carried out by the run's owner, which writes its answer
# in the same transaction as the task's new state.
run_requests = sa.Table(
    "run_requests",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE"), index=True),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("task", sa.String(63), nullable=False),
    sa.Column("arg", sa.Text, nullable=True),  # finish --reject's reason
    sa.Column("who", sa.Text, nullable=False),
    sa.Column("requested", UTCTime, nullable=False),
    sa.Column("answered", UTCTime, nullable=True),
    sa.Column("status", sa.String(16), nullable=True),  # ok | refused
    sa.Column("state", sa.String(16), nullable=True),  # the task's state after it
    sa.Column("detail", sa.Text, nullable=True),
)

# Added in schema 5: who did what (SPEC 3.1), for `runner audit` and `GET /v1/audit`.
audit = sa.Table(
    "audit",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("time", UTCTime, nullable=False, index=True),
    sa.Column("who", sa.Text, nullable=False),
    sa.Column("origin", sa.Text, nullable=False),  # "cli on HOST", "api from ADDRESS"
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("job", sa.String(63), nullable=True),
    sa.Column("run_id", sa.Integer, nullable=True),
    sa.Column("target", sa.Text, nullable=True),  # a task, a hold
    sa.Column("status", sa.String(16), nullable=False),  # ok | refused
    sa.Column("detail", sa.Text, nullable=True),
)

# Added in schema 6: the answers to API requests that carried an `Idempotency-Key`, kept
# 24 h, so that a client that retries after a timeout gets the first answer again (and
# any daemon on a shared store gives it).
idempotency = sa.Table(
    "idempotency",
    metadata,
    sa.Column("token", sa.String(63), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("request", sa.Text, nullable=False),  # method and path
    sa.Column("created", UTCTime, nullable=False, index=True),
    sa.Column("status", sa.Integer, nullable=True),  # None: being answered
    sa.Column("body", JSONType, nullable=True),
)
