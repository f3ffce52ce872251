"""`runner run`, `cancel`, `status`, `history`, `tasks` and `logs` as a user runs them:
in-process for what one command shows, and as real processes for what needs another
terminal (a cancel, Ctrl-C, `kill -9`, `logs --follow`)."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from runner.cli import run
from runner.ops.identity import local_actor
from runner.store import RunRecord, opened
from tests.conftest import WriteFile
from tests.waiting import live_in_group, wait_for

DEADLINE = 10.0

JOBS = """
apiVersion: runner/v1
kind: Job
name: ok
env: {GREETING: hello}
tasks:
  - name: a
    run: echo "a says $GREETING ($RUNNER_TRIGGER run $RUNNER_RUN_ID)"
  - name: b
    run: echo b
  - name: c
    run: echo c
  - name: d
    run: echo d
    active: false
---
apiVersion: runner/v1
kind: Job
name: broken
tasks:
  - name: a
    run: echo before; exit 3
  - name: b
    run: echo never
---
apiVersion: runner/v1
kind: Job
name: flaky
retries: {limit: 2, delay: 0s}
tasks:
  - name: a
    run: 'echo "attempt $RUNNER_ATTEMPT"; test "$RUNNER_ATTEMPT" -ge 2'
---
apiVersion: runner/v1
kind: Job
name: slow
tasks:
  - name: nap
    run: sleep 30
---
apiVersion: runner/v1
kind: Job
name: stubborn
tasks:
  - name: nap
    run: trap 'echo got TERM' TERM; while true; do sleep 0.1; done
---
apiVersion: runner/v1
kind: Job
name: gate
description: waits until the file $GATE (in jobs.d unless absolute) exists
tasks:
  - name: wait
    run: echo waiting; while [ ! -e "${GATE:-open}" ]; do sleep 0.05; done; echo through
---
apiVersion: runner/v1
kind: Job
name: "42"
tasks:
  - name: a
    run: echo forty-two
---
apiVersion: runner/v1
kind: Job
name: off
disabled: true
tasks:
  - name: a
    run: "true"
---
apiVersion: runner/v1
kind: Job
name: nightly
schedule: {cron: "30 6 * * 1-5", timezone: Europe/Berlin}
holds:
  - name: freeze
    until: 2099-01-01T00:00:00Z
    reason: change freeze
tasks:
  - name: collect
    run: echo collect
  - name: send
    run: echo send
