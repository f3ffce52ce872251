"""The executor with real processes and an in-memory journal: the order of tasks, their
environment and folder, timeouts that kill a task's whole process group, retries, and
tasks that cannot start. Waits are on conditions with a deadline; the only times
asserted are lower bounds that are behaviour (a retry waited its delay)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import pytest
import yaml

from runner.clock import Clock, FakeClock, SystemClock
from runner.domain.jobs import job_view
from runner.executors import journal as j
from runner.executors.logs import LogFiles
from runner.executors.order import Retries, RunOrder, order_from_view
from runner.executors.supervisor import Supervisor
from runner.spec.models import Job
from runner.spec.normalize import normal_form
from tests.waiting import pid_in, process_gone

DEADLINE = 10.0
DUE = datetime(2026, 11, 23, 13, 0, tzinfo=ZoneInfo("Europe/Berlin"))
C = TypeVar("C", bound=j.Change)


@dataclass
class MemoryJournal:
    """A journal that keeps every change, in order; nobody asks to cancel."""

    changes: list[j.Change] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def write(self, changes: Sequence[j.Change]) -> None:
        with self.lock:
            self.changes.extend(changes)

    def cancel_requests(self, run_ids: Sequence[int]) -> dict[int, str]:
        return {}

    def task_requests(self, run_ids: Sequence[int]) -> list[j.Request]:
        return []

    def of(self, kind: type[C], task: str | None = None) -> list[C]:
        with self.lock:
            found = [c for c in self.changes if isinstance(c, kind)]
        return [c for c in found if task is None or getattr(c, "task", None) == task]

    def ended(self) -> j.RunEnded:
        (end,) = self.of(j.RunEnded)
        return end

    def task_states(self) -> dict[str, tuple[str, str | None]]:
        """Each task's last state and reason."""
        out: dict[str, tuple[str, str | None]] = {}
        with self.lock:
            for c in self.changes:
                if isinstance(c, j.TaskSet):
                    out[c.task] = (c.state, c.reason)
                elif isinstance(c, j.AttemptEnded):
                    out[c.task] = (c.task_state, c.reason)
        return out


