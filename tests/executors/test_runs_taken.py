"""A run's start is its claim: the `RunStarted` an executor writes takes a scheduled run
nobody owns (or its own), and a run that is not startable (discarded, another's) is
refused in the same transaction, which writes nothing. The supervisor forgets the runs
refused (no attempt, no process, no log) and starts the others as if they were alone.
Real SQLite store, real processes; waits are on conditions with a deadline."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from runner.clock import SystemClock
from runner.executors import journal as j
from runner.executors.logs import LogFiles
from runner.executors.order import RunOrder, TaskSpec
from runner.executors.supervisor import Supervisor
from runner.runs.journal import StoreJournal
from runner.store import RunRecord, RunsTaken, Store
from runner.store.tables import task_attempts
from runner.system.procs import ProcessId, myself

DEADLINE = 10.0
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
CLOCK = SystemClock()
ME = myself()
OTHER = ProcessId(host="elsewhere.example", pid=4242, started=1234.5)  # another runner


class RecordingJournal(StoreJournal):
    """The store's journal, keeping each batch it wrote (refused batches are not kept)."""

    def __init__(self, store: Store, logs: LogFiles) -> None:
        super().__init__(store, logs, CLOCK)
        self.written: list[j.Change] = []

    def write(self, changes: Sequence[j.Change]) -> None:
        super().write(changes)
        self.written.extend(changes)

    def mentions(self, run_id: int) -> list[j.Change]:
        return [
            c
            for c in self.written
            if getattr(c, "run_id", None) == run_id
            or (isinstance(c, j.Heartbeat) and run_id in c.run_ids)
        ]


MakeSupervisor = Callable[..., tuple[Supervisor, RecordingJournal]]


@pytest.fixture
def make_supervisor(store: Store, home: Path) -> Iterator[MakeSupervisor]:
    made: list[Supervisor] = []

    def _make(**options: Any) -> tuple[Supervisor, RecordingJournal]:
        logs = LogFiles(home)
        journal = RecordingJournal(store, logs)
        options.setdefault("max_parallel", 4)
        options.setdefault("kill_grace", 1.0)
        supervisor = Supervisor(journal=journal, logs=logs, clock=CLOCK, **options)
        made.append(supervisor)
        return supervisor, journal

    yield _make
    for supervisor in made:
        supervisor.kill_everything()
        supervisor.close()


# --- helpers ------------------------------------------------------------------------------


def scheduled(
    store: Store, job: str, *, tasks: Sequence[str] = ("hello",), owner: ProcessId | None = None
) -> int:
    return store.create_run(
        job=job, revision=1, trigger="manual", due=NOW, now=NOW, tasks=list(tasks), owner=owner
    )


def stored(store: Store, run_id: int) -> RunRecord:
    record = store.run(run_id)
    assert record is not None, f"no run {run_id}"
    return record


def task_states(record: RunRecord) -> dict[str, str]:
    return {t.name: t.state for t in record.tasks}


def attempt_rows(store: Store, run_id: int) -> int:
    with store.engine.connect() as conn:
        query = (
            sa.select(sa.func.count())
            .select_from(task_attempts)
            .where(task_attempts.c.run_id == run_id)
        )
        return int(conn.execute(query).scalar_one())


def order(run_id: int, job: str, folder: Path, *commands: str) -> RunOrder:
    """A run of tasks one after the other: t1, t2, ..."""
    tasks = tuple(
        TaskSpec(name=f"t{n}", run=command, after=(f"t{n - 1}",) if n > 1 else ())
        for n, command in enumerate(commands, start=1)
    )
    return RunOrder(
        run_id=run_id,
        job=job,
        revision=1,
        trigger="manual",
        due=NOW,
        tasks=tasks,
        workdir=str(folder),
    )


def drive(supervisor: Supervisor, what: str) -> None:
    """Poll the supervisor until its runs have ended (within the deadline), then until
    what their tasks left is gone."""
    deadline = time.monotonic() + DEADLINE
    while supervisor.runs:
        assert time.monotonic() < deadline, f"waited {DEADLINE}s for {what}"
        supervisor.poll(0.05)
    supervisor.run_until_done()


