"""The store's busiest writes, sent once before they are needed (`Store.warm_up`).

SQLAlchemy compiles a statement the first time it is sent, about a millisecond each. The
writes sent most often (a tick's runs and cursors, an executor's run and task writes)
are sent once on a run of no job, for the caller to roll back, so that the first real
ones are as quick as the next.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from runner.domain import RunState, TaskState
from runner.store.cursors import Cursor, write_cursors
from runner.store.run_writes import RunWriter
from runner.store.runs import Owner, insert_tick_runs

# The job the warm-up writes for: never a job's name (names are lowercase letters,
# digits, ".", "_" and "-"), and never kept (its transaction is rolled back).
WARM_UP_JOB = "(warm-up)"


def send_busiest_writes(conn: sa.Connection) -> None:
    """A tick's writes and a run's, on a run of `WARM_UP_JOB`, in `conn`'s transaction,
    which the caller rolls back."""
    at = datetime(1970, 1, 1, tzinfo=UTC)
    job = WARM_UP_JOB
    item = {"job": job, "revision": 0, "trigger": "schedule", "due": at, "now": at}
    (run_id,) = insert_tick_runs(conn, [{**item, "tasks": ["task"]}])
    for _ in range(2):  # the first writes a new cursor, the second moves it
        write_cursors(conn, {job: Cursor(at, "", False)}, stored=[job])
    writer = RunWriter(conn)
    writer.run_started(run_id, at=at, owner=Owner(host="", pid=0, started=0.0))
    writer.task_set(run_id, "task", state=TaskState.PENDING, reason=None, at=at)
    writer.flush()
    writer.attempt_started(run_id, "task", attempt=1, at=at, log="")
    writer.flush()
    writer.attempt_spawned(run_id, "task", pid=0, pid_started=0.0)
    writer.flush()
    writer.attempt_ended(
        run_id, "task", attempt=1, at=at, exit_code=0, reason=None, task_state=TaskState.SUCCESS
    )
    writer.run_ended(run_id, state=RunState.SUCCESS, reason=None, at=at)
    writer.flush()
