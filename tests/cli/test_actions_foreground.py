"""finish, stop and retry with no daemon (SPEC 3.1, issue 14): a task action reaches the
`runner run` that executes the run in another terminal, and a retry goes on here, in
the foreground, as the same run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runner.ops.identity import local_actor
from runner.store import opened
from tests.cli.test_run_commands import (
    Spawn,
    call,
    exits_within,
    home,
    store_run,
)
from tests.cli.test_run_commands import spawn as spawn
from tests.conftest import WriteFile
from tests.waiting import wait_for

WHO = local_actor().who
JOBS = """
apiVersion: runner/v1
kind: Job
name: gate
envPassthrough: [NAP]  # the tests set it for the runs they spawn
tasks:
  - {name: build, run: "true"}
  - {name: approve, kind: manual, prompt: look at the build}
  - {name: ship, run: 'sleep "${NAP:-0}"'}
---
apiVersion: runner/v1
kind: Job
name: flaky
tasks:
  - {name: a, run: echo a >> a.count}
  - {name: b, run: test -f ok}
  - {name: c, run: echo c}
"""


@pytest.fixture
def folder(write: WriteFile, capsys: pytest.CaptureFixture[str]) -> Path:
    path = write("jobs.yaml", JOBS)
    code, _, err = call(capsys, "apply")
    assert code == 0, err
    return path.parent


def waiting_at(job: str, task: str) -> bool:
    with opened(home=home()) as store:
        runs = store.active_run_records(job)
        full = [store.run(r.id) for r in runs]
    return any(t.name == task and t.state == "waiting" for r in full if r for t in r.tasks)


def task_state(run_id: int, name: str) -> str:
    return next(t.state for t in store_run(run_id).tasks if t.name == name)


def test_finish_and_stop_reach_the_runner_run_of_another_terminal(
    folder: Path, capsys: pytest.CaptureFixture[str], spawn: Spawn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NAP", "30")
    foreground = spawn("run", "gate")
    wait_for("the run's approve to wait", lambda: waiting_at("gate", "approve"))
    running = store_run(1)

    code, out, err = call(capsys, "finish", str(running.id), "approve")
    assert code == 0, err
    assert (
        out.splitlines()[0] == f"run {running.id} of gate: task approve success (finished by {WHO})"
    )
    wait_for("ship to run", lambda: task_state(running.id, "ship") == "running")
    code, out, err = call(capsys, "stop", str(running.id), "ship", "--json")
    assert code == 0, err
    assert json.loads(out)["results"][0]["state"] == "stopped"
    code, out, err = call(capsys, "finish", str(running.id), "ship", "--reject", "not today")
    assert code == 0, err
    code, out, _ = exits_within(foreground, 10)
    assert code == 1
    assert store_run(running.id).reason == f"task ship failed: rejected by {WHO}: not today"


def test_retry_without_a_daemon_goes_on_here_as_the_same_run(
    folder: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(folder)
    code, _, _ = call(capsys, "run", "flaky")
    assert code == 1
    (folder / "ok").write_text("")
    code, out, err = call(capsys, "retry", "1")
    assert code == 0, err
    assert out.splitlines() == [
        f"run 1 of flaky: task b pending (retried by {WHO})",
        f"run 1 of flaky: task c pending (retried by {WHO})",
        "run 1 of flaky is success",
    ]
    record = store_run(1)
    assert [(t.name, t.state, t.attempt) for t in record.tasks] == [
        ("a", "success", 1),
        ("b", "success", 2),
        ("c", "success", 1),
    ]
    assert (folder / "a.count").read_text() == "a\n"
    code, out, err = call(capsys, "retry", "1", "--only", "a")
    assert code == 0, err
    assert [(t.name, t.attempt) for t in store_run(1).tasks] == [("a", 2), ("b", 2), ("c", 1)]


def test_retry_without_a_daemon_is_refused_when_a_hold_covers_what_it_would_run(
    folder: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(folder)
    assert call(capsys, "run", "flaky")[0] == 1
    assert call(capsys, "hold", "flaky", "--task", "c")[0] == 0
    code, out, err = call(capsys, "retry", "1")
    assert (code, out) == (1, "")
    assert err.count("\n") == 1 and "held by flaky-1 (runtime) on task c" in err, err
    assert store_run(1).state == "failed"  # left as it was, not queued for nobody
    assert call(capsys, "release", "flaky")[0] == 0
    (folder / "ok").write_text("")
    assert call(capsys, "retry", "1")[0] == 0
    assert store_run(1).state == "success"
