"""Runs executed in the foreground (`runner run` with no daemon): applied from a folder,
triggered and executed through the store, as a user would see them afterwards: states,
reasons, attempts, log files, and the processes left (none)."""

from __future__ import annotations

import contextlib
import functools
import json
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from runner.cli import run
from runner.clock import SystemClock
from runner.errors import RunnerError
from runner.executors.logs import LogFiles
from runner.runs.cancel import cancel
from runner.runs.foreground import execute
from runner.runs.retention import prune_job
from runner.runs.trigger import Refused, Triggered, trigger
from runner.store import AttemptRecord, RunRecord, Store, TaskRecord, open_store
from runner.store.run_reads import REPORTING
from tests.conftest import WriteFile
from tests.runs.conftest import execute_job as run_here
from tests.waiting import pid_in, process_gone, wait_for

DEADLINE = 10.0
CLOCK = SystemClock()

Apply = Callable[[str], Path]


@pytest.fixture
def apply(write: WriteFile) -> Apply:
    """Write jobs (YAML documents without their `apiVersion`/`kind` lines) and apply them."""

    def _apply(text: str) -> Path:
        docs = textwrap.dedent(text).strip().split("\n---\n")
        path = write(
            "jobs.yaml", "---\n".join(f"apiVersion: runner/v1\nkind: Job\n{d}\n" for d in docs)
        )
        assert run(["apply"]) == 0  # jobs.d, relative to the working directory
        return path

    return _apply


# Four tasks at once whatever the machine's CPU count, for the tests of parallel branches.
execute_job = functools.partial(run_here, max_parallel=4)


def task(record: RunRecord, name: str) -> TaskRecord:
    return next(t for t in record.tasks if t.name == name)


def span(t: TaskRecord | AttemptRecord) -> tuple[datetime, datetime]:
    """When a task (its last attempt) or an attempt started and ended."""
    assert t.started is not None and t.ended is not None
    return t.started, t.ended


def log_of(home: Path, record: RunRecord, name: str, attempt: int = 1) -> str:
    key = task(record, name).attempts[attempt - 1].log
    assert key is not None
    return (home / key).read_text()


def stored(store: Store, run_id: int) -> RunRecord:
    record = store.run(run_id)
    assert record is not None, f"no run {run_id}"
    return record


# --- order ------------------------------------------------------------------------


def test_a_chain_runs_in_order_and_branches_overlap(apply: Apply, store: Store, home: Path) -> None:
    apply(
        """
        name: shape
        tasks:
          - {name: a, run: sleep 0.5}
          - {name: b, run: sleep 0.5, after: []}
          - {name: c, run: 'true', after: [a, b]}
          - {name: d, run: 'true'}
        """
    )
    record = execute_job(store, home, "shape")
    assert record.state == "success"
    a, b, c, d = (span(task(record, n)) for n in "abcd")
    assert a[0] < b[1] and b[0] < a[1]  # the branches ran at the same time
    assert c[0] >= max(a[1], b[1])  # the join after both
    assert d[0] >= c[1]


# --- environment ----------------------------------------------------------------------


