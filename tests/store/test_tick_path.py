"""What a daemon's tick and start send, made short: cursors written without looking
first when the tick read them (and looked up after all when one went meanwhile), a start
that takes its runs without reading them back when the write says it matched them, the
queue read in full before a tick adds to it, and the warm-up that compiles it all
before the first tick and leaves nothing behind. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from runner.store import Cursor, RunsTaken, Store
from runner.store.cursors import write_cursors
from runner.store.queue import QueueState
from runner.store.tables import job_cursors, runs, task_attempts, task_runs
from runner.system.procs import myself

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def cursor(minutes: int) -> Cursor:
    return Cursor(NOW + timedelta(minutes=minutes), "digest", False)


def count(store: Store, table: sa.Table) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def test_cursors_the_tick_read_are_moved_and_new_ones_made_in_one_write(store: Store) -> None:
    store.set_cursors({"a": cursor(1), "b": cursor(1)})
    with store.engine.begin() as conn:
        write_cursors(conn, {"a": cursor(2), "b": cursor(3), "c": cursor(4)}, stored=["a", "b"])
    assert store.cursors() == {"a": cursor(2), "b": cursor(3), "c": cursor(4)}


def test_a_cursor_read_as_there_but_gone_since_is_written_anyway(store: Store) -> None:
    store.set_cursors({"a": cursor(1)})  # "gone" was read by the tick, then deleted
    with store.engine.begin() as conn:
        write_cursors(conn, {"a": cursor(2), "gone": cursor(5)}, stored=["a", "gone"])
    assert store.cursors() == {"a": cursor(2), "gone": cursor(5)}


def test_tick_runs_are_found_by_job_and_due_time_when_made_again(store: Store) -> None:
    item = {"job": "j", "revision": 1, "trigger": "schedule", "due": NOW, "now": NOW}
    other = {**item, "job": "k", "due": NOW + timedelta(minutes=1)}
    first = store.create_runs([{**item, "tasks": ["a"]}])
    # the same (job, due) found among others that are new; (k, NOW) is not (k, NOW+1)
    again = store.create_runs([{**other, "tasks": ["a"]}, {**item, "tasks": ["a"]}])
    assert again[1] == first[0]
    assert again[0] != first[0]
    assert count(store, runs) == 2


def test_a_start_that_matched_every_run_takes_them_and_one_that_did_not_says_which(
    store: Store,
) -> None:
    ids = [store.create_run(job=j, revision=1, trigger="manual", due=NOW, now=NOW) for j in "abc"]
    store.set_run_state(ids[1], "cancelled", now=NOW)  # ended before it could start
    with store.run_writes() as writer:
        writer.run_started(ids[0], at=NOW, owner=myself())
    assert store.run(ids[0]) is not None and store.run(ids[0]).state == "running"  # type: ignore[union-attr]
    try:
        with store.run_writes() as writer:
            writer.run_started(ids[2], at=NOW, owner=myself())
            writer.run_started(ids[1], at=NOW, owner=myself())
    except RunsTaken as taken:
        assert taken.run_ids == frozenset({ids[1]})
    else:
        raise AssertionError("a cancelled run was started")
    assert store.run(ids[2]).state == "scheduled"  # type: ignore[union-attr]  # rolled back


def test_the_queue_read_before_a_tick_has_the_active_runs_and_holds_even_when_empty(
    store: Store,
) -> None:
    run = store.create_run(job="j", revision=1, trigger="manual", due=NOW, now=NOW)
    assert store.claim_run(run, owner=myself(), now=NOW)
    store.add_runtime_hold(job="h", name="freeze", now=NOW, reason="release day")
    assert store.queue_state() == QueueState([], [], set(), {})  # what admission reads
    state = store.queue_state(even_empty=True)
    assert state.queued == []
    assert [(a.id, a.state) for a in state.active] == [(run, "running")]
    assert state.held_jobs == {"h"}


def test_the_warm_up_before_the_first_tick_leaves_nothing_behind(store: Store) -> None:
    generation = store.generation()
    store.warm_up()
    for table in (runs, task_runs, task_attempts, job_cursors):
        assert count(store, table) == 0, table.name
    assert store.generation() == generation
    # and the store works as before: a tick's run is made and started
    (run_id,) = store.create_runs(
        [{"job": "j", "revision": 1, "trigger": "schedule", "due": NOW, "now": NOW, "tasks": ["a"]}]
    )
    with store.run_writes() as writer:
        writer.run_started(run_id, at=NOW, owner=myself())
    assert store.run(run_id).state == "running"  # type: ignore[union-attr]