"""

SPEC_RUN_FIELDS = {
    "id",
    "job",
    "revision",
    "trigger",
    "state",
    "reason",
    "due",
    "created",
    "started",
    "ended",
    "tasks",
}
SPEC_TASK_FIELDS = {"name", "state", "attempt", "started", "ended", "exit_code", "reason"}
STAMP = r"\d\d:\d\d:\d\d "
WHO = local_actor().who  # who the audit, and the reasons, say did it


# --- fixtures and helpers --------------------------------------------------------------


@pytest.fixture
def jobs(write: WriteFile, capsys: pytest.CaptureFixture[str]) -> Path:
    """The jobs above, applied; returns the config folder (the tasks' working directory)."""
    path = write("jobs.yaml", JOBS)
    assert run(["apply"]) == 0
    capsys.readouterr()
    return path.parent


def call(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run a command in-process: (exit code, stdout, stderr)."""
    code = run(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def call_json(capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    code, out, err = call(capsys, *args, "--json")
    assert code == 0, err
    return json.loads(out)


def assert_one_error_line(code: int, out: str, err: str, *, expected: str) -> None:
    assert code == 1
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("error: "), err
    assert "Traceback" not in err
    assert expected in err


def home() -> str:
    return os.environ["RUNNER_HOME"]


def store_run(run_id: int) -> RunRecord:
    with opened(home=home()) as store:
        found = store.run(run_id)
    assert found is not None
    return found


def running_run(job: str, *, state: str = "running") -> RunRecord:
    """Wait until `job` has a run in `state` (running: with a task's process started)."""
    found: list[RunRecord] = []

    def ready() -> bool:
        with opened(home=home()) as store:
            for r in store.active_run_records(job):
                if r.state != state:
                    continue
                full = store.run(r.id)
                assert full is not None
                if state != "running" or any(t.pid for t in full.tasks if t.state == "running"):
                    found.append(full)
                    return True
        return False

    wait_for(f"a {state} run of {job}", ready)
    return found[0]


def task_pid(record: RunRecord) -> int:
    pid = next(t.pid for t in record.tasks if t.state == "running")
    assert pid is not None
    return pid


def exits_within(proc: subprocess.Popen[str], timeout: float) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"{proc.args!r} still runs after {timeout:g}s") from None
    return proc.returncode, out, err


Spawn = Callable[..., "subprocess.Popen[str]"]


@pytest.fixture
def spawn(capsys: pytest.CaptureFixture[str]) -> Iterator[Spawn]:
    """Start `runner ARGS...` as another process, as from another terminal. Whatever is
    left running at the end is stopped, and its run's tasks with it."""
    started: list[subprocess.Popen[str]] = []

    def _spawn(*args: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "runner", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        started.append(proc)
        return proc

    yield _spawn
    for proc in started:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.communicate(timeout=3)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
    run(["history"])  # a killed runner's run is found stale and its tasks are killed
    capsys.readouterr()


def lines_of(proc: subprocess.Popen[str]) -> queue.Queue[str]:
    """The lines a process prints, as they come."""
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line.rstrip("\n"))

    threading.Thread(target=read, daemon=True).start()
    return lines


def next_line(lines: queue.Queue[str], wanted: str) -> list[str]:
    """Lines up to and including `wanted`, waiting for it up to the deadline."""
    seen: list[str] = []
    deadline = time.monotonic() + DEADLINE
    while True:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise AssertionError(f"no line {wanted!r}; saw {seen}") from None
        seen.append(line)
        if line == wanted:
            return seen


# --- runner run ------------------------------------------------------------------------


def test_run_shows_progress_and_exits_0(jobs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = call(capsys, "run", "ok")
    assert code == 0, err
    lines = out.splitlines()
    assert all(re.match(STAMP, line) for line in lines), out  # not a terminal: plain lines
    text = [line[9:] for line in lines]
    assert text[0] == "run 1 of ok started"
    assert "d skipped: inactive (active: false)" in text
    for task in ("a", "b", "c"):
        assert f"{task} started" in text
        assert any(line.startswith(f"{task} ok (") for line in text), out
    assert text.index("a started") < text.index("b started") < text.index("c started")
    assert re.fullmatch(r"run 1 success in \d+\.\ds", text[-1]), out
    assert err == ""


def test_run_json_prints_the_run(jobs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = call(capsys, "run", "ok", "--json")
    assert code == 0
    data = json.loads(out)
    assert set(data) >= SPEC_RUN_FIELDS
    assert (data["id"], data["job"], data["revision"]) == (1, "ok", 1)
    assert (data["trigger"], data["state"], data["reason"]) == ("manual", "success", None)
    for field in ("due", "created", "started", "ended"):
        assert data[field].endswith("Z"), data[field]
        datetime.fromisoformat(data[field])
    assert [t["name"] for t in data["tasks"]] == ["a", "b", "c", "d"]
    for task in data["tasks"]:
        assert set(task) >= SPEC_TASK_FIELDS
    a = data["tasks"][0]
    assert (a["state"], a["attempt"], a["exit_code"], a["reason"]) == ("success", 1, 0, None)
    assert a["started"].endswith("Z") and a["ended"].endswith("Z")
    assert data["tasks"][3]["state"] == "skipped"


def test_failed_run_exits_1_with_its_reason_and_where_the_logs_are(
    jobs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = call(capsys, "run", "broken")
    assert code == 1
    text = [line[9:] for line in out.splitlines()]
    assert any(re.fullmatch(r"a FAILED \(\d+\.\ds\): exit code 3", line) for line in text), out
    assert "b skipped: preceding task a failed" in text
    assert re.fullmatch(r"run 1 failed in \d+\.\ds: task a failed: exit code 3", text[-1]), out
    assert err == "logs: runner logs 1\n"
    assert call(capsys, "logs", "1", "a")[1] == "before\n"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["okk"], 'unknown job "okk" (did you mean "ok"?)'),
        (["ok", "--task", "bb"], 'job ok has no task "bb" (did you mean "b"?); its tasks: a, b,'),
        (["ok", "--task", "d"], "task d of job ok is inactive (active: false)"),
        (["off"], "job off is disabled (disabled: true, "),
    ],
    ids=["unknown-job", "unknown-task", "inactive-task", "disabled-job"],
)
def test_run_refusals_are_one_error_line(
    jobs: Path, capsys: pytest.CaptureFixture[str], args: list[str], expected: str
) -> None:
    code, out, err = call(capsys, "run", *args)
    assert_one_error_line(code, out, err, expected=expected)
    assert call_json(capsys, "history") == []  # nothing was started


def test_env_without_equals_is_a_usage_error(
    jobs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = call(capsys, "run", "ok", "--env", "NOEQUALS")
    assert code == 2
    assert '"NOEQUALS" is not K=V' in err and "--env" in err
    assert "Traceback" not in err


def test_env_reaches_the_task(jobs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert call(capsys, "run", "ok", "--env", "GREETING=from the command line")[0] == 0
    assert call(capsys, "logs", "1", "a")[1] == "a says from the command line (manual run 1)\n"


def test_only_the_selected_tasks_run(jobs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = call(capsys, "run", "ok", "--task", "a", "--task", "c")
    assert code == 0
    assert "b started" not in out and "c started" in out
    _, status, _ = call(capsys, "status", "1")
    assert re.search(r"^b +skipped +- .* not selected$", status, re.M), status
    assert re.search(r"^c +success +1 ", status, re.M), status
    states = {t["name"]: t["state"] for t in call_json(capsys, "status", "1")["tasks"]}
    assert states == {"a": "success", "b": "skipped", "c": "success", "d": "skipped"}


def test_overlap_skip_refuses_a_second_run_unless_allowed(
    jobs: Path, capsys: pytest.CaptureFixture[str], spawn: Spawn
) -> None:
    first = spawn("run", "gate")
    running = running_run("gate")
    code, out, err = call(capsys, "run", "gate")
    assert_one_error_line(
        code, out, err, expected=f"job gate has run {running.id} running; its overlap policy"
    )
    assert f"runner cancel {running.id}" in err and "--overlap allow" in err

    status = call_json(capsys, "status", "gate")
    assert [r["id"] for r in status["active_runs"]] == [running.id]
    assert "1 running, 0 queued" in call(capsys, "status")[1]

    code, out, _ = call(capsys, "run", "gate", "--overlap", "allow", "--env", "GATE=.")
    assert code == 0
    assert out.splitlines()[-1][9:].startswith(f"run {running.id + 1} success in ")

    (jobs / "open").touch()
    code, out, _ = exits_within(first, DEADLINE)
    assert code == 0
    assert out.splitlines()[-1][9:].startswith(f"run {running.id} success in ")


# --- runner cancel, Ctrl-C, kill -9 ----------------------------------------------------


def test_cancel_from_another_terminal_stops_the_run_within_a_second(
    jobs: Path, capsys: pytest.CaptureFixture[str], spawn: Spawn
) -> None:
    foreground = spawn("run", "slow")
    running = running_run("slow")
    pgid = task_pid(running)
    assert live_in_group(pgid)

    began = time.monotonic()
    code, out, err = call(capsys, "cancel", str(running.id))
    took = time.monotonic() - began
    assert code == 0, err
    assert store_run(running.id).state == "cancelled"
    assert took < 1.0, f"the run was cancelled {took:.2f}s after runner cancel"
    assert out == f"run {running.id} of slow: cancelled (cancelled by {WHO})\n"

    code, fg_out, fg_err = exits_within(foreground, DEADLINE)
    assert code == 1
    assert re.search(
        rf"^{STAMP}run {running.id} cancelled in \d+\.\ds: cancelled by {WHO}$",
        fg_out,
        re.M,
    ), fg_out
    assert f"logs: runner logs {running.id}" in fg_err
    record = store_run(running.id)
    assert (record.state, record.reason) == ("cancelled", f"cancelled by {WHO}")
    assert (record.tasks[0].state, record.tasks[0].reason) == ("cancelled", f"cancelled by {WHO}")
    wait_for("the task's processes to go", lambda: not live_in_group(pgid))


def test_cancel_a_queued_run_discards_it(
    jobs: Path, capsys: pytest.CaptureFixture[str], spawn: Spawn
) -> None:
    first = spawn("run", "gate")
    running = running_run("gate")
    second = spawn("run", "gate", "--overlap", "queue")
    queued = running_run("gate", state="scheduled")
    assert queued.id == running.id + 1

    data = call_json(capsys, "cancel", str(queued.id), "--reason", "not needed")
    assert (data["id"], data["state"], data["reason"]) == (queued.id, "discarded", "not needed")
    code, out, _ = exits_within(second, DEADLINE)
    assert code == 1
    assert f"queued behind run {running.id}" in out

    (jobs / "open").touch()
    assert exits_within(first, DEADLINE)[0] == 0
    assert store_run(queued.id).started is None


def test_cancel_refuses_an_ended_run_and_a_missing_one(
    jobs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    call(capsys, "run", "ok")
    code, out, err = call(capsys, "cancel", "1")
    assert_one_error_line(code, out, err, expected="run 1 of ok already ended (success)")
    code, out, err = call(capsys, "cancel", "7")
    assert_one_error_line(code, out, err, expected="no run 7")


def test_a_store_that_fails_under_a_command_is_one_error_line(
    jobs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    call(capsys, "run", "ok")
    with opened(home=home()) as store, store.engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE task_runs"))  # the store broken under runner
        where = store.where
    code, out, err = call(capsys, "history")
    assert_one_error_line(code, out, err, expected=f"error: the store at {where}: ")


@pytest.mark.parametrize(
    ("sig", "how"),
    [(signal.SIGINT, "Ctrl-C"), (signal.SIGTERM, "SIGTERM"), (signal.SIGHUP, "SIGHUP")],
    ids=["int", "term", "hup"],
)
def test_ctrl_c_cancels_the_run_cleanly(
    jobs: Path, spawn: Spawn, sig: signal.Signals, how: str
) -> None:
    foreground = spawn("run", "slow")
    running = running_run("slow")
    pgid = task_pid(running)
    foreground.send_signal(sig)
    code, out, err = exits_within(foreground, DEADLINE)
    assert code == 1
    assert "Traceback" not in err
    reason = f"cancelled by {how} on runner run"
    assert "nap cancelled (" in out and out.count(reason) == 2, out
    record = store_run(running.id)
    assert (record.state, record.reason) == ("cancelled", reason)
    wait_for("the task's processes to go", lambda: not live_in_group(pgid))


def test_a_second_ctrl_c_kills_tasks_that_ignore_the_first(
    jobs: Path, capsys: pytest.CaptureFixture[str], spawn: Spawn
) -> None:
    foreground = spawn("run", "stubborn")
    running = running_run("stubborn")
    pgid = task_pid(running)
    foreground.send_signal(signal.SIGINT)
    wait_for(
        "the task to get SIGTERM",
        lambda: "got TERM" in call(capsys, "logs", str(running.id), "nap")[1],
    )
    assert foreground.poll() is None and live_in_group(pgid)  # it ignores SIGTERM
    foreground.send_signal(signal.SIGINT)
    # The grace before SIGKILL is 10 s; a second Ctrl-C does not wait for it.
    code, _, _ = exits_within(foreground, 5.0)
    assert code == 1
    assert store_run(running.id).state == "cancelled"
    assert not live_in_group(pgid)


def test_kill_9_leaves_a_stale_run_and_no_task_behind(
    jobs: Path, capsys: pytest.CaptureFixture[str], spawn: Spawn
) -> None:
    foreground = spawn("run", "slow")
    running = running_run("slow")
    pgid = task_pid(running)
    foreground.kill()
    foreground.communicate()
    assert live_in_group(pgid)  # the task outlives its runner until someone notices

    (data,) = call_json(capsys, "history", "slow")
    assert (data["id"], data["state"]) == (running.id, "stale")
    owner = f"pid {foreground.pid} on {socket.gethostname()}"
    assert data["reason"] == f"its runner ({owner}) died while it ran"
    assert data["ended"] is not None
    wait_for("the task's processes to be killed", lambda: not live_in_group(pgid))


# --- runner status ---------------------------------------------------------------------


def test_status_of_a_run_shows_its_tasks_attempts_and_progress(
    jobs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = call(capsys, "run", "flaky")
    assert code == 0
    assert re.search(r"^" + STAMP + r"a failed \(\d+\.\ds\): exit code 1; retry 1 of 2", out, re.M)
    assert re.search(r"^" + STAMP + r"a started \(attempt 2\)$", out, re.M), out

    code, text, _ = call(capsys, "status", "1")
    assert code == 0
    lines = text.splitlines()
    assert lines[0] == "run 1 of flaky: success"
    assert "  progress 1/1 tasks done" in lines
    header = next(line for line in lines if line.startswith("TASK"))
    assert header.split() == ["TASK", "STATE", "ATTEMPT", "STARTED", "TOOK", "EXIT", "REASON"]
    assert re.search(r"^a +success +2 +\S+ \S+ +\d+\.\ds +0 +-$", text, re.M), text
    assert re.search(r"^ +attempt 1 +\S+ \S+ +\d+\.\ds +1 +exit code 1; retry 1 of 2", text, re.M)

    data = call_json(capsys, "status", "1")
    assert set(data) >= SPEC_RUN_FIELDS
    assert data["progress"] == {"done": 1, "total": 1}
    (task,) = data["tasks"]
    assert [(a["attempt"], a["exit_code"]) for a in task["attempts"]] == [(1, 1), (2, 0)]


def test_status_of_a_failed_run_counts_its_progress(
    jobs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    call(capsys, "run", "broken")
    _, text, _ = call(capsys, "status", "1")
    assert text.splitlines()[0] == "run 1 of broken: failed (task a failed: exit code 3)"
    assert "  progress 2/2 tasks done" in text
    assert re.search(r"^a +failed +1 .* 3 +exit code 3$", text, re.M), text


def test_status_of_a_job(jobs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, text, _ = call(capsys, "status", "nightly")
    assert code == 0
    lines = text.splitlines()
    first_line = JOBS.lstrip("\n").splitlines().index("name: nightly") - 1
    assert lines[0] == f"job nightly  revision 1  jobs.d/jobs.yaml:{first_line}"
    assert "  schedule   30 6 * * 1-5 (Europe/Berlin); overlap skip" in lines
    assert re.search(r"^  next runs  (\d{4}-\d\d-\d\d 06:30 CES?T(, )?){3}$", text, re.M), text
    assert "    freeze: active, releases at 2099-01-01T00:00:00Z" in text
    assert "  active     -" in lines and "  last run   -" in lines
    assert "  missed     0 ticks (overlap 0, deadline 0, catchup 0, held 0)" in lines

    data = call_json(capsys, "status", "nightly")
    assert [(h["name"], h["origin"], h["active"]) for h in data["holds"]] == [
        ("freeze", "config", True)
    ]
    assert data["active_runs"] == []
    assert data["missed"] == {"overlap": 0, "deadline": 0, "catchup": 0, "held": 0}
    assert len(data["next_runs"]) == 3 and all(t.endswith("Z") for t in data["next_runs"])

    call(capsys, "run", "ok")
    _, text, _ = call(capsys, "status", "ok")
    assert "  schedule   manual: runs when triggered; overlap skip" in text
    assert "  next runs  -" in text and "  last run   1 success" in text
    assert call_json(capsys, "status", "ok")["next_runs"] == []


def test_status_without_argument_shows_the_last_apply(
    write: WriteFile, capsys: pytest.CaptureFixture[str]
) -> None:
    code, text, _ = call(capsys, "status")
    assert code == 0
    assert text.splitlines() == [
        "daemon         not running; start it with runner daemon",
        "configuration  never applied",
        "runs           0 running, 0 queued",
    ]
    write("jobs.yaml", JOBS)
    run(["apply"])
    capsys.readouterr()
    _, text, _ = call(capsys, "status")
    assert re.search(
        r"^configuration  last apply at \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ: "
        r"applied \(9 added, 0 changed, 0 deleted",
        text,
        re.MULTILINE,
    ), text
    data = call_json(capsys, "status")
    assert data["daemon"] == {"running": False, "last": None}
    assert data["configuration"]["last_reconcile"]["outcome"] == "applied"
    assert data["runs"] == {"running": [], "queued": []}


def test_status_of_a_number_that_is_no_run_is_the_job_of_that_name(
    jobs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, text, _ = call(capsys, "status", "42")
    assert code == 0
    assert text.startswith("job 42  revision 1")
    call(capsys, "run", "42")
    assert call(capsys, "status", "1")[1].startswith("run 1 of 42: success")
    assert call_json(capsys, "status", "42")["last_run"] == {"id": 1, "state": "success"}


def test_status_of_an_unknown_job(jobs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = call(capsys, "status", "nightlyy")
    assert_one_error_line(code, out, err, expected='unknown job "nightlyy" (did you mean')


# --- runner history --------------------------------------------------------------------


def test_history_is_newest_first_and_filters(
    jobs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for job in ("ok", "broken", "ok"):
        call(capsys, "run", job)
    code, text, _ = call(capsys, "history")
    assert code == 0
    lines = text.splitlines()
    assert lines[0].split() == ["RUN", "JOB", "STATE", "TRIGGER", "DUE", "TOOK", "REASON"]
    assert [line.split()[:3] for line in lines[1:]] == [
        ["3", "ok", "success"],
        ["2", "broken", "failed"],
        ["1", "ok", "success"],
    ]
    assert [r["id"] for r in call_json(capsys, "history", "ok")] == [3, 1]
    assert [r["id"] for r in call_json(capsys, "history", "--state", "failed")] == [2]
    assert [
        r["id"] for r in call_json(capsys, "history", "--state", "failed", "--state", "success")
    ] == [3, 2, 1]
    assert [r["id"] for r in call_json(capsys, "history", "--limit", "2")] == [3, 2]
    assert call(capsys, "history", "--state", "cancelled")[1] == "No runs.\n"


def test_history_within_dates_and_times(jobs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    call(capsys, "run", "ok")
    call(capsys, "run", "ok")
    first, second = (r["due"] for r in reversed(call_json(capsys, "history")))

    def ids(*args: str) -> list[int]:
        return [r["id"] for r in call_json(capsys, "history", *args)]

    day, last_day = datetime.fromisoformat(first).date(), datetime.fromisoformat(second).date()
    assert ids("--since", str(day), "--until", str(last_day)) == [2, 1]  # whole days
    assert ids("--since", str(last_day + timedelta(days=1))) == []
    assert ids("--until", str(day - timedelta(days=1))) == []
    assert ids("--since", first) == [2, 1]
    assert ids("--until", second) == [1]  # until is exclusive
    assert ids("--since", second, "--until", second) == []
    later = datetime.fromisoformat(second) + timedelta(seconds=1)
    assert ids("--since", later.isoformat()) == []
    earlier = datetime.fromisoformat(first) - timedelta(seconds=1)
    assert ids("--since", earlier.strftime("%Y-%m-%dT%H:%M:%SZ"), "--until", later.isoformat()) == [
        2,
        1,
    ]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--since", "yesterday"], '--since "yesterday" is neither a date (2026-11-01) nor a time'),
        (["--until", "2026-13-01"], '--until "2026-13-01" is neither a date'),
        (["nope"], 'unknown job "nope"'),
        (["--until", "9999-12-31"], "between the years 1970 and 9998"),
        (["--since", "0999-01-01"], "between the years 1970 and 9998"),
    ],
    ids=["bad-since", "bad-until", "unknown-job", "far-future", "far-past"],
)
def test_history_errors(
    jobs: Path, capsys: pytest.CaptureFixture[str], args: list[str], expected: str
) -> None:
    code, out, err = call(capsys, "history", *args)
    assert_one_error_line(code, out, err, expected=expected)


def test_history_with_an_unknown_state_is_a_usage_error_naming_the_states(
    jobs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = call(capsys, "history", "--state", "success", "--state", "done")
    assert (code, out) == (2, "")
    assert err == (
        'error: unknown run state "done": one of scheduled, running, success, failed, '
        "cancelled, discarded, stale\n"
    )


# --- runner tasks ----------------------------------------------------------------------


def test_tasks_show_their_last_run(
    jobs: Path, write: WriteFile, capsys: pytest.CaptureFixture[str]
) -> None:
    code, text, _ = call(capsys, "tasks", "nightly")
    assert code == 0
    lines = text.splitlines()
    assert lines[0].split() == [
        "TASK",
        "STATE",
        "ATTEMPT",
        "STARTED",
        "TOOK",
        "EXIT",
        "REASON",
        "RUN",
    ]
    assert [line.split()[:3] for line in lines[1:]] == [
        ["collect", "never", "run"],
        ["send", "never", "run"],
    ]
    assert call_json(capsys, "tasks", "nightly")[0] == {
        "name": "collect",
        "run": None,
        "state": None,
    }

    call(capsys, "run", "broken")
    call(capsys, "run", "ok")
    call(capsys, "run", "ok", "--task", "c")
    _, text, _ = call(capsys, "tasks", "broken")
    assert re.search(r"^a +failed +1 .* 3 +exit code 3 +1$", text, re.M), text
    assert re.search(r"^b +skipped +- .* preceding task a failed +1$", text, re.M), text

    write(
        "jobs.yaml",
        JOBS.replace("    run: echo c\n", "    run: echo c\n  - name: e\n    run: echo e\n"),
    )
    run(["apply"])
    capsys.readouterr()
    _, text, _ = call(capsys, "tasks", "ok")
    assert re.search(r"^a +success +1 .* 0 +- +2$", text, re.M), text  # run 3 did not select a
    assert re.search(r"^c +success +1 .* 0 +- +3$", text, re.M), text
    assert re.search(r"^e +never run +- ", text, re.M), text  # added after the runs
    data = {t["name"]: t for t in call_json(capsys, "tasks", "ok")}
    assert (data["c"]["run"], data["c"]["state"], data["c"]["exit_code"]) == (3, "success", 0)
    assert data["e"] == {"name": "e", "run": None, "state": None}

    code, out, err = call(capsys, "tasks", "okk")
    assert_one_error_line(code, out, err, expected='unknown job "okk"')


# --- runner logs -----------------------------------------------------------------------


def test_logs_of_a_run_a_task_and_an_attempt(
    jobs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    call(capsys, "run", "ok")
    call(capsys, "run", "flaky")
    code, text, _ = call(capsys, "logs", "1")
    assert code == 0
    assert text == (
        "==> a (attempt 1) <==\na says hello (manual run 1)\n"
        "==> b (attempt 1) <==\nb\n"
        "==> c (attempt 1) <==\nc\n"
    )
    assert call(capsys, "logs", "1", "b")[1] == "b\n"
    assert call(capsys, "logs", "2")[1] == "==> a (attempt 2) <==\nattempt 2\n"
    assert call(capsys, "logs", "2", "a", "--attempt", "1")[1] == "attempt 1\n"
    assert call_json(capsys, "logs", "2") == [{"task": "a", "attempt": 2, "log": "attempt 2\n"}]
    assert call_json(capsys, "logs", "2", "a", "--attempt", "1") == [
        {"task": "a", "attempt": 1, "log": "attempt 1\n"}
    ]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["2", "a", "--attempt", "3"], "task a of run 2 has no attempt 3 (it has 2)"),
        (["2", "b"], 'run 2 of flaky has no task "b"'),
        (["9"], "no run 9"),
    ],
    ids=["attempt-too-high", "unknown-task", "missing-run"],
)
def test_logs_errors(
    jobs: Path, capsys: pytest.CaptureFixture[str], args: list[str], expected: str
) -> None:
    call(capsys, "run", "ok")
    call(capsys, "run", "flaky")
    code, out, err = call(capsys, "logs", *args)
    assert_one_error_line(code, out, err, expected=expected)


def test_logs_attempt_too_high_without_a_task_is_an_error(
    jobs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    call(capsys, "run", "flaky")
    code, out, err = call(capsys, "logs", "1", "--attempt", "3")
    assert_one_error_line(code, out, err, expected="no attempt 3")


def test_logs_follow_prints_what_is_written_until_the_run_ends(jobs: Path, spawn: Spawn) -> None:
    gate = jobs / "gate-file"
    foreground = spawn("run", "gate", "--env", f"GATE={gate}")
    running = running_run("gate")
    follower = spawn("logs", str(running.id), "--follow")
    lines = lines_of(follower)
    next_line(lines, "waiting")
    assert follower.poll() is None and store_run(running.id).state == "running"

    gate.touch()  # only now does the task write its second line
    next_line(lines, "through")
    assert follower.wait(timeout=DEADLINE) == 0
    assert exits_within(foreground, DEADLINE)[0] == 0
    assert store_run(running.id).state == "success"


def test_a_run_id_too_large_for_the_store_is_a_usage_error(
    jobs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = call(capsys, "cancel", "99999999999999999999")
    assert code == 2 and "Traceback" not in err
    code, _, err = call(capsys, "status", "99999999999999999999")
    assert_one_error_line(code, "", err, expected='unknown job "99999999999999999999"')


HELD = """
apiVersion: runner/v1
kind: Job
name: frozen
labels: {team: finance}
tasks:
  - {name: extract, run: "true"}
  - {name: load, run: "true"}
---
apiVersion: runner/v1
kind: Hold
name: frozen
jobs: [frozen]
tasks: [load]
until: 2099-01-04T08:00:00+01:00
reason: a Hold may share its job's name
---
apiVersion: runner/v1
kind: Hold
name: freeze
selector: {labels: {team: finance}}
reason: Year-end change freeze
"""


def test_a_held_task_is_not_run_and_every_hold_is_listed(
    write: WriteFile, capsys: pytest.CaptureFixture[str]
) -> None:
    write("held.yaml", HELD)
    assert run(["apply"]) == 0
    capsys.readouterr()
    holds = call_json(capsys, "status", "frozen")["holds"]
    assert [(h["name"], h["active"], h["tasks"]) for h in holds] == [
        ("freeze", True, None),
        ("frozen", True, ["load"]),  # a Hold with its job's name is listed too
    ]
    code, out, err = call(capsys, "run", "frozen")
    assert_one_error_line(code, out, err, expected="held by freeze on task extract, load")
    assert "until it is released: removed from jobs.d/held.yaml:17" in err

    write("held.yaml", HELD.split("---\napiVersion: runner/v1\nkind: Hold\nname: freeze")[0])
    assert run(["apply"]) == 0
    capsys.readouterr()
    code, out, err = call(capsys, "run", "frozen")
    assert_one_error_line(code, out, err, expected="held by frozen on task load")
    assert "until it is released: at 2099-01-04T07:00:00Z, or removed from" in err
    code, out, _ = call(capsys, "run", "frozen", "--task", "extract")
    assert code == 0 and "run 1 success" in out