@dataclass
class Harness:
    supervisor: Supervisor
    journal: MemoryJournal
    logs: LogFiles
    folder: Path

    def run(self, order: RunOrder) -> j.RunEnded:
        """Start a run and drive the executor until it and what it left behind are gone."""
        self.supervisor.start(order)
        self.until(lambda: not self.supervisor.runs, f"run {order.run_id} to end")
        self.supervisor.run_until_done()
        return self.journal.ended()

    def until(self, condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + DEADLINE
        while not condition():
            assert time.monotonic() < deadline, f"waited {DEADLINE}s for {what}"
            self.supervisor.poll(0.05)

    def log(self, task: str, attempt: int = 1, run_id: int = 1) -> str:
        key = self.logs.key("job", run_id, task, attempt)
        return self.logs.path(key).read_text()


Make = Callable[..., Harness]


@pytest.fixture
def make(tmp_path: Path) -> Iterator[Make]:
    made: list[Supervisor] = []

    def _make(clock: Clock | None = None, **options: Any) -> Harness:
        journal = MemoryJournal()
        logs = LogFiles(tmp_path / "home")
        options.setdefault("max_parallel", 4)
        options.setdefault("kill_grace", 1.0)
        supervisor = Supervisor(journal=journal, logs=logs, clock=clock or SystemClock(), **options)
        made.append(supervisor)
        return Harness(supervisor, journal, logs, tmp_path)

    yield _make
    for supervisor in made:
        supervisor.kill_everything()
        supervisor.close()


def order(
    folder: Path,
    tasks: str,
    *,
    job: str = "",
    run_id: int = 1,
    selected: Sequence[str] | None = None,
    run_env: Mapping[str, str] | None = None,
) -> RunOrder:
    """The run order of a job written in YAML, as if its file were in `folder`."""
    text = f"apiVersion: runner/v1\nkind: Job\nname: job\n{job}\ntasks:\n{tasks}"
    spec = normal_form(Job.model_validate(yaml.safe_load(text)))
    return order_from_view(
        job_view(spec),
        run_id=run_id,
        revision=1,
        trigger="manual",
        due=DUE,
        source_file=str(folder / "job.yaml"),
        selected=selected,
        run_env=run_env,
    )


def interval(journal: MemoryJournal, task: str) -> tuple[datetime, datetime]:
    (started,) = journal.of(j.AttemptStarted, task)
    (ended,) = journal.of(j.AttemptEnded, task)
    return started.at, ended.at


# --- order ------------------------------------------------------------------------


def test_a_chain_runs_in_order(make: Make) -> None:
    h = make()
    tasks = (
        "  - {name: a, run: sleep 0.1}\n  - {name: b, run: sleep 0.1}\n  - {name: c, run: 'true'}\n"
    )
    assert h.run(order(h.folder, tasks)).state == "success"
    a, b, c = (interval(h.journal, t) for t in "abc")
    assert a[1] <= b[0] and b[1] <= c[0]


def test_branches_started_together_overlap(make: Make) -> None:
    h = make(max_parallel=2)
    tasks = "  - {name: a, run: sleep 0.5}\n  - {name: b, run: sleep 0.5, after: []}\n"
    assert h.run(order(h.folder, tasks)).state == "success"
    a, b = interval(h.journal, "a"), interval(h.journal, "b")
    assert a[0] < b[1] and b[0] < a[1]


def test_max_parallel_keeps_branches_apart(make: Make) -> None:
    h = make(max_parallel=1)
    tasks = "  - {name: a, run: sleep 0.2}\n  - {name: b, run: sleep 0.2, after: []}\n"
    assert h.run(order(h.folder, tasks)).state == "success"
    a, b = interval(h.journal, "a"), interval(h.journal, "b")
    assert a[1] <= b[0]


def test_a_failure_skips_what_follows_and_names_the_task(make: Make) -> None:
    h = make()
    tasks = "  - {name: a, run: exit 3}\n  - {name: b, run: 'true'}\n  - {name: c, run: 'true'}\n"
    end = h.run(order(h.folder, tasks))
    assert (end.state, end.reason) == ("failed", "task a failed: exit code 3")
    states = h.journal.task_states()
    assert states["a"] == ("failed", "exit code 3")
    assert states["b"] == ("skipped", "preceding task a failed")
    assert states["c"][0] == "skipped"
    assert h.journal.of(j.AttemptStarted, "b") == []


def test_continue_on_error_lets_the_next_task_run_and_the_run_fails(make: Make) -> None:
    h = make()
    tasks = "  - {name: a, run: exit 1, continueOnError: true}\n  - {name: b, run: 'true'}\n"
    end = h.run(order(h.folder, tasks))
    assert end.state == "failed"
    assert end.reason is not None and "task a failed" in end.reason
    assert h.journal.task_states()["b"] == ("success", None)


def test_only_selected_tasks_run(make: Make) -> None:
    h = make()
    tasks = "".join(f"  - {{name: {n}, run: echo {n}}}\n" for n in "abc")
    end = h.run(order(h.folder, tasks, selected=["a", "c"]))
    assert end.state == "success"
    assert h.journal.task_states()["b"] == ("skipped", "not selected")
    assert [s.task for s in h.journal.of(j.AttemptStarted)] == ["a", "c"]


def test_a_manual_task_waits_with_its_prompt_until_the_run_is_cancelled(make: Make) -> None:
    h = make()
    tasks = (
        "  - {name: a, run: 'true'}\n"
        "  - {name: ok, kind: manual, prompt: Check the counts}\n"
        "  - {name: c, run: 'true'}\n"
    )
    h.supervisor.start(order(h.folder, tasks))
    h.until(lambda: "ok" in h.journal.task_states(), "the manual task to wait")
    assert h.journal.task_states()["ok"] == ("waiting", "Check the counts")
    h.supervisor.poll(0.2)
    assert h.supervisor.runs and h.journal.of(j.RunEnded) == []
    threading.Thread(target=h.supervisor.request_cancel, args=(1, "no approval")).start()
    h.until(lambda: not h.supervisor.runs, "the cancel")
    assert (h.journal.ended().state, h.journal.ended().reason) == ("cancelled", "no approval")
    assert h.journal.task_states()["ok"] == ("cancelled", "no approval")
    assert h.journal.task_states()["c"] == ("cancelled", "no approval")


def test_cancel_from_another_thread_kills_the_running_task(make: Make) -> None:
    h = make()
    tasks = "  - {name: a, run: sleep 30}\n  - {name: b, run: 'true'}\n"
    h.supervisor.start(order(h.folder, tasks))
    h.until(lambda: bool(h.journal.of(j.AttemptSpawned)), "the task to start")
    pid = h.journal.of(j.AttemptSpawned)[0].pid
    threading.Thread(target=h.supervisor.request_cancel, args=(1, "enough")).start()
    h.until(lambda: not h.supervisor.runs, "the cancel")
    assert (h.journal.ended().state, h.journal.ended().reason) == ("cancelled", "enough")
    assert h.journal.task_states() == {"a": ("cancelled", "enough"), "b": ("cancelled", "enough")}
    assert process_gone(pid)


# --- environment and folder ---------------------------------------------------------


def env_of(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def test_environment_precedence_and_runner_variables(
    make: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FROM_PROCESS", "inherited")
    monkeypatch.setenv("NOT_LISTED", "stays with the daemon")
    monkeypatch.setenv("A", "process")
    monkeypatch.setenv("RUNNER_TASK", "from the process")
    h = make()
    tasks = "  - name: t\n    argv: [env]\n    env: {B: task, C: task, D: task}\n"
    job = "envPassthrough: [FROM_PROCESS, A]\nenv: {A: job, B: job, C: job}"
    run_env = {"C": "run", "RUNNER_JOB": "not this"}
    assert h.run(order(h.folder, tasks, job=job, run_id=7, run_env=run_env)).state == "success"
    env = env_of(h.log("t", run_id=7))
    assert env["FROM_PROCESS"] == "inherited"  # listed in envPassthrough
    assert "NOT_LISTED" not in env
    assert (env["A"], env["B"], env["C"], env["D"]) == ("job", "task", "run", "task")
    assert env["RUNNER_JOB"] == "job"
    assert env["RUNNER_RUN_ID"] == "7"
    assert env["RUNNER_TASK"] == "t"
    assert env["RUNNER_ATTEMPT"] == "1"
    assert env["RUNNER_TRIGGER"] == "manual"
    assert env["RUNNER_SCHEDULED_FOR"] == "2026-11-23T12:00:00Z"  # 13:00 in Berlin, in UTC
    assert datetime.fromisoformat(env["RUNNER_SCHEDULED_FOR"]) == DUE.astimezone(UTC)


@pytest.mark.parametrize(
    ("job_workdir", "task_workdir", "expected"),
    [
        (None, None, "."),
        ("data", None, "data"),
        ("{abs}", None, "{abs}"),
        (None, "sub", "sub"),
        ("data", "sub", "data/sub"),
        ("data", "{abs}", "{abs}"),
    ],
    ids=[
        "default: the job file's folder",
        "relative to the job file",
        "absolute",
        "task's relative to the job's",
        "task's inside the job's relative one",
        "task's absolute",
    ],
)
def test_workdir(
    make: Make,
    tmp_path: Path,
    job_workdir: str | None,
    task_workdir: str | None,
    expected: str,
) -> None:
    h = make()
    folder = tmp_path / "jobs.d"
    elsewhere = tmp_path / "elsewhere"
    for path in (folder / "data" / "sub", folder / "sub", elsewhere):
        path.mkdir(parents=True)

    def fill(value: str) -> str:
        return value.replace("{abs}", str(elsewhere))

    job = f"workdir: {fill(job_workdir)}" if job_workdir else ""
    task = f"    workdir: {fill(task_workdir)}\n" if task_workdir else ""
    tasks = f"  - name: t\n    run: pwd -P\n{task}"
    assert h.run(order(folder, tasks, job=job)).state == "success"
    want = Path(fill(expected)) if fill(expected).startswith("/") else folder / expected
    assert h.log("t").strip() == str(want.resolve())


# --- what a task leaves behind --------------------------------------------------------


def test_a_timeout_kills_the_whole_group_even_what_ignores_sigterm(make: Make) -> None:
    h = make(kill_grace=0.5)
    tasks = (
        "  - name: t\n"
        "    run: (trap '' TERM; sleep 300) & echo $! > grandchild.pid; wait\n"
        "    timeout: 1s\n"
    )
    end = h.run(order(h.folder, tasks))
    assert (end.state, end.reason) == ("failed", "task t failed: timed out after 1s")
    assert process_gone(pid_in(h.folder / "grandchild.pid"))


def test_a_task_ignoring_sigterm_is_killed_after_the_grace(make: Make) -> None:
    h = make(kill_grace=0.5)
    tasks = "  - name: t\n    run: trap '' TERM; sleep 300\n    timeout: 1s\n"
    h.supervisor.start(order(h.folder, tasks))
    h.until(lambda: bool(h.journal.of(j.AttemptSpawned)), "the task to start")
    pid = h.journal.of(j.AttemptSpawned)[0].pid
    started = time.monotonic()
    h.until(lambda: not h.supervisor.runs, "the timeout")
    assert time.monotonic() - started >= 1.0 + 0.5 - 0.05  # the timeout, then the grace
    (ended,) = h.journal.of(j.AttemptEnded)
    assert (ended.state, ended.reason) == ("failed", "timed out after 1s")
    assert process_gone(pid)


def test_what_a_successful_task_left_running_is_stopped(make: Make) -> None:
    h = make()
    tasks = "  - name: t\n    run: sleep 300 & echo $! > background.pid\n"
    assert h.run(order(h.folder, tasks)).state == "success"
    assert process_gone(pid_in(h.folder / "background.pid"))


# --- retries ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("retries", "waits"),
    [
        (Retries(limit=3, delay=1, backoff=2, max_delay=600), [1, 2, 4]),
        (Retries(limit=4, delay=10, backoff=3, max_delay=60), [10, 30, 60, 60]),
        (Retries(limit=2, delay=5, backoff=1, max_delay=600), [5, 5]),
    ],
)
def test_retry_waits(retries: Retries, waits: list[float]) -> None:
    assert [retries.wait(n) for n in range(1, len(waits) + 1)] == waits


def test_retries_wait_their_backoff_and_count_attempts(make: Make) -> None:
    clock = FakeClock(datetime(2026, 11, 23, 12, 0, tzinfo=UTC))
    h = make(clock=clock)
    tasks = (
        "  - name: t\n"
        "    run: echo attempt $RUNNER_ATTEMPT; test $RUNNER_ATTEMPT -ge 3\n"
        "    retries: {limit: 3, delay: 1s, backoff: 2}\n"
    )
    h.supervisor.start(order(h.folder, tasks))

    def count(kind: type[j.Change], n: int) -> Callable[[], bool]:
        return lambda: len(h.journal.of(kind)) == n

    for number, wait in ((1, 1.0), (2, 2.0)):
        h.until(count(j.AttemptEnded, number), f"attempt {number} to fail")
        h.supervisor.poll(0.05)
        clock.advance(wait - 0.01)
        h.supervisor.poll(0.05)
        assert count(j.AttemptStarted, number)(), f"attempt {number + 1} started too soon"
        clock.advance(0.01)
        h.until(count(j.AttemptStarted, number + 1), f"attempt {number + 1} to start")
    h.until(lambda: not h.supervisor.runs, "the run to end")
    ended = h.journal.of(j.AttemptEnded)
    assert [(e.attempt, e.state, e.task_state, e.retry_in) for e in ended] == [
        (1, "failed", "pending", 1.0),
        (2, "failed", "pending", 2.0),
        (3, "success", "success", None),
    ]
    assert ended[0].reason == "exit code 1; retry 1 of 3 in 1s"
    assert ended[1].reason == "exit code 1; retry 2 of 3 in 2s"
    assert [h.log("t", n).strip() for n in (1, 2, 3)] == [f"attempt {n}" for n in (1, 2, 3)]
    assert h.journal.ended().state == "success"


def test_retries_run_out(make: Make) -> None:
    h = make()
    tasks = "  - name: t\n    run: exit 2\n    retries: {limit: 1, delay: 0s}\n"
    end = h.run(order(h.folder, tasks))
    assert [e.attempt for e in h.journal.of(j.AttemptEnded)] == [1, 2]
    assert (end.state, end.reason) == ("failed", "task t failed: exit code 2")


# --- tasks that cannot start ----------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ("argv: [./nope]", "command not found: ./nope"),
        ("argv: [./not-executable]", "permission denied: ./not-executable (is it executable?)"),
        ("run: ./nope", "command not found (exit code 127; see the log)"),
        ("run: 'true'\n    workdir: missing", "workdir not found: {folder}/missing"),
    ],
    ids=["argv", "argv not executable", "shell", "workdir"],
)
def test_a_task_that_cannot_start_fails_saying_why(make: Make, fields: str, reason: str) -> None:
    h = make()
    (h.folder / "not-executable").write_text("#!/bin/sh\n")
    want = reason.format(folder=h.folder)
    end = h.run(order(h.folder, f"  - name: t\n    {fields}\n"))
    assert (end.state, end.reason) == ("failed", f"task t failed: {want}")
    (ended,) = h.journal.of(j.AttemptEnded)
    assert ended.state == "failed"
    if fields.startswith("run: ./nope"):
        assert ended.exit_code == 127
        assert "not found" in h.log("t")
    else:
        assert ended.exit_code is None
        assert h.log("t") == f"runner: {want}\n"


