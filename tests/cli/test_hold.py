"""`runner hold` (SPEC 1.3, 3.1, issue 14): runtime holds on a job, its tasks, or jobs by
label; default names; listed with `(runtime)` in jobs, status and plan; kept by apply;
each refusal one line with exit 1 (2 for usage); recorded in the audit."""

from __future__ import annotations

import json
import os

import pytest

from runner.cli import run
from runner.ops.identity import local_actor
from runner.store import opened
from tests.cli.test_run_commands import Spawn, running_run
from tests.cli.test_run_commands import spawn as spawn
from tests.conftest import WriteFile

WHO = local_actor().who
JOBS = """
apiVersion: runner/v1
kind: Job
name: ledger
labels: {team: finance}
envPassthrough: [NAP]  # the tests set it for the runs they spawn
tasks:
  - {name: extract, run: "true"}
  - {name: load, run: 'sleep "${NAP:-0}"'}
---
apiVersion: runner/v1
kind: Job
name: payroll
labels: {team: finance, tier: gold}
tasks:
  - {name: pay, run: "true"}
---
apiVersion: runner/v1
kind: Job
name: docs
labels: {team: platform}
tasks:
  - {name: build, run: "true"}
"""
LATER = """
---
apiVersion: runner/v1
kind: Job
name: invoices
labels: {team: finance}
tasks:
  - {name: send, run: "true"}
"""