def log_files(home: Path) -> list[str]:
    folder = home / "logs"
    if not folder.exists():
        return []
    return sorted(str(p.relative_to(home)) for p in folder.rglob("*") if p.is_file())


# --- the store: `run_started` is the claim ------------------------------------------------


def test_run_started_takes_a_scheduled_run_nobody_owns(store: Store) -> None:
    run_id = scheduled(store, "alpha")
    assert stored(store, run_id).owner is None
    at = NOW + timedelta(seconds=5)
    with store.run_writes() as writer:
        writer.run_started(run_id, at=at, owner=ME)
    record = stored(store, run_id)
    assert (record.state, record.owner) == ("running", ME)
    assert (record.started, record.heartbeat) == (at, at)


def _discarded(store: Store, run_id: int) -> None:
    assert store.request_cancel(run_id, now=NOW, reason="not wanted") == "scheduled"


def _taken_by_another(store: Store, run_id: int) -> None:
    assert store.claim_run(run_id, owner=OTHER, now=NOW)


NOT_STARTABLE: dict[str, Callable[[Store], int]] = {
    "another's, scheduled": lambda store: scheduled(store, "beta", owner=OTHER),
    "another's, running": lambda store: _claimed_by_other(store),
    "discarded": lambda store: _discarded_run(store),
}


def _claimed_by_other(store: Store) -> int:
    run_id = scheduled(store, "beta")
    _taken_by_another(store, run_id)
    return run_id


def _discarded_run(store: Store) -> int:
    run_id = scheduled(store, "beta")
    _discarded(store, run_id)
    return run_id


@pytest.mark.parametrize("valid_first", [True, False], ids=["valid-first", "refused-first"])
@pytest.mark.parametrize("case", list(NOT_STARTABLE))
def test_a_run_not_startable_is_refused_and_the_whole_block_rolls_back(
    store: Store, case: str, valid_first: bool
) -> None:
    good = scheduled(store, "alpha")
    bad = NOT_STARTABLE[case](store)
    bad_before = stored(store, bad)
    at = NOW + timedelta(seconds=5)

    with pytest.raises(RunsTaken) as refused, store.run_writes() as writer:
        starts = [good, bad] if valid_first else [bad, good]
        for run_id in starts:
            writer.run_started(run_id, at=at, owner=ME)
        writer.attempt_started(good, "hello", attempt=1, at=at, log="logs/alpha/1/hello.1.log")
        writer.task_set(bad, "hello", state="running", reason=None, at=at)

    assert refused.value.run_ids == frozenset({bad})
    assert stored(store, bad) == bad_before  # untouched
    record = stored(store, good)  # its start was in the same transaction: rolled back too
    assert (record.state, record.owner, record.started) == ("scheduled", None, None)
    assert task_states(record) == {"hello": "pending"}
    assert attempt_rows(store, good) == 0


def test_the_store_journal_reports_the_refusal_as_its_own_exception(
    store: Store, home: Path
) -> None:
    good, bad = scheduled(store, "alpha"), _discarded_run(store)
    journal = StoreJournal(store, LogFiles(home), CLOCK)
    at = NOW + timedelta(seconds=5)
    with pytest.raises(j.RunsTaken) as refused:
        journal.write([j.RunStarted(good, at, ME), j.RunStarted(bad, at, ME)])
    assert type(refused.value) is j.RunsTaken  # not the store's: the executor knows only this
    assert refused.value.run_ids == frozenset({bad})
    assert stored(store, good).state == "scheduled"
    assert stored(store, bad).state == "discarded"


# --- the supervisor: refused runs are forgotten, the others go on -------------------------