# --- holds on tasks of a run under way -------------------------------------------------


def test_a_held_task_waits_held_while_the_others_run_and_starts_once_released(
    make: Make,
) -> None:
    holds: dict[str, tuple[str, datetime | None]] = {"b": ("held by freeze", None)}
    h = make(holds_of=lambda order: dict(holds))
    tasks = "  - {name: a, run: 'true'}\n  - {name: b, run: 'true'}\n  - {name: c, run: 'true'}\n"
    h.supervisor.start(order(h.folder, tasks))
    h.until(lambda: h.journal.task_states().get("b", ("",))[0] == "held", "b to be held")
    assert h.journal.task_states()["a"][0] == "success"
    assert h.journal.task_states()["b"] == ("held", "held by freeze")
    assert "c" not in h.journal.task_states()
    assert h.supervisor.free_slots() == 4  # a held task takes no slot
    h.supervisor.look_at_holds()  # nothing changed: still held
    assert h.journal.task_states()["b"][0] == "held"
    holds.clear()
    h.supervisor.look_at_holds()
    h.until(lambda: not h.supervisor.runs, "the run to end")
    assert h.journal.ended().state == "success"


def test_a_held_task_is_cancelled_with_its_run(make: Make) -> None:
    h = make(holds_of=lambda order: {"b": ("held by freeze", None)})
    tasks = "  - {name: a, run: 'true'}\n  - {name: b, run: 'true'}\n"
    h.supervisor.start(order(h.folder, tasks))
    h.until(lambda: h.journal.task_states().get("b", ("",))[0] == "held", "b to be held")
    h.supervisor.request_cancel(1, "by hand")
    h.until(lambda: not h.supervisor.runs, "the run to end")
    assert h.journal.ended().state == "cancelled"
    assert h.journal.task_states()["b"] == ("cancelled", "by hand")


