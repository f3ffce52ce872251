"""What follows from a run starting or ending, or from an apply (SPEC 2.2, 2.3, 3), against
a real SQLite store with applied jobs: follow-up runs, the runtime hold of
`holdOnFailure`, the one run of a new manual job with `status: start`, and the retry of
a stale run. Instants are given; no clock is read."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from runner.domain.jobs import job_view
from runner.plan import Action, Plan
from runner.reconciler.apply import apply_config
from runner.runs.afterwards import (
    ON_FAILURE_HOLD,
    create_follow_ups,
    hold_on_failure,
    retry_stale,
    start_new_manual_jobs,
)
from runner.scheduler.jobs import followers_of
from runner.store import RunRecord, RunWriter, Store
from runner.store.tables import events
from tests.conftest import WriteFile

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)

Apply = Callable[..., Plan]


def job(name: str, *, body: str = "", tasks: str = "") -> str:
    """One Job document; `body` holds its other top-level fields (schedule: manual
    unless it says otherwise)."""
    fields = textwrap.dedent(body).strip()
    if "schedule:" not in fields:
        fields = "schedule: {mode: manual}\n" + fields
    listed = textwrap.dedent(tasks).strip() or '- {name: a, run: "true"}'
    return (
        f"apiVersion: runner/v1\nkind: Job\nname: {name}\n{fields}\n"
        f"tasks:\n{textwrap.indent(listed, '  ')}\n"
    )


@pytest.fixture
def apply(write: WriteFile, config_dir: Path, store: Store) -> Apply:
    """Write the given jobs as the whole folder and apply it; the plan applied."""

    def _apply(*documents: str, now: datetime = T0) -> Plan:
        write("jobs.yaml", "---\n".join(documents))
        return apply_config([config_dir], store, now=now).plan

    return _apply


def start_run(store: Store, name: str, *, at: datetime = T0, attempt: int = 1) -> int:
    """A run of `name`, started at `at` (no process owns it: the tests only read it)."""
    spec = store.specs([("Job", name)])[("Job", name)]
    return store.create_run(
        job=name,
        revision=1,
        trigger="manual",
        due=at,
        now=at,
        state="running",
        tasks=[t["name"] for t in spec["tasks"]],
        attempt=attempt,
    )


def end_run(store: Store, name: str, state: str, *, at: datetime) -> int:
    run_id = start_run(store, name, at=at)
    store.set_run_state(run_id, state, now=at + timedelta(seconds=30))
    return run_id


def stored(store: Store, run_id: int) -> RunRecord:
    record = store.run(run_id)
    assert record is not None, f"no run {run_id}"
    return record


# --- followers_of -------------------------------------------------------------------------


def test_followers_of_maps_each_job_to_those_that_name_it_in_after() -> None:
    specs: list[dict[str, Any]] = [
        {"name": "report", "after": ["load", "import"]},
        {"name": "audit", "after": ["load"]},
        {"name": "load", "after": []},
        {"name": "import"},
    ]
    assert followers_of(specs) == {"load": ["audit", "report"], "import": ["report"]}


# --- follow-ups ---------------------------------------------------------------------------


def test_a_follow_up_is_created_waiting_on_the_run_that_started(apply: Apply, store: Store) -> None:
    apply(job("a"), job("b", body="after: [a]"))
    run_a = start_run(store, "a")
    made = create_follow_ups(store, run_id=run_a, job="a", followers=["b"], now=T0 + MIN)
    assert len(made) == 1
    run_b, name, _ = made[0]
    assert name == "b" and run_b is not None
    record = stored(store, run_b)
    assert (record.job, record.trigger, record.state) == ("b", "follow-up", "scheduled")
    assert [t.name for t in record.tasks] == ["a"]
    (queued,) = [q for q in store.queue_state().queued if q.id == run_b]
    assert queued.after_run == run_a and queued.trigger == "follow-up"


def test_each_follower_gets_its_follow_up(apply: Apply, store: Store) -> None:
    apply(job("a"), job("b", body="after: [a]"), job("c", body="after: [a]"))
    run_a = start_run(store, "a")
    followers = followers_of(store.specs([("Job", n) for n in "abc"]).values())["a"]
    made = create_follow_ups(store, run_id=run_a, job="a", followers=followers, now=T0)
    assert [name for _, name, _ in made] == ["b", "c"]
    assert all(run_id is not None for run_id, _, _ in made)
    assert {q.job: q.after_run for q in store.queue_state().queued} == {"b": run_a, "c": run_a}


def test_no_followers_no_follow_ups(apply: Apply, store: Store) -> None:
    apply(job("a"))
    assert (
        create_follow_ups(store, run_id=start_run(store, "a"), job="a", followers=[], now=T0) == []
    )


def test_a_disabled_follower_gets_no_follow_up(apply: Apply, store: Store) -> None:
    apply(job("a"), job("b", body="after: [a]\ndisabled: true"))
    run_a = start_run(store, "a")
    made = create_follow_ups(store, run_id=run_a, job="a", followers=["b"], now=T0)
    assert [(run_id, name) for run_id, name, _ in made] == [(None, "b")]
    assert store.history(job="b") == []


def test_under_overlap_skip_a_follower_with_an_active_run_gets_none_and_an_event(
    apply: Apply, store: Store
) -> None:
    apply(job("a"), job("b", body="after: [a]"))
    busy = start_run(store, "b", at=T0 - MIN)
    run_a = start_run(store, "a")
    made = create_follow_ups(store, run_id=run_a, job="a", followers=["b"], now=T0)
    assert [(run_id, name) for run_id, name, _ in made] == [(None, "b")]
    assert "overlap" in made[0][2]
    assert [r.id for r in store.history(job="b")] == [busy]
    assert store.missed_ticks("b", ("overlap",))["overlap"] == 1
    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(events).where(events.c.job == "b", events.c.kind == "missed")
        ).all()
    assert len(rows) == 1
    assert rows[0].kind == "missed" and rows[0].run_id == run_a
    assert f"run {run_a}" in rows[0].message and "skip" in rows[0].message


def test_under_overlap_queue_a_follow_up_waits_behind_the_running_run(
    apply: Apply, store: Store
) -> None:
    apply(job("a"), job("b", body="after: [a]\nschedule: {mode: manual, overlap: queue}"))
    start_run(store, "b", at=T0 - MIN)
    run_a = start_run(store, "a")
    made = create_follow_ups(store, run_id=run_a, job="a", followers=["b"], now=T0)
    assert made[0][0] is not None
    assert [q.after_run for q in store.queue_state().queued if q.job == "b"] == [run_a]


def test_under_overlap_queue_a_second_waiting_follow_up_is_dropped(
    apply: Apply, store: Store
) -> None:
    apply(job("a"), job("b", body="after: [a]\nschedule: {mode: manual, overlap: queue}"))
    start_run(store, "b", at=T0 - 2 * MIN)
    first = start_run(store, "a", at=T0 - MIN)
    assert create_follow_ups(store, run_id=first, job="a", followers=["b"], now=T0 - MIN)[0][0]
    second = start_run(store, "a")
    made = create_follow_ups(store, run_id=second, job="a", followers=["b"], now=T0)
    assert made[0][0] is None
    assert store.missed_ticks("b", ("overlap",))["overlap"] == 1


def test_under_overlap_cancel_running_a_follow_up_cancels_the_followers_running_run(
    apply: Apply, store: Store
) -> None:
    apply(
        job("a"),
        job("b", body="after: [a]\nschedule: {mode: manual, overlap: cancel-running}"),
    )
    busy = start_run(store, "b", at=T0 - MIN)
    run_a = start_run(store, "a")
    made = create_follow_ups(store, run_id=run_a, job="a", followers=["b"], now=T0)
    assert made[0][0] is not None
    assert store.cancel_requests([busy]) == {
        busy: f"cancelled by a follow-up of run {run_a} of a (overlap: cancel-running)"
    }


def test_two_runs_started_at_one_instant_each_get_a_follow_up_under_allow(
    apply: Apply, store: Store
) -> None:
    apply(
        job("a1"),
        job("a2"),
        job("b", body="after: [a1, a2]\nschedule: {mode: manual, overlap: allow}"),
    )
    run_1, run_2 = start_run(store, "a1"), start_run(store, "a2")
    first = create_follow_ups(store, run_id=run_1, job="a1", followers=["b"], now=T0)
    second = create_follow_ups(store, run_id=run_2, job="a2", followers=["b"], now=T0)
    assert first[0][0] is not None and second[0][0] is not None
    assert first[0][0] != second[0][0]
    waits_on = {q.after_run for q in store.queue_state().queued if q.job == "b"}
    assert waits_on == {run_1, run_2}


# --- holdOnFailure ------------------------------------------------------------------------


def outcomes(store: Store, name: str, states: list[str]) -> list[int]:
    """Runs of `name` that ended in the given states, oldest first, a minute apart."""
    return [end_run(store, name, state, at=T0 + i * MIN) for i, state in enumerate(states, start=1)]


def on_failure_holds(store: Store, name: str) -> list[dict[str, object]]:
    return [r for r in store.runtime_hold_rows(name) if r["name"] == ON_FAILURE_HOLD]


def test_hold_on_failure_places_a_runtime_hold_after_n_failed_runs_in_a_row(
    apply: Apply, store: Store
) -> None:
    apply(job("flaky", body="holdOnFailure: 3"))
    spec = store.specs([("Job", "flaky")])[("Job", "flaky")]
    ids = outcomes(store, "flaky", ["success", "failed", "failed", "failed"])
    reason = hold_on_failure(store, job=job_view(spec), now=T0 + 10 * MIN)
    assert reason is not None
    assert "3 failed runs in a row" in reason
    assert all(str(run_id) in reason for run_id in ids[1:])
    (hold,) = on_failure_holds(store, "flaky")
    assert hold["reason"] == reason and hold["created_by"] == "holdOnFailure"
    assert hold["tasks"] is None and hold["until"] is None and hold["depends_job"] is None
    assert [(h.job, h.name) for h in store.runtime_holds()] == [("flaky", "on-failure")]


@pytest.mark.parametrize(
    "states",
    [
        ["failed", "failed"],  # fewer than N
        ["failed", "failed", "success"],  # the latest succeeded
        ["failed", "success", "failed", "failed"],  # a success among the last 3
        ["failed", "failed", "success", "failed"],
    ],
)
def test_hold_on_failure_needs_n_failures_in_a_row(
    apply: Apply, store: Store, states: list[str]
) -> None:
    apply(job("flaky", body="holdOnFailure: 3"))
    spec = store.specs([("Job", "flaky")])[("Job", "flaky")]
    outcomes(store, "flaky", states)
    assert hold_on_failure(store, job=job_view(spec), now=T0 + 10 * MIN) is None
    assert store.runtime_hold_rows("flaky") == []


def test_stale_runs_count_as_failures(apply: Apply, store: Store) -> None:
    apply(job("flaky", body="holdOnFailure: 3"))
    spec = store.specs([("Job", "flaky")])[("Job", "flaky")]
    outcomes(store, "flaky", ["failed", "stale", "failed"])
    assert hold_on_failure(store, job=job_view(spec), now=T0 + 10 * MIN) is not None
    assert len(on_failure_holds(store, "flaky")) == 1


def test_cancelled_and_discarded_runs_neither_make_nor_break_a_streak(
    apply: Apply, store: Store
) -> None:
    apply(job("flaky", body="holdOnFailure: 2"))
    spec = store.specs([("Job", "flaky")])[("Job", "flaky")]
    outcomes(store, "flaky", ["cancelled", "failed", "discarded", "cancelled"])
    assert hold_on_failure(store, job=job_view(spec), now=T0 + 10 * MIN) is None
    end_run(store, "flaky", "failed", at=T0 + 20 * MIN)  # 2 in a row, the others aside
    assert hold_on_failure(store, job=job_view(spec), now=T0 + 30 * MIN) is not None


def test_hold_on_failure_places_its_hold_only_once(apply: Apply, store: Store) -> None:
    apply(job("flaky", body="holdOnFailure: 2"))
    spec = store.specs([("Job", "flaky")])[("Job", "flaky")]
    outcomes(store, "flaky", ["failed", "failed"])
    assert hold_on_failure(store, job=job_view(spec), now=T0 + 10 * MIN) is not None
    end_run(store, "flaky", "failed", at=T0 + 11 * MIN)
    assert hold_on_failure(store, job=job_view(spec), now=T0 + 12 * MIN) is None
    assert len(on_failure_holds(store, "flaky")) == 1


def test_without_hold_on_failure_no_hold_is_placed(apply: Apply, store: Store) -> None:
    apply(job("flaky"))
    spec = store.specs([("Job", "flaky")])[("Job", "flaky")]
    outcomes(store, "flaky", ["failed"] * 5)
    assert hold_on_failure(store, job=job_view(spec), now=T0 + 10 * MIN) is None
    assert store.runtime_hold_rows("flaky") == []


def test_hold_on_failure_counts_only_its_own_jobs_runs(apply: Apply, store: Store) -> None:
    apply(job("flaky", body="holdOnFailure: 2"), job("other"))
    spec = store.specs([("Job", "flaky")])[("Job", "flaky")]
    end_run(store, "flaky", "failed", at=T0)
    outcomes(store, "other", ["failed", "failed"])
    assert hold_on_failure(store, job=job_view(spec), now=T0 + 10 * MIN) is None


# --- a new manual job with status: start --------------------------------------------------


AUTO = 'schedule: {cron: "0 2 * * *"}'
ONCE = "status: start"


def test_a_new_manual_job_with_status_start_runs_once(apply: Apply, store: Store) -> None:
    plan = apply(job("once", body=ONCE), job("nightly", body=AUTO))
    made = start_new_manual_jobs(store, plan, now=T0)
    assert [name for name, _ in made] == ["once"]
    (record,) = store.history(job="once")
    assert record.id == made[0][1] and record.state == "scheduled"
    assert record.owner is None  # for the daemon to start
    assert [q.id for q in store.queue_state().queued] == [record.id]
    assert store.history(job="nightly") == []


def test_a_new_manual_job_without_status_waits_for_a_trigger(apply: Apply, store: Store) -> None:
    plan = apply(job("restore-database"), job("once", body=ONCE))
    assert [name for name, _ in start_new_manual_jobs(store, plan, now=T0)] == ["once"]
    assert store.history(job="restore-database") == []


def test_a_new_auto_job_gets_no_run(apply: Apply, store: Store) -> None:
    plan = apply(job("nightly", body=AUTO), job("paused", body=AUTO + "\nstatus: paused"))
    assert start_new_manual_jobs(store, plan, now=T0) == []
    assert store.queue_state().queued == []


def test_a_changed_manual_job_does_not_run_again(apply: Apply, store: Store) -> None:
    start_new_manual_jobs(store, apply(job("once", body=ONCE)), now=T0)
    plan = apply(job("once", body=ONCE + "\ndescription: now with words"), now=T0 + MIN)
    assert [c.action for c in plan.changes] == [Action.CHANGE]
    assert start_new_manual_jobs(store, plan, now=T0 + MIN) == []
    assert len(store.history(job="once")) == 1


def test_status_start_added_to_an_existing_manual_job_runs_nothing(
    apply: Apply, store: Store
) -> None:
    start_new_manual_jobs(store, apply(job("later")), now=T0)
    plan = apply(job("later", body=ONCE), now=T0 + MIN)
    assert [c.action for c in plan.changes] == [Action.CHANGE]
    assert start_new_manual_jobs(store, plan, now=T0 + MIN) == []
    assert store.history(job="later") == []


def test_an_unchanged_manual_job_does_not_run_again(apply: Apply, store: Store) -> None:
    start_new_manual_jobs(store, apply(job("once", body=ONCE)), now=T0)
    plan = apply(job("once", body=ONCE), now=T0 + MIN)
    assert start_new_manual_jobs(store, plan, now=T0 + MIN) == []
    assert len(store.history(job="once")) == 1


def test_a_new_disabled_manual_job_gets_no_run(apply: Apply, store: Store) -> None:
    plan = apply(job("off", body=ONCE + "\ndisabled: true"), job("on", body=ONCE))
    assert [name for name, _ in start_new_manual_jobs(store, plan, now=T0)] == ["on"]
    assert store.history(job="off") == []


def test_only_the_new_jobs_of_a_later_apply_run(apply: Apply, store: Store) -> None:
    start_new_manual_jobs(store, apply(job("first", body=ONCE)), now=T0)
    plan = apply(job("first", body=ONCE), job("second", body=ONCE), now=T0 + MIN)
    assert [name for name, _ in start_new_manual_jobs(store, plan, now=T0 + MIN)] == ["second"]
    assert len(store.history(job="first")) == 1


# --- the retry of a stale run -------------------------------------------------------------


RETRIED = """
- {name: extract, run: "true", retries: {limit: 1}}
- {name: load, run: "true", retries: {limit: 1}}
- {name: report, run: "true"}
"""


def running_export(
    store: Store,
    tasks: Sequence[str] = ("extract", "load", "report"),
    *,
    selected: list[str] | None = None,
    env: dict[str, str] | None = None,
    attempt: int = 1,
) -> int:
    """A run of `export` its runner had started."""
    return store.create_run(
        job="export",
        revision=1,
        trigger="manual",
        due=T0,
        now=T0,
        state="running",
        tasks=list(tasks),
        selected=selected,
        env=env,
        attempt=attempt,
    )


def ran(
    w: RunWriter, run_id: int, task: str, n: int, code: int, becomes: str, reason: str | None
) -> None:
    """Attempt `n` of `task`, which ran and exited with `code`; the task `becomes`."""
    w.attempt_started(run_id, task, attempt=n, at=T0, log=f"{task}.{n}.log")
    w.attempt_ended(
        run_id, task, attempt=n, at=T0, exit_code=code, reason=reason, task_state=becomes
    )


def died(store: Store, run_id: int) -> RunRecord:
    """The run as it was read just before its runner was found dead, then marked stale."""
    before = stored(store, run_id)
    assert store.mark_stale(run_id, now=T0 + MIN, reason="its runner died while it ran")
    return before


def stale_run(
    store: Store,
    *,
    attempt: int = 1,
    load_attempt: int = 1,
    selected: list[str] | None = None,
    env: dict[str, str] | None = None,
) -> RunRecord:
    """A run of `export` that died while `load` ran (extract had succeeded): the record as
    it was read just before it was marked stale, as `runner.runs.stale` passes it."""
    run_id = running_export(store, selected=selected, env=env, attempt=attempt)
    with store.run_writes() as w:
        if selected is None or "extract" in selected:
            ran(w, run_id, "extract", 1, 0, "success", None)
        for n in range(1, load_attempt):
            ran(w, run_id, "load", n, 1, "pending", "exit code 1")
        w.attempt_started(
            run_id, "load", attempt=load_attempt, at=T0, log=f"load.{load_attempt}.log"
        )
    return died(store, run_id)


@pytest.fixture
def export(apply: Apply) -> None:
    apply(job("export", tasks=RETRIED))


@pytest.mark.usefixtures("export")
def test_a_stale_run_with_retries_left_gets_a_retry_of_what_had_not_succeeded(
    store: Store,
) -> None:
    run = stale_run(store, env={"DAY": "2026-12-01"})
    retry = retry_stale(store, run, now=T0 + 2 * MIN)
    assert retry is not None
    assert stored(store, run.id).state == "stale"
    record = stored(store, retry)
    assert (record.trigger, record.state, record.attempt) == ("retry", "scheduled", 2)
    assert record.selected == ["load", "report"]
    assert record.env == {"DAY": "2026-12-01"}
    assert [t.name for t in record.tasks] == ["extract", "load", "report"]
    assert record.owner is None
    assert [q.id for q in store.queue_state().queued] == [retry]


@pytest.mark.usefixtures("export")
def test_a_retry_keeps_the_runs_selection(store: Store) -> None:
    run = stale_run(store, selected=["load"])
    retry = retry_stale(store, run, now=T0 + 2 * MIN)
    assert retry is not None
    assert stored(store, retry).selected == ["load"]


@pytest.mark.usefixtures("export")
def test_no_retry_once_the_runs_attempts_used_up_the_limit(store: Store) -> None:
    """load allows one retry; this run already is the second attempt."""
    run = stale_run(store, attempt=2)
    assert retry_stale(store, run, now=T0 + 2 * MIN) is None
    assert store.queue_state().queued == []


@pytest.mark.usefixtures("export")
def test_no_retry_once_the_tasks_own_attempts_used_up_the_limit(store: Store) -> None:
    run = stale_run(store, load_attempt=2)
    assert retry_stale(store, run, now=T0 + 2 * MIN) is None
    assert store.queue_state().queued == []


@pytest.mark.usefixtures("export")
def test_a_run_that_died_while_a_task_waited_for_its_retry_is_retried(store: Store) -> None:
    """load's first attempt failed and it waited for its backoff when the runner died."""
    run_id = running_export(store)
    with store.run_writes() as w:
        for task, code, becomes in (("extract", 0, "success"), ("load", 1, "pending")):
            ran(w, run_id, task, 1, code, becomes, None)
    before = died(store, run_id)
    retry = retry_stale(store, before, now=T0 + 2 * MIN)
    assert retry is not None
    assert stored(store, retry).selected == ["load", "report"]