@pytest.mark.parametrize(
    ("b_first", "max_parallel"),
    [(False, 4), (True, 1)],
    ids=["a-first", "b-first-one-slot"],  # one slot: b's refused task must not keep a's out
)
@pytest.mark.parametrize("refuse", ["discarded", "another's"])
def test_start_returns_the_runs_refused_and_starts_only_the_others(
    store: Store,
    home: Path,
    tmp_path: Path,
    make_supervisor: MakeSupervisor,
    refuse: str,
    b_first: bool,
    max_parallel: int,
) -> None:
    supervisor, journal = make_supervisor(max_parallel=max_parallel, heartbeat=0.05)
    a = scheduled(store, "alpha", tasks=["t1", "t2"])
    b = scheduled(store, "beta", tasks=["t1", "t2"])
    order_a = order(a, "alpha", tmp_path, "echo hi", "true")
    order_b = order(b, "beta", tmp_path, "echo from-b > b-ran", "true")
    if refuse == "discarded":  # read as startable, discarded before the start
        _discarded(store, b)
    else:  # another runner took it meanwhile
        _taken_by_another(store, b)
    b_before = stored(store, b)

    taken = supervisor.start(*((order_b, order_a) if b_first else (order_a, order_b)))

    assert taken == {b}
    assert b not in supervisor.runs
    assert a in supervisor.runs
    drive(supervisor, f"run {a} to end")

    record_a = stored(store, a)
    assert (record_a.state, record_a.owner) == ("success", supervisor.owner)
    assert task_states(record_a) == {"t1": "success", "t2": "success"}
    first = record_a.tasks[0].attempts
    assert len(first) == 1 and first[0].log is not None
    assert (home / first[0].log).read_text() == "hi\n"

    assert stored(store, b) == b_before  # as whoever refused it left it
    assert attempt_rows(store, b) == 0
    assert not (tmp_path / "b-ran").exists()
    assert not (home / "logs" / "beta").exists()
    assert all("/alpha/" in key for key in log_files(home)), log_files(home)
    assert b not in supervisor.runs  # still, after every pass since
    assert journal.mentions(b) == []  # nothing of b was ever written, heartbeats included


def test_start_with_every_run_refused_starts_nothing(
    store: Store, home: Path, tmp_path: Path, make_supervisor: MakeSupervisor
) -> None:
    supervisor, journal = make_supervisor()
    b = _discarded_run(store)
    assert supervisor.start(order(b, "beta", tmp_path, "echo hi")) == {b}
    assert supervisor.runs == {}
    assert supervisor.free_slots() == supervisor.max_parallel
    assert journal.written == []
    assert stored(store, b).state == "discarded"
    assert log_files(home) == []


def test_a_later_start_reports_only_its_own_refusals(
    store: Store, tmp_path: Path, make_supervisor: MakeSupervisor
) -> None:
    supervisor, _ = make_supervisor()
    b = _discarded_run(store)
    assert supervisor.start(order(b, "beta", tmp_path, "true")) == {b}
    a = scheduled(store, "alpha")
    assert supervisor.start(order(a, "alpha", tmp_path, "true")) == set()
    drive(supervisor, f"run {a} to end")
    assert stored(store, a).state == "success"


# --- a foreground run: made with its owner, its start passes --------------------------------


@pytest.mark.parametrize("claimed", [False, True], ids=["as-created", "claimed-first"])
def test_a_run_made_with_the_supervisors_owner_starts(
    store: Store, home: Path, tmp_path: Path, make_supervisor: MakeSupervisor, claimed: bool
) -> None:
    supervisor, _ = make_supervisor()
    run_id = scheduled(store, "alpha", tasks=["t1"], owner=supervisor.owner)  # `runner run`'s
    if claimed:  # `execute` takes it before starting it
        assert store.claim_run(run_id, owner=supervisor.owner, now=NOW)

    assert supervisor.start(order(run_id, "alpha", tmp_path, "echo hi")) == set()
    assert run_id in supervisor.runs
    drive(supervisor, f"run {run_id} to end")

    record = stored(store, run_id)
    assert (record.state, record.owner) == ("success", supervisor.owner)
    assert task_states(record) == {"t1": "success"}
    assert log_files(home) == [f"logs/alpha/{run_id}/t1.1.log"]