# --- slots beyond max_parallel: a job's maxParallel, pools ------------------------------


def test_a_job_max_parallel_runs_its_tasks_that_many_at_a_time(make: Make) -> None:
    h = make(max_parallel=4)
    tasks = "".join(f"  - {{name: {n}, run: sleep 0.2, after: []}}\n" for n in "abc")
    h.run(order(h.folder, tasks, job="maxParallel: 2"))
    spans = sorted(interval(h.journal, t) for t in "abc")
    assert spans[2][0] >= min(spans[0][1], spans[1][1])  # the third after one of the two
    waits = [c for c in h.journal.of(j.TaskSet) if c.reason and "waiting for a slot" in c.reason]
    assert [w.reason for w in waits] == [
        "waiting for a slot: job job runs at most 2 task(s) at once"
    ]


def test_a_pool_is_shared_by_the_runs_of_several_jobs(make: Make) -> None:
    h = make(max_parallel=4)
    h.supervisor.slots.pools = {"db": 1}
    load = "  - {name: load, run: sleep 0.2, pool: db}\n  - {name: after, run: 'true'}\n"
    h.supervisor.start(order(h.folder, load, run_id=1), order(h.folder, load, run_id=2))
    h.until(lambda: not h.supervisor.runs, "both runs to end")
    first, second = (
        (c.at for c in h.journal.of(j.AttemptStarted, "load") if c.run_id == r) for r in (1, 2)
    )
    ended = {c.run_id: c.at for c in h.journal.of(j.AttemptEnded, "load")}
    starts = {1: next(first), 2: next(second)}
    one, other = sorted(starts, key=starts.__getitem__)
    assert starts[other] >= ended[one]  # one slot: one load at a time
    (wait,) = [c for c in h.journal.of(j.TaskSet, "load") if c.state == "pending"]
    assert wait.reason == "waiting for a slot in pool db (1 of 1 in use)"
    assert h.supervisor.slots.by_pool == {} and h.supervisor.slots.by_job == {}