def test_the_environment_a_task_gets(
    apply: Apply, store: Store, home: Path, config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FROM_PROCESS", "inherited")
    apply(
        """
        name: env
        envPassthrough: [FROM_PROCESS]
        env: {A: job, B: job, C: job}
        tasks:
          - name: t
            run: env; echo "PWD_P=$(pwd -P)"
            env: {B: task, C: task}
        """
    )
    elsewhere = config_dir.parent / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # the workdir does not depend on where `runner run` is
    record = execute_job(store, home, "env", env={"C": "run", "RUNNER_RUN_ID": "0"})
    assert record.state == "success"
    env = dict(line.split("=", 1) for line in log_of(home, record, "t").splitlines() if "=" in line)
    assert env["FROM_PROCESS"] == "inherited"
    assert (env["A"], env["B"], env["C"]) == ("job", "task", "run")
    assert env["RUNNER_RUN_ID"] == str(record.id)
    assert (env["RUNNER_JOB"], env["RUNNER_TASK"]) == ("env", "t")
    assert (env["RUNNER_ATTEMPT"], env["RUNNER_TRIGGER"]) == ("1", "manual")
    scheduled_for = env["RUNNER_SCHEDULED_FOR"]
    assert scheduled_for.endswith("Z")
    assert datetime.fromisoformat(scheduled_for) == record.due.replace(microsecond=0)
    assert env["PWD_P"] == str(config_dir.resolve())  # the folder of the job's file


# --- what a task leaves behind --------------------------------------------------------


def test_a_timeout_kills_the_task_and_its_grandchild(
    apply: Apply, store: Store, home: Path, config_dir: Path
) -> None:
    apply(
        """
        name: leaky
        tasks:
          - name: t
            run: sleep 300 & echo $! > grandchild.pid; wait
            timeout: 1s
        """
    )
    record = execute_job(store, home, "leaky")
    assert (record.state, record.reason) == ("failed", "task t failed: timed out after 1s")
    assert (task(record, "t").state, task(record, "t").reason) == ("failed", "timed out after 1s")
    assert process_gone(pid_in(config_dir / "grandchild.pid"))


def test_what_a_task_left_in_the_background_is_killed_when_it_ends(
    apply: Apply, store: Store, home: Path, config_dir: Path
) -> None:
    apply(
        """
        name: leaves
        tasks:
          - name: t
            run: sleep 300 & echo $! > background.pid
        """
    )
    assert execute_job(store, home, "leaves").state == "success"
    assert process_gone(pid_in(config_dir / "background.pid"))


# --- retries ----------------------------------------------------------------------------


def test_a_task_retried_until_it_succeeds(apply: Apply, store: Store, home: Path) -> None:
    apply(
        """
        name: flaky
        tasks:
          - name: t
            run: |
              echo "attempt $RUNNER_ATTEMPT"
              n=$(cat count 2>/dev/null || echo 0); echo $((n + 1)) > count
              [ "$n" -ge 2 ]
            retries: {limit: 3, delay: 1s, backoff: 2}
        """
    )
    record = execute_job(store, home, "flaky")
    assert (record.state, record.reason) == ("success", None)
    t = task(record, "t")
    assert (t.state, t.attempt) == ("success", 3)
    assert [a.attempt for a in t.attempts] == [1, 2, 3]
    assert [a.exit_code for a in t.attempts] == [1, 1, 0]
    first, second, third = (span(a) for a in t.attempts)
    assert (second[0] - first[1]).total_seconds() >= 1.0  # delay
    assert (third[0] - second[1]).total_seconds() >= 2.0  # delay * backoff
    assert [log_of(home, record, "t", n).strip() for n in (1, 2, 3)] == [
        "attempt 1",
        "attempt 2",
        "attempt 3",
    ]


def test_a_task_that_always_fails_uses_up_its_retries(
    apply: Apply, store: Store, home: Path
) -> None:
    apply(
        """
        name: doomed
        tasks:
          - name: t
            run: exit 4
            retries: {limit: 1, delay: 0s}
          - name: after
            run: 'true'
        """
    )
    record = execute_job(store, home, "doomed")
    assert (record.state, record.reason) == ("failed", "task t failed: exit code 4")
    t = task(record, "t")
    assert (t.state, t.attempt, t.exit_code) == ("failed", 2, 4)
    assert len(t.attempts) == 2
    assert (task(record, "after").state, task(record, "after").reason) == (
        "skipped",
        "preceding task t failed",
    )


# --- tasks that cannot start --------------------------------------------------------------


def test_tasks_that_cannot_start(apply: Apply, store: Store, home: Path, config_dir: Path) -> None:
    apply(
        """
        name: argv
        tasks:
          - {name: t, argv: [./nope]}
        ---
        name: shell
        tasks:
          - {name: t, run: ./nope}
        ---
        name: nowhere
        workdir: missing
        tasks:
          - {name: t, run: 'true'}
        """
    )
    record = execute_job(store, home, "argv")
    assert (record.state, task(record, "t").reason) == ("failed", "command not found: ./nope")
    assert "command not found: ./nope" in log_of(home, record, "t")
    record = execute_job(store, home, "shell")
    assert (record.state, task(record, "t").exit_code) == ("failed", 127)
    assert "command not found" in (task(record, "t").reason or "")
    record = execute_job(store, home, "nowhere")
    assert task(record, "t").reason == f"workdir not found: {config_dir / 'missing'}"


# --- memory -------------------------------------------------------------------------------

MEMORY_SCRIPT = """
import json, resource, sys
from pathlib import Path
from runner.clock import SystemClock
from runner.errors import RunnerError
from runner.runs.foreground import execute
from runner.runs.trigger import trigger
from runner.store import open_store

home = Path(sys.argv[1])
store = open_store(home=home)
clock = SystemClock()

def go(job):
    record = execute(store, trigger(store, job=job, now=clock.now()), home=home, clock=clock)
    assert record.state == "success", record
    return record.tasks[0].attempts[0].log

go("quiet")  # everything imported and warmed up before the first measure
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
log = go("loud")
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"before_kb": before, "after_kb": after, "log": log}))
"""


def test_50_mb_of_output_does_not_grow_the_runner(apply: Apply, home: Path) -> None:
    apply(
        """
        name: quiet
        tasks:
          - {name: t, run: 'true'}
        ---
        name: loud
        tasks:
          - {name: t, run: "head -c 50000000 /dev/zero | tr '\\\\0' x"}
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", MEMORY_SCRIPT, str(home)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["after_kb"] - found["before_kb"] < 10 * 1024
    log = home / found["log"]
    assert log.stat().st_size == 50_000_000
    with log.open("rb") as handle:
        assert handle.read(10) == b"x" * 10


# --- cancel -------------------------------------------------------------------------------


class Background:
    """`execute` on another thread (signals stay with the main thread, as expected)."""

    def __init__(self, store: Store, home: Path, job: str) -> None:
        self.triggered = trigger(store, job=job, now=CLOCK.now())
        self.result: list[RunRecord] = []
        self.errors: list[BaseException] = []
        self.thread = threading.Thread(target=self._run, args=(store, home), daemon=True)
        self.thread.start()

    def _run(self, store: Store, home: Path) -> None:
        try:
            self.result.append(execute(store, self.triggered, home=home, clock=CLOCK))
        except BaseException as exc:  # reported by `join`
            self.errors.append(exc)

    def join(self) -> RunRecord:
        self.thread.join(DEADLINE)
        assert not self.thread.is_alive(), "execute did not return"
        assert not self.errors, self.errors
        return self.result[0]


@pytest.fixture
def reader(home: Path) -> Iterator[Store]:
    """A second connection to the store, as another command would have."""
    opened = open_store(home=home)
    yield opened
    opened.close()


def task_now(store: Store, run_id: int, name: str) -> TaskRecord:
    return task(stored(store, run_id), name)


def test_cancel_a_running_run(apply: Apply, store: Store, reader: Store, home: Path) -> None:
    apply(
        """
        name: long
        tasks:
          - {name: a, run: sleep 30}
          - {name: b, run: 'true'}
        """
    )
    runner = Background(store, home, "long")
    run_id = runner.triggered.run_id
    wait_for("a running", lambda: task_now(reader, run_id, "a").pid is not None)
    pid = task_now(reader, run_id, "a").pid
    assert pid is not None
    began = time.monotonic()
    answer = cancel(reader, home=home, run_id=run_id, clock=CLOCK, reason="test")
    assert time.monotonic() - began < 5.0
    assert (answer.state, answer.reason) == ("cancelled", "test")
    record = runner.join()
    assert (record.state, record.reason) == ("cancelled", "test")
    assert [(t.state, t.reason) for t in record.tasks] == [("cancelled", "test")] * 2
    assert process_gone(pid)


def test_cancelling_an_ended_run_is_refused(apply: Apply, store: Store, home: Path) -> None:
    apply("name: quick\ntasks:\n  - {name: a, run: 'true'}")
    record = execute_job(store, home, "quick")
    with pytest.raises(Refused, match=f"run {record.id} of quick already ended \\(success\\)"):
        cancel(store, home=home, run_id=record.id, clock=CLOCK, reason="late")


def test_cancelling_a_scheduled_run_discards_it(apply: Apply, store: Store, home: Path) -> None:
    apply("name: later\ntasks:\n  - {name: a, run: 'true'}")
    triggered = trigger(store, job="later", now=CLOCK.now())
    answer = cancel(store, home=home, run_id=triggered.run_id, clock=CLOCK, reason="not now")
    assert (answer.state, answer.reason) == ("discarded", "not now")
    assert answer.ended is not None
    assert [t.state for t in answer.tasks] == ["skipped"]


def test_a_manual_task_waits_until_the_run_is_cancelled(
    apply: Apply, store: Store, reader: Store, home: Path
) -> None:
    apply(
        """
        name: gated
        tasks:
          - {name: build, run: 'true'}
          - {name: approve, kind: manual, prompt: Read the build log}
          - {name: publish, run: 'true'}
        """
    )
    runner = Background(store, home, "gated")
    run_id = runner.triggered.run_id
    wait_for("approve waiting", lambda: task_now(reader, run_id, "approve").state == "waiting")
    assert task_now(reader, run_id, "approve").reason == "Read the build log"
    assert task_now(reader, run_id, "build").state == "success"
    assert task_now(reader, run_id, "publish").state == "pending"
    assert stored(reader, run_id).state == "running"
    cancel(reader, home=home, run_id=run_id, clock=CLOCK, reason="rejected")
    record = runner.join()
    assert record.state == "cancelled"
    assert [t.state for t in record.tasks] == ["success", "cancelled", "cancelled"]


# --- run timeout, continueOnError, selection ----------------------------------------------


def test_a_run_timeout_fails_the_run(apply: Apply, store: Store, home: Path) -> None:
    apply(
        """
        name: slow
        timeout: 1s
        tasks:
          - {name: a, run: sleep 30}
          - {name: b, run: 'true'}
        """
    )
    record = execute_job(store, home, "slow")
    assert (record.state, record.reason) == ("failed", "run timed out after 1s")
    assert (task(record, "a").state, task(record, "a").reason) == (
        "failed",
        "run timed out after 1s",
    )
    assert task(record, "b").state == "skipped"
    assert record.ended and record.started
    assert (record.ended - record.started).total_seconds() >= 1.0


def test_continue_on_error_runs_the_next_task_and_fails_the_run(
    apply: Apply, store: Store, home: Path
) -> None:
    apply(
        """
        name: lenient
        tasks:
          - {name: check, run: exit 1, continueOnError: true}
          - {name: finish, run: 'true'}
        """
    )
    record = execute_job(store, home, "lenient")
    assert record.state == "failed"
    assert record.reason is not None and "check" in record.reason
    assert [t.state for t in record.tasks] == ["failed", "success"]


def test_only_the_selected_tasks_run(apply: Apply, store: Store, home: Path) -> None:
    apply(
        """
        name: picky
        tasks:
          - {name: a, run: 'true'}
          - {name: b, run: 'true'}
          - {name: c, run: 'true'}
        """
    )
    record = execute_job(store, home, "picky", tasks=["a", "c"])
    assert record.state == "success"
    assert record.selected == ["a", "c"]
    assert [(t.name, t.state, t.reason) for t in record.tasks] == [
        ("a", "success", None),
        ("b", "skipped", "not selected"),
        ("c", "success", None),
    ]
    assert span(task(record, "c"))[0] >= span(task(record, "a"))[1]
    assert task(record, "b").attempts == ()


def test_refused_triggers(apply: Apply, store: Store) -> None:
    apply(
        """
        name: off
        disabled: true
        tasks:
          - {name: a, run: 'true'}
        ---
        name: some
        tasks:
          - {name: a, run: 'true'}
          - {name: b, run: 'true', active: false}
        """
    )
    with pytest.raises(Refused, match="job off is disabled"):
        trigger(store, job="off", now=CLOCK.now())
    with pytest.raises(Refused, match="task b of job some is inactive"):
        trigger(store, job="some", now=CLOCK.now(), tasks=["b"])
    with pytest.raises(RunnerError, match='job some has no task "x"'):
        trigger(store, job="some", now=CLOCK.now(), tasks=["x"])
    with pytest.raises(RunnerError, match='unknown job "nope"'):
        trigger(store, job="nope", now=CLOCK.now())
    assert store.history(job="some") == []


# --- races and edges found in review ------------------------------------------------


def test_a_run_cancelled_before_it_starts_never_starts(
    apply: Apply, store: Store, home: Path
) -> None:
    apply("name: quick\ntasks:\n  - {name: a, run: 'echo ran'}")
    triggered = trigger(store, job="quick", now=CLOCK.now())
    assert store.request_cancel(triggered.run_id, now=CLOCK.now(), reason="changed my mind")
    record = execute(store, triggered, home=home, clock=CLOCK)
    assert (record.state, record.reason) == ("discarded", "changed my mind")
    assert [(t.state, t.attempts) for t in record.tasks] == [("skipped", ())]


def test_concurrent_triggers_respect_overlap_skip(apply: Apply, home: Path) -> None:
    apply("name: once\ntasks:\n  - {name: a, run: 'true'}")
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def fire() -> None:
        with contextlib.closing(open_store(home=home)) as mine:
            mine.resources("Job")
            barrier.wait()
            try:
                trigger(mine, job="once", now=CLOCK.now(), overlap="skip")
                outcomes.append("created")
            except Refused:
                outcomes.append("refused")

    threads = [threading.Thread(target=fire) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["created", "refused", "refused", "refused"]


def test_a_run_that_just_ended_is_kept_by_keep_runs_1(
    apply: Apply, store: Store, reader: Store, home: Path
) -> None:
    apply(
        """
        name: keep1
        history: {keepRuns: 1}
        tasks:
          - {name: slow, run: 'sleep 1'}
          - {name: quick, run: 'true', after: []}
        """
    )
    long_run = Background(store, home, "keep1")
    wait_for(
        "the first run to run",
        lambda: task_now(reader, long_run.triggered.run_id, "slow").pid is not None,
    )
    quick = execute_job(reader, home, "keep1", tasks=["quick"], overlap="allow")
    assert quick.state == "success"
    first = long_run.join()
    assert first.state == "success"  # it ended last, so it is the one kept
    assert quick.id in {r.id for r in reader.history(job="keep1")}  # still being reported on
    later = datetime.now(UTC) + REPORTING + timedelta(seconds=1)
    prune_job(store, LogFiles(home), "keep1", now=later)  # the next run's end, later
    assert [r.id for r in reader.history(job="keep1")] == [first.id]


def test_thirty_runs_at_once_under_keep_runs_1_each_report_their_own_end(
    apply: Apply, home: Path
) -> None:
    """Issue 17, defect 11: runs of the same job pruned by each other's ends made 7 of 30
    successful `runner run`s exit 1 with "no run N"."""
    apply(
        """
        name: keep1
        schedule: {mode: manual, overlap: allow}
        history: {keepRuns: 1}
        tasks:
          - {name: t, run: 'true'}
        """
    )
    command = [sys.executable, "-m", "runner", "run", "keep1", "--home", str(home)]
    procs = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(30)
    ]
    outcomes = [(p.wait(timeout=120), p.stderr.read() if p.stderr else "") for p in procs]
    for p in procs:
        for stream in (p.stdout, p.stderr):
            if stream:
                stream.close()
    assert [code for code, _ in outcomes] == [0] * 30, [e for _, e in outcomes if e]


def test_a_failing_observer_does_not_break_the_run(apply: Apply, store: Store, home: Path) -> None:
    apply("name: watched\ntasks:\n  - {name: a, run: 'true'}\n  - {name: b, run: 'true'}")

    def broken_pipe(_changes: object) -> None:
        raise BrokenPipeError("the reader went away")

    triggered = trigger(store, job="watched", now=CLOCK.now())
    record = execute(store, triggered, home=home, clock=CLOCK, observer=broken_pipe)
    assert record.state == "success"


def test_a_log_that_cannot_be_opened_fails_the_task(apply: Apply, store: Store, home: Path) -> None:
    apply("name: nolog\ntasks:\n  - {name: a, run: 'true'}")
    (home / "logs").mkdir(parents=True, exist_ok=True)
    (home / "logs" / "nolog").write_text("a file where the job's log folder goes")
    record = execute_job(store, home, "nolog")
    assert record.state == "failed"
    assert task(record, "a").reason is not None
    assert "cannot open its log" in (task(record, "a").reason or "")


def test_a_nul_byte_in_the_environment_fails_the_task(store: Store, home: Path) -> None:
    from runner.domain.jobs import job_view
    from runner.executors.order import order_from_view

    spec = {"name": "nul", "env": {"A": "x\0y"}, "tasks": [{"name": "a", "run": "true"}]}
    run_id = store.create_run(
        job="nul", revision=1, trigger="manual", due=CLOCK.now(), now=CLOCK.now(), tasks=["a"]
    )
    order = order_from_view(
        job_view(spec),
        run_id=run_id,
        revision=1,
        trigger="manual",
        due=CLOCK.now(),
        source_file=None,
    )
    triggered = Triggered(run_id=run_id, order=order, waits_for=(), policy="allow")
    record = execute(store, triggered, home=home, clock=CLOCK)
    assert record.state == "failed"
    assert "cannot start true" in (task(record, "a").reason or "")
