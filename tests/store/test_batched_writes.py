"""Writes gathered and sent many at a time: an executor's run writes (one `executemany` per
statement, the order kept for each row), a tick's runs created together, the daemon's
queue read in one go, and the start time of a task that has already exited."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from runner.executors.process import spawn
from runner.store import RunRecord, RunWriter, Store
from runner.store.queue import QueueState
from runner.store.tables import runs, task_runs
from runner.system.procs import myself, start_time

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(seconds=90)
DEADLINE = 10.0


def stored(store: Store, run_id: int) -> RunRecord:
    record = store.run(run_id)
    assert record is not None, f"no run {run_id}"
    return record


def count(store: Store, table: sa.Table) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def scheduled(store: Store, job: str, *, tasks: Sequence[str] = ("a",)) -> int:
    return store.create_run(
        job=job, revision=1, trigger="manual", due=NOW, now=NOW, tasks=list(tasks)
    )


def started(store: Store, jobs: Sequence[str]) -> list[int]:
    """Runs of `jobs`, started by this process in one block."""
    ids = [scheduled(store, job) for job in jobs]
    with store.run_writes() as writer:
        for run_id in ids:
            writer.run_started(run_id, at=NOW, owner=myself())
    return ids


# --- run writes ---------------------------------------------------------------------------


def test_runs_started_in_one_block_and_ended_in_another(store: Store) -> None:
    # Five writes of each statement in one batch: one executemany each, which a statement
    # with an expanding IN (`state IN (...)`) could not be part of.
    ids = [scheduled(store, f"job-{n}", tasks=["a", "b"]) for n in range(5)]
    owner = myself()
    with store.run_writes() as writer:
        for run_id in ids:
            writer.run_started(run_id, at=NOW, owner=owner)
            writer.attempt_started(run_id, "a", attempt=1, at=NOW, log=f"logs/{run_id}/a.1.log")
    for run_id in ids:
        record = stored(store, run_id)
        assert (record.state, record.started, record.heartbeat) == ("running", NOW, NOW)
        assert record.owner == owner
        assert [(t.name, t.state, t.attempt) for t in record.tasks] == [
            ("a", "running", 1),
            ("b", "pending", 0),
        ]
        assert [(x.attempt, x.started, x.ended, x.log) for x in record.tasks[0].attempts] == [
            (1, NOW, None, f"logs/{run_id}/a.1.log")
        ]

    failing = set(ids[1::2])
    with store.run_writes() as writer:
        for run_id in ids:
            fails = run_id in failing
            writer.attempt_ended(
                run_id,
                "a",
                attempt=1,
                at=LATER,
                exit_code=3 if fails else 0,
                reason="exit code 3" if fails else None,
                task_state="failed" if fails else "success",
            )
            if fails:
                writer.task_set(run_id, "b", state="skipped", reason="a failed", at=LATER)
            writer.run_ended(
                run_id,
                state="failed" if fails else "success",
                reason="a failed" if fails else None,
                at=LATER,
            )
    for run_id in ids:
        record = stored(store, run_id)
        fails = run_id in failing
        assert (record.state, record.reason, record.ended) == (
            ("failed", "a failed", LATER) if fails else ("success", None, LATER)
        )
        a, b = record.tasks
        assert (a.state, a.attempt, a.ended, a.exit_code, a.reason) == (
            ("failed", 1, LATER, 3, "exit code 3") if fails else ("success", 1, LATER, 0, None)
        )
        assert (b.state, b.reason) == (("skipped", "a failed") if fails else ("pending", None))
        assert [(x.attempt, x.ended, x.exit_code, x.reason) for x in a.attempts] == [
            (1, LATER, 3, "exit code 3") if fails else (1, LATER, 0, None)
        ]


@pytest.mark.parametrize(
    "first_attempt_before", [True, False], ids=["attempt-1-started-before", "all-in-one-block"]
)
def test_a_retry_written_in_one_block_keeps_its_order(
    store: Store, first_attempt_before: bool
) -> None:
    # With attempt 1 started in an earlier block, the block's first statements are the
    # ending ones: sent by statement, not in order, the task would end up `running`.
    run_id = scheduled(store, "retried")
    times = [NOW + timedelta(seconds=s) for s in range(5)]

    def start_first(writer: RunWriter) -> None:
        writer.run_started(run_id, at=times[0], owner=myself())
        writer.attempt_started(run_id, "a", attempt=1, at=times[0], log="a.1.log")

    if first_attempt_before:
        with store.run_writes() as writer:
            start_first(writer)
    with store.run_writes() as writer:
        if not first_attempt_before:
            start_first(writer)
        writer.attempt_ended(
            run_id,
            "a",
            attempt=1,
            at=times[1],
            exit_code=1,
            reason="exit code 1",
            task_state="pending",
        )
        writer.attempt_started(run_id, "a", attempt=2, at=times[2], log="a.2.log")
        writer.attempt_ended(
            run_id, "a", attempt=2, at=times[3], exit_code=0, reason=None, task_state="success"
        )
        writer.run_ended(run_id, state="success", reason=None, at=times[4])
    record = stored(store, run_id)
    assert (record.state, record.ended) == ("success", times[4])
    (a,) = record.tasks
    assert (a.state, a.attempt, a.started, a.ended, a.exit_code, a.reason) == (
        "success",
        2,
        times[2],
        times[3],
        0,
        None,
    )
    assert [(x.attempt, x.started, x.ended, x.exit_code, x.reason, x.log) for x in a.attempts] == [
        (1, times[0], times[1], 1, "exit code 1", "a.1.log"),
        (2, times[2], times[3], 0, None, "a.2.log"),
    ]


def test_a_heartbeat_of_several_runs_in_one_block_reaches_each(store: Store) -> None:
    *beating, quiet = started(store, ["a", "b", "c", "d"])
    with store.run_writes() as writer:
        writer.heartbeat(beating, at=LATER)
    assert {run_id: stored(store, run_id).heartbeat for run_id in [*beating, quiet]} == {
        **dict.fromkeys(beating, LATER),
        quiet: NOW,
    }
    last = LATER + timedelta(minutes=1)
    with store.run_writes() as writer:  # twice for the same runs in one block: the last wins
        writer.heartbeat(beating, at=last - timedelta(seconds=30))
        writer.heartbeat(beating, at=last)
    assert [stored(store, run_id).heartbeat for run_id in beating] == [last] * len(beating)


# --- a tick's runs, created together ------------------------------------------------------

NAMES = ("zeta", "alpha", "mid", "beta")


def tick(n: int, *, trigger: str = "schedule", **extra: Any) -> dict[str, Any]:
    """The nth run of a tick: 7 jobs at several due times, each with its own task order
    (not alphabetical, some without tasks)."""
    return {
        "job": f"job-{n % 7}",
        "revision": 1 + n % 3,
        "trigger": trigger,
        "due": NOW + timedelta(minutes=n),
        "now": NOW,
        "tasks": [NAMES[(n + k) % len(NAMES)] for k in range(n % 4)],
        **extra,
    }


def assert_made_as(store: Store, ids: Sequence[int], items: Sequence[Mapping[str, Any]]) -> None:
    for run_id, item in zip(ids, items, strict=True):
        record = stored(store, run_id)
        assert (record.job, record.revision, record.trigger, record.due) == (
            item["job"],
            item["revision"],
            item["trigger"],
            item["due"],
        )
        assert [(t.name, t.position, t.state) for t in record.tasks] == [
            (name, k, "pending") for k, name in enumerate(item["tasks"])
        ]


def test_a_tick_of_50_runs_is_made_once_with_ids_in_item_order(store: Store) -> None:
    items = [tick(n) for n in reversed(range(50))]  # latest due first: not the id order
    ids = store.create_runs(items)
    assert len(set(ids)) == 50
    assert_made_as(store, ids, items)
    made = (count(store, runs), count(store, task_runs))
    assert made == (50, sum(len(i["tasks"]) for i in items))

    assert store.create_runs(items) == ids
    berlin = [{**i, "due": i["due"].astimezone(ZoneInfo("Europe/Berlin"))} for i in items]
    assert store.create_runs(berlin) == ids  # the same instants, spelt in another zone
    assert (count(store, runs), count(store, task_runs)) == made


def test_a_tick_run_asked_for_twice_or_made_before_is_one_run(store: Store) -> None:
    before = store.create_run(**tick(1))
    ids = store.create_runs([tick(2), tick(1), tick(3), tick(2)])
    assert ids[1] == before
    assert ids[0] == ids[3]
    assert len({ids[0], ids[1], ids[2]}) == 3
    assert count(store, runs) == 3
    assert_made_as(store, ids, [tick(2), tick(1), tick(3), tick(2)])


def test_a_tick_with_a_run_of_another_kind_still_makes_each_once(store: Store) -> None:
    first = store.create_runs([tick(1), tick(2)])
    manual = tick(1, trigger="manual")  # not a tick's run: it gets a due time of its own
    selected = tick(4, selected=["zeta"])  # a key a plain tick run has not
    items = [tick(1), manual, tick(3), selected, tick(3)]
    ids = store.create_runs(items)
    assert ids[0] == first[0]
    assert ids[2] == ids[4]
    assert len({first[1], *ids}) == 5
    record = stored(store, ids[1])
    assert (record.job, record.trigger) == ("job-1", "manual")
    assert record.due > NOW + timedelta(minutes=1)
    assert [t.name for t in record.tasks] == manual["tasks"]
    assert stored(store, ids[3]).selected == ["zeta"]
    assert_made_as(store, [ids[2]], [tick(3)])
    again = store.create_runs([tick(3), tick(2), tick(4, selected=["zeta"])])
    assert again == [ids[2], first[1], ids[3]]
    assert count(store, runs) == 5


# --- the daemon's queue -------------------------------------------------------------------


def test_the_queue_of_an_empty_store_is_empty(store: Store) -> None:
    assert store.queue_state() == QueueState([], [], set(), {})


def test_the_queue_state_reads_runs_holds_and_what_follow_ups_wait_on(store: Store) -> None:
    minute = timedelta(minutes=1)
    first = scheduled(store, "first")
    assert store.claim_run(first, owner=myself(), now=NOW)
    done = scheduled(store, "done")
    store.set_run_state(done, "success", now=NOW)
    later = store.create_run(
        job="later", revision=1, trigger="schedule", due=NOW + 2 * minute, now=NOW
    )
    sooner = store.create_run(job="held", revision=2, trigger="schedule", due=NOW + minute, now=NOW)
    follow = store.create_run(
        job="follow",
        revision=1,
        trigger="follow-up",
        due=NOW + 3 * minute,
        now=NOW,
        after_run=first,
    )
    follow_done = store.create_run(
        job="next", revision=1, trigger="follow-up", due=NOW + 4 * minute, now=NOW, after_run=done
    )
    own = store.create_run(  # a foreground run's own: active, but not the daemon's to start
        job="fg", revision=1, trigger="manual", due=NOW, now=NOW, owner=myself()
    )
    store.add_runtime_hold(job="held", name="freeze", now=NOW, reason="release day")

    state = store.queue_state()
    assert [(q.id, q.job, q.due) for q in state.queued] == [
        (sooner, "held", NOW + minute),
        (later, "later", NOW + 2 * minute),
        (follow, "follow", NOW + 3 * minute),
        (follow_done, "next", NOW + 4 * minute),
    ]
    assert [(q.trigger, q.revision, q.after_run) for q in state.queued] == [
        ("schedule", 2, None),
        ("schedule", 1, None),
        ("follow-up", 1, first),
        ("follow-up", 1, done),
    ]
    assert [(r.id, r.state) for r in state.active] == [
        (first, "running"),
        (later, "scheduled"),
        (sooner, "scheduled"),
        (follow, "scheduled"),
        (follow_done, "scheduled"),
        (own, "scheduled"),
    ]
    assert state.held_jobs == {"held"}
    assert state.preceding == {first: "running", done: "success"}
    assert state.active == store.active_runs()


# --- a task that has already exited --------------------------------------------------------


def is_zombie(pid: int) -> bool:
    raw = Path(f"/proc/{pid}/stat").read_bytes()
    return raw[raw.rindex(b")") + 2 :].split()[0] == b"Z"


def wait_until_zombie(pid: int) -> None:
    deadline = time.monotonic() + DEADLINE
    while not is_zombie(pid):
        assert time.monotonic() < deadline, f"process {pid} did not exit in {DEADLINE}s"
        time.sleep(0.01)


@pytest.fixture
def exited() -> Iterator[subprocess.Popen[bytes]]:
    """A child that has exited and is not reaped yet (reaped at the end)."""
    proc = subprocess.Popen(["true"])
    try:
        wait_until_zombie(proc.pid)
        yield proc
    finally:
        proc.wait()


def test_the_start_time_of_an_exited_child_is_read_only_when_asked_for(
    exited: subprocess.Popen[bytes],
) -> None:
    found = start_time(exited.pid, ended_too=True)
    assert isinstance(found, float)
    assert found >= myself().started  # the child's, which started after this process
    assert start_time(exited.pid) is None
    assert is_zombie(exited.pid)  # still unreaped: the reads above saw a zombie


def test_a_task_that_exits_at_once_still_has_its_start_time(tmp_path: Path) -> None:
    log = os.open(tmp_path / "true.log", os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        child = spawn(["true"], cwd=str(tmp_path), env=os.environ, log_fd=log, shown="true")
    finally:
        os.close(log)
    try:
        wait_until_zombie(child.pid)
        assert child.read_started() == start_time(child.pid, ended_too=True)
        assert child.read_started() >= myself().started
    finally:
        assert child.reap() == 0