def test_attempts_count_across_the_runs_attempt_number(apply: Apply, store: Store) -> None:
    apply(
        job(
            "export",
            tasks="""
            - {name: extract, run: "true"}
            - {name: load, run: "true", retries: {limit: 3}}
            - {name: report, run: "true"}
            """,
        )
    )
    assert retry_stale(store, stale_run(store, attempt=3), now=T0 + 2 * MIN) is not None
    store.delete_runs([r.id for r in store.history(job="export")])
    assert retry_stale(store, stale_run(store, attempt=4), now=T0 + 2 * MIN) is None


def test_no_retry_without_retries(apply: Apply, store: Store) -> None:
    apply(
        job(
            "export",
            tasks="""
            - {name: extract, run: "true"}
            - {name: load, run: "true"}
            - {name: report, run: "true"}
            """,
        )
    )
    assert retry_stale(store, stale_run(store), now=T0 + 2 * MIN) is None


def test_no_retry_for_a_job_disabled_since(apply: Apply, store: Store) -> None:
    apply(job("export", tasks=RETRIED))
    run = stale_run(store)
    apply(job("export", body="disabled: true", tasks=RETRIED), now=T0 + MIN)
    assert retry_stale(store, run, now=T0 + 2 * MIN) is None
    assert store.queue_state().queued == []


def test_a_task_that_failed_before_with_continue_on_error_does_not_block_the_retry(
    apply: Apply, store: Store
) -> None:
    apply(
        job(
            "export",
            tasks="""
            - {name: extract, run: "false", continueOnError: true}
            - {name: load, run: "true", retries: {limit: 1}}
            """,
        )
    )
    run_id = running_export(store, ["extract", "load"])
    with store.run_writes() as w:
        ran(w, run_id, "extract", 1, 1, "failed", "exit code 1")
        w.attempt_started(run_id, "load", attempt=1, at=T0, log="load.1.log")
    before = died(store, run_id)
    assert retry_stale(store, before, now=T0 + 2 * MIN) is not None
