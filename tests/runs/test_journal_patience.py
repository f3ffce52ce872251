"""A journal write the store refuses is tried again for `patience` seconds while the tasks
run on (issue 17: a store locked past its busy timeout made the daemon kill its tasks
and exit, and a run whose task had succeeded was left `stale`). Real SQLite, locked by
another connection's `BEGIN EXCLUSIVE`; the busy timeout shortened so that a try fails
in 0.2 s; the waits between tries are on a fake clock."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from runner.clock import FakeClock
from runner.executors import journal as j
from runner.executors.logs import LogFiles
from runner.runs.journal import RETRY_EVERY, StoreJournal
from runner.store import Store, StoreError, open_store
from runner.system.procs import myself

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


@pytest.fixture
def quick_store(home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    monkeypatch.setattr("runner.store.engine.BUSY_TIMEOUT_MS", 200)
    opened = open_store(home=home)
    try:
        yield opened
    finally:
        opened.close()


class Lock:
    """Another process's write lock on the store file, taken and given back."""

    def __init__(self, home: Path) -> None:
        self.conn: sqlite3.Connection | None = sqlite3.connect(
            home / "state.db", isolation_level=None, timeout=5
        )
        self.conn.execute("BEGIN EXCLUSIVE")

    def release(self) -> None:
        if self.conn is not None:
            self.conn.execute("COMMIT")
            self.conn.close()
            self.conn = None


def _run(store: Store) -> int:
    return store.create_run(
        job="j", revision=1, trigger="manual", due=NOW, now=NOW, tasks=["t"], owner=None
    )


def test_a_write_waits_for_the_store_and_goes_through_once_it_is_back(
    quick_store: Store, home: Path
) -> None:
    run_id = _run(quick_store)
    told: list[tuple[str | None, float]] = []
    lock = Lock(home)

    def waiting(exc: StoreError | None, waited: float) -> None:
        told.append((exc and exc.message, waited))
        if len(told) == 2:  # the second failed try: the other process lets go
            lock.release()

    clock = FakeClock(NOW)
    journal = StoreJournal(quick_store, LogFiles(home), clock, patience=600.0, waiting=waiting)
    try:
        journal.write([j.RunStarted(run_id, NOW, myself())])
    finally:
        lock.release()
    record = quick_store.run(run_id)
    assert record is not None and record.state == "running"
    assert [message is None for message, _ in told] == [False, False, True]
    assert "locked" in (told[0][0] or "")
    assert [waited for _, waited in told] == [0.0, RETRY_EVERY, 2 * RETRY_EVERY]


def test_a_store_away_longer_than_the_patience_is_an_error(quick_store: Store, home: Path) -> None:
    run_id = _run(quick_store)
    lock = Lock(home)
    tries: list[float] = []
    journal = StoreJournal(
        quick_store,
        LogFiles(home),
        FakeClock(NOW),
        patience=3 * RETRY_EVERY,
        waiting=lambda exc, waited: tries.append(waited),
    )
    try:
        with pytest.raises(StoreError):
            journal.write([j.RunStarted(run_id, NOW, myself())])
    finally:
        lock.release()
    assert tries == [0.0, RETRY_EVERY, 2 * RETRY_EVERY]
    record = quick_store.run(run_id)
    assert record is not None and record.state == "scheduled"  # nothing half-written


def test_without_patience_the_first_refusal_is_an_error(quick_store: Store, home: Path) -> None:
    run_id = _run(quick_store)
    lock = Lock(home)
    journal = StoreJournal(quick_store, LogFiles(home), FakeClock(NOW))
    try:
        with pytest.raises(StoreError):
            journal.write([j.RunStarted(run_id, NOW, myself())])
    finally:
        lock.release()