def call(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = run(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_error(result: tuple[int, str, str], expected: str, code: int = 1) -> None:
    got, out, err = result
    assert (got, out) == (code, ""), err
    assert err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err, err
    assert expected in err, err


def holds_of(capsys: pytest.CaptureFixture[str], job: str) -> list[tuple[str, str, bool]]:
    code, out, err = call(capsys, "status", job, "--json")
    assert code == 0, err
    return [(h["name"], h["origin"], h["active"]) for h in json.loads(out)["holds"]]


@pytest.fixture
def applied(write: WriteFile, capsys: pytest.CaptureFixture[str]) -> WriteFile:
    write("jobs.yaml", JOBS)
    assert run(["apply"]) == 0
    capsys.readouterr()
    return write


def test_a_hold_on_a_job_is_named_listed_everywhere_and_kept_by_apply(
    applied: WriteFile, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = call(capsys, "hold", "ledger", "--reason", "incident 4711")
    assert code == 0, err
    assert out.splitlines() == [
        "placed hold ledger-1 (runtime) on ledger",
        "  holds every task; released runner release ledger ledger-1",
    ]
    code, out, err = call(
        capsys, "hold", "ledger", "--task", "load", "--until", "2099-01-01", "--json"
    )
    assert code == 0, err
    placed = json.loads(out)
    assert placed["holds"][0] | {"created_by": None} == {
        "name": "ledger-2",
        "job": "ledger",
        "selector": None,
        "tasks": ["load"],
        "until": "2099-01-01T00:00:00Z",
        "depends_on": None,
        "reason": None,
        "origin": "runtime",
        "created_by": None,
        "covers": ["ledger"],
    }
    assert placed["results"] == [
        {"hold": "ledger-2", "job": "ledger", "status": "ok", "detail": None}
    ]
    assert holds_of(capsys, "ledger") == [
        ("ledger-1", "runtime", True),
        ("ledger-2", "runtime", True),
    ]
    code, out, _ = call(capsys, "jobs")
    assert "ledger-1 (runtime), ledger-2 (runtime)" in out
    code, out, _ = call(capsys, "plan")
    assert "2 runtime holds kept (ledger: ledger-1, ledger: ledger-2)" in out
    assert run(["apply"]) == 0
    capsys.readouterr()
    assert len(holds_of(capsys, "ledger")) == 2  # never pruned by apply

    one_error(call(capsys, "run", "ledger"), "held by ledger-1 (runtime) on task extract, load")
    code, out, err = call(capsys, "release", "ledger", "ledger-1")
    assert (code, out) == (0, "released ledger-1 (runtime) on ledger\n"), err
    code, out, err = call(capsys, "run", "ledger", "--task", "extract")
    assert code == 0, err  # the hold left holds load only


def test_a_freeze_by_label_covers_the_jobs_so_labelled_now_and_later(
    applied: WriteFile, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = call(capsys, "hold", "--selector", "team=finance", "--reason", "year end")
    assert code == 0, err
    assert out.splitlines()[0] == "placed hold freeze-1 (runtime) on jobs labelled team=finance"
    assert out.splitlines()[-1] == "  covers now: ledger, payroll"
    code, out, err = call(
        capsys, "hold", "--selector", "team=finance", "--selector", "tier=gold", "--task", "pay"
    )
    assert code == 0, err
    assert "freeze-2" in out and "covers now: payroll" in out

    applied("jobs.yaml", JOBS + LATER)
    assert run(["apply"]) == 0
    capsys.readouterr()
    assert holds_of(capsys, "invoices") == [("freeze-1", "runtime", True)]
    assert holds_of(capsys, "payroll") == [
        ("freeze-1", "runtime", True),
        ("freeze-2", "runtime", True),
    ]
    assert holds_of(capsys, "docs") == []
    one_error(call(capsys, "run", "invoices"), "held by freeze-1 (runtime) on task send")
    assert "runner release --name freeze-1" in call(capsys, "run", "invoices")[2]

    one_error(call(capsys, "release", "invoices"), "no runtime hold on invoices")
    code, out, err = call(capsys, "release", "--name", "freeze-1")
    assert (code, out) == (0, "released freeze-1 (runtime) on jobs labelled team=finance\n"), err
    code, _, err = call(capsys, "run", "invoices")
    assert code == 0, err


def test_hold_refusals_are_one_line(applied: WriteFile, capsys: pytest.CaptureFixture[str]) -> None:
    one_error(call(capsys, "hold", "ledgr"), 'unknown job "ledgr" (did you mean "ledger"?)')
    one_error(call(capsys, "hold", "ledger", "--task", "lod"), 'job ledger has no task "lod"')
    one_error(call(capsys, "hold", "ledger", "--on", "nope"), 'unknown job "nope"')
    one_error(call(capsys, "hold", "ledger", "--on", "docs:zz"), 'job docs has no task "zz"')
    one_error(
        call(capsys, "hold", "ledger", "--until", "2001-01-01"), "--until 2001-01-01 has passed", 2
    )
    one_error(call(capsys, "hold", "ledger", "--until", "soon"), '--until "soon" is neither')
    one_error(call(capsys, "hold"), "give a JOB, or --selector K=V", 2)
    one_error(call(capsys, "hold", "ledger", "--selector", "a=b"), "give a JOB, or --selector", 2)
    one_error(call(capsys, "hold", "--selector", "team"), "give a label as KEY=VALUE", 2)
    assert call(capsys, "hold", "ledger", "--name", "mine")[0] == 0
    one_error(
        call(capsys, "hold", "ledger", "--name", "mine"),
        "a runtime hold named mine is already on ledger",
    )


def test_a_hold_on_a_running_task_is_refused_a_whole_job_hold_is_not(
    applied: WriteFile,
    capsys: pytest.CaptureFixture[str],
    spawn: Spawn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NAP", "30")  # the spawned run's task sleeps
    spawn("run", "ledger")
    running = running_run("ledger")
    one_error(
        call(capsys, "hold", "ledger", "--task", "load"),
        f"task load of ledger is running now in run {running.id}: a hold does not stop a "
        f"running task; `runner stop {running.id} load` first",
    )
    code, out, err = call(capsys, "hold", "ledger", "--reason", "incident")
    assert code == 0, err  # applies from the next start
    code, out, err = call(capsys, "audit", "--json")
    entries = json.loads(out)
    assert [(e["action"], e["status"], e["target"]) for e in entries[-2:]] == [
        ("hold", "refused", None),
        ("hold", "ok", "ledger-1"),
    ]
    assert entries[-1]["who"] == WHO
    assert entries[-1]["detail"] == "holds every task; released runner release ledger ledger-1"
    with opened(home=os.environ["RUNNER_HOME"]) as store:
        (row,) = store.runtime_hold_rows("ledger")
    assert (row["created_by"], row["reason"]) == (WHO, "incident")
