"""The events table as `GET /v1/events` reads it (schema 7), on SQLite and PostgreSQL:
runs' and tasks' states written with the changes they tell of, in order, by job and by
run; holds; and a pruned run's events going with it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from runner.store import Owner, Store

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
OWNER = Owner(host="h", pid=42, started=1.0)


def a_run(store: Store, job: str) -> int:
    """A run of `job` made, started, its task run and ended: the executor's writes."""
    run_id = store.create_run(job=job, revision=1, trigger="manual", due=NOW, now=NOW, tasks=["t"])
    later = NOW + timedelta(seconds=1)
    with store.run_writes() as w:
        w.run_started(run_id, at=later, owner=OWNER)
        w.attempt_started(run_id, "t", attempt=1, at=later, log="x.log")
    with store.run_writes() as w:
        w.attempt_ended(
            run_id, "t", attempt=1, at=later, exit_code=3, reason="exit code 3", task_state="failed"
        )
        w.run_ended(run_id, state="failed", reason="task t failed", at=later)
    return run_id


def test_a_runs_changes_are_events_in_order_by_job_and_by_run(store: Store) -> None:
    assert store.last_event_id() == 0
    first, second = a_run(store, "a"), a_run(store, "b")
    told = [
        (e.kind, e.job, e.run, e.data.get("task"), e.data.get("state"))
        for e in store.events_after(0)
    ]
    assert told == [
        ("run", "a", first, None, "scheduled"),
        ("run", "a", first, None, "running"),
        ("task", "a", first, "t", "running"),
        ("task", "a", first, "t", "failed"),
        ("run", "a", first, None, "failed"),
        ("run", "b", second, None, "scheduled"),
        ("run", "b", second, None, "running"),
        ("task", "b", second, "t", "running"),
        ("task", "b", second, "t", "failed"),
        ("run", "b", second, None, "failed"),
    ]
    ids = [e.id for e in store.events_after(0)]
    assert ids == sorted(ids) and store.last_event_id() == ids[-1]
    assert [e.run for e in store.events_after(0, job="b")] == [second] * 5
    by_run = store.events_after(ids[2], run_id=first)
    assert [e.id for e in by_run] == ids[3:5]
    ended = by_run[0].as_json()
    assert ended["task"] == "t" and ended["state"] == "failed" and ended["detail"] == "exit code 3"
    assert store.events_after(0, limit=3)[-1].id == ids[2]


def test_holds_placed_and_released_and_a_pruned_runs_events(store: Store) -> None:
    store.add_runtime_hold(job="a", name="maint", now=NOW, reason="disk full")
    assert store.release_runtime_holds(job="a", now=NOW) != []
    holds = [(e.kind, e.job, e.data["name"], e.data["state"]) for e in store.events_after(0)]
    assert holds == [("hold", "a", "maint", "placed"), ("hold", "a", "maint", "released")]
    run_id = a_run(store, "a")
    store.delete_runs([run_id])
    assert [e.kind for e in store.events_after(0)] == ["hold", "hold"]
