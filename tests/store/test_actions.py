"""The store's side of actions on runs under way (schema 5), on SQLite and PostgreSQL: a
task action asked of a run's owner and answered in its journal write, a run put back
by `retry`, the audit, runtime holds by selector, and what a scheduled run waits for."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from runner.store import Owner, Store

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
OWNER = Owner(host="h", pid=42, started=1.0)


def running_run(store: Store) -> int:
    run_id = store.create_run(
        job="j", revision=1, trigger="manual", due=NOW, now=NOW, tasks=["a", "b"]
    )
    assert store.claim_run(run_id, owner=OWNER, now=NOW)
    return run_id


def test_a_task_action_is_asked_of_a_running_run_and_answered_once(store: Store) -> None:
    run_id = running_run(store)
    asked = store.request_task_action(
        run_id, action="finish", task="b", arg=None, who="alice", now=NOW
    )
    assert asked is not None
    (request,) = store.task_requests([run_id])
    assert (request.action, request.task, request.who) == ("finish", "b", "alice")
    assert store.task_answer(asked) is None
    with store.run_writes() as w:
        w.task_set(run_id, "b", state="success", reason="finished by alice", at=NOW)
        w.answered(asked, at=NOW, status="ok", state="success", detail="finished by alice")
    answer = store.task_answer(asked)
    assert answer is not None and (answer.status, answer.state) == ("ok", "success")
    assert store.task_requests([run_id]) == []  # answered: not asked again
    with store.run_writes() as w:  # a second answer changes nothing
        w.answered(asked, at=NOW, status="refused", state="x", detail="late")
    assert store.task_answer(asked) == answer


def test_a_task_action_on_a_run_that_is_not_running_is_not_asked(store: Store) -> None:
    run_id = store.create_run(job="j", revision=1, trigger="manual", due=NOW, now=NOW)
    assert (
        store.request_task_action(run_id, action="stop", task="a", arg=None, who="a", now=NOW)
        is None
    )
    assert store.task_requests([run_id]) == []


def test_retry_puts_an_ended_run_back_keeping_what_succeeded(store: Store) -> None:
    run_id = running_run(store)
    with store.run_writes() as w:
        w.attempt_started(run_id, "a", attempt=1, at=NOW, log="a.1")
        w.attempt_ended(
            run_id, "a", attempt=1, at=NOW, exit_code=0, reason=None, task_state="success"
        )
        w.attempt_started(run_id, "b", attempt=1, at=NOW, log="b.1")
        w.attempt_ended(
            run_id, "b", attempt=1, at=NOW, exit_code=1, reason="exit 1", task_state="failed"
        )
        w.run_ended(run_id, state="failed", reason="task b failed", at=NOW)
    later = NOW + timedelta(hours=1)
    assert store.retry_run(run_id, again=["b"], now=later, reason="retried by alice") is None
    run = store.run(run_id)
    assert run is not None
    assert (run.state, run.reason, run.owner, run.ended) == (
        "scheduled",
        "retried by alice",
        None,
        None,
    )
    assert [(t.name, t.state, t.attempt) for t in run.tasks] == [
        ("a", "success", 1),
        ("b", "pending", 1),
    ]
    (queued,) = store.queue_state().queued
    assert queued.retried == later
    assert store.retry_run(run_id, again=["b"], now=later, reason="again") == "scheduled"


def test_the_audit_is_kept_oldest_first_and_filtered(store: Store) -> None:
    for i, who in enumerate(["alice", "bob", "alice"]):
        store.record_audit(
            time=NOW + timedelta(minutes=i),
            who=who,
            origin="cli on h",
            action="finish",
            status="ok",
            job="j",
            run_id=1,
            target="b",
            detail=None,
        )
    assert [e["who"] for e in store.audit()] == ["alice", "bob", "alice"]
    assert [e["time"] for e in store.audit(who="alice")] == [NOW, NOW + timedelta(minutes=2)]
    assert len(store.audit(since=NOW + timedelta(minutes=1))) == 2
    assert [e["who"] for e in store.audit(limit=2)] == ["bob", "alice"]  # the newest two


def test_a_freeze_by_label_covers_the_jobs_with_those_labels(store: Store) -> None:
    store.add_runtime_hold(
        job="", name="freeze-1", now=NOW, selector={"labels": {"team": "finance"}}
    )
    store.add_runtime_hold(job="ledger", name="ledger-1", now=NOW)
    assert [r["name"] for r in store.runtime_hold_rows("ledger", {"team": "finance"})] == [
        "freeze-1",
        "ledger-1",
    ]
    assert [r["name"] for r in store.runtime_hold_rows("docs", {"team": "platform"})] == []
    assert store.runtime_hold_names("") == {"freeze-1"}
    (freeze,) = [h for h in store.runtime_holds() if h.selector]
    assert (freeze.target, freeze.covers("x", {"team": "finance"})) == ("team=finance", True)
    assert store.release_runtime_holds(job="ledger") != []
    assert [r["name"] for r in store.release_runtime_holds(name="freeze-1")] == ["freeze-1"]


def test_what_a_scheduled_run_waits_for_is_kept_until_it_starts(store: Store) -> None:
    run_id = store.create_run(job="j", revision=1, trigger="manual", due=NOW, now=NOW, tasks=["a"])
    store.note_waiting({run_id: "waiting for a slot in pool db (1 of 1 in use)"})
    run = store.run(run_id)
    assert run is not None and run.waiting == "waiting for a slot in pool db (1 of 1 in use)"
    assert store.claim_run(run_id, owner=OWNER, now=NOW)
    run = store.run(run_id)
    assert run is not None and run.waiting is None
