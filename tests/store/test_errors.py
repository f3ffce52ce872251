"""A database error is one `StoreError` raised by the store itself, naming the store and
what it was doing, so that nothing above the store needs SQLAlchemy."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from runner.errors import RunnerError
from runner.store import Store, StoreError
from runner.store.database import failing_as

NOW = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)


def drop(store: Store, table: str) -> None:
    """The store broken under the program (a table gone): every use of it fails."""
    with store.engine.begin() as conn:
        conn.execute(sa.text(f"DROP TABLE {table}"))


def test_a_failed_write_is_a_store_error_naming_the_store_and_the_write(store: Store) -> None:
    drop(store, "events")
    with pytest.raises(StoreError) as failed:
        store.record_event(kind="missed", at=NOW, message="a tick", job="a")
    assert failed.value.code == "store-error"
    assert failed.value.message.startswith(
        f"the store at {store.where}: recording an event failed: "
    )
    assert "\n" not in failed.value.message
    assert isinstance(failed.value.__cause__, sa.exc.SQLAlchemyError)  # kept for a traceback


def test_a_failed_read_is_a_store_error(store: Store) -> None:
    drop(store, "events")
    with pytest.raises(StoreError, match="reading the missed ticks of a failed"):
        store.missed_ticks("a", ["overlap"])


def test_an_executor_batch_that_fails_is_a_store_error_and_writes_nothing(store: Store) -> None:
    run_id = store.create_run(job="a", revision=1, trigger="manual", due=NOW, now=NOW, tasks=["t"])
    drop(store, "task_attempts")
    failing = pytest.raises(StoreError, match="recording what the runs did failed")
    with failing, store.run_writes() as writer:
        writer.task_set(run_id, "t", state="held", reason="first write of the batch", at=NOW)
        writer.attempt_started(run_id, "t", attempt=1, at=NOW, log="a/1/t.1.log")
    (run,) = store.history(job="a")
    assert [(t.state, t.reason) for t in run.tasks] == [("pending", None)]  # rolled back


def test_other_errors_raised_in_a_store_call_pass_unchanged(store: Store) -> None:
    class Refused(RunnerError):
        code = "refused"

    def guard(active: object) -> None:
        raise Refused("no")

    with pytest.raises(Refused):
        store.create_run(job="a", revision=1, trigger="manual", due=NOW, now=NOW, guard=guard)
    assert store.history(job="a") == []


def test_the_message_hides_the_password() -> None:
    url = "postgresql+psycopg://runner:secret@db.example.org/runner"
    with pytest.raises(StoreError) as failed, failing_as(url, "reading the runs"):
        raise sa.exc.OperationalError("SELECT 1", {}, Exception("server closed the connection"))
    assert failed.value.message == (
        "the store at postgresql+psycopg://runner:***@db.example.org/runner: "
        "reading the runs failed: server closed the connection"
    )
