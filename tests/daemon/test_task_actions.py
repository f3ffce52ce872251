"""finish, stop and retry (SPEC 3.1, issue 14) against a real daemon, as an operator
uses them from another terminal: the README's deploy-docs walk-through, a task stopped,
retried and finished, a failed run retried as the same run, each refusal in one line
with exit code 1, and the audit of who did what."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from runner.ops.identity import local_actor
from runner.store import RunRecord
from tests.daemon.conftest import Env
from tests.waiting import live_in_group, wait_for

WHO = local_actor().who
REPO = Path(__file__).resolve().parents[2]

SLOW = """
apiVersion: runner/v1
kind: Job
name: slow
schedule: {mode: manual}
tasks:
  - {name: a, run: echo a}
  - {name: b, run: 'sleep "${NAP:-30}"'}
  - {name: c, run: echo c}
"""
FLAKY = """
apiVersion: runner/v1
kind: Job
name: flaky
schedule: {mode: manual}
tasks:
  - {name: a, run: echo a >> a.count}
  - {name: b, run: test -f ok}
  - {name: c, run: echo c}
"""


def task(record: RunRecord, name: str) -> tuple[str, int, str | None]:
    t = next(t for t in record.tasks if t.name == name)
    return t.state, t.attempt, t.reason


def one_error(done: object, expected: str) -> None:
    code, out, err = done.returncode, done.stdout, done.stderr  # type: ignore[attr-defined]
    assert code == 1, (out, err)
    assert err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err, err
    assert expected in err, err


def waiting_at(env: Env, run_id: int, name: str) -> RunRecord:
    found: list[RunRecord] = []

    def ready() -> bool:
        found[:] = [r for r in env.runs() if r.id == run_id]
        return bool(found) and task(env.run(run_id), name)[0] == "waiting"

    wait_for(f"task {name} of run {run_id} to wait", ready)
    return env.run(run_id)


def running_task(env: Env, run_id: int, name: str) -> int:
    """Wait until the task runs with its process; its process group."""
    pids: list[int] = []

    def ready() -> bool:
        t = next(t for t in env.run(run_id).tasks if t.name == name)
        if t.state == "running" and t.pid:
            pids.append(t.pid)
            return True
        return False

    wait_for(f"task {name} of run {run_id} to run", ready)
    return pids[-1]


def test_the_readme_deploy_docs_walk_through(env: Env) -> None:
    """One terminal waits on a run, the other approves it; the job's file's comment and
    its task's prompt name the command that does it."""
    shutil.copy(REPO / "jobs.d" / "deploy-docs.yaml", env.config / "deploy-docs.yaml")
    env.start().wait_up()
    first = waiting_at(env, 1, "approve")  # the "save and run" run of status: start
    assert task(first, "build")[0] == "success" and first.state == "running"
    assert task(first, "publish")[0] == "pending"

    done = env.runner("finish", "1", "approve")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == (
        f"run 1 of deploy-docs: task approve success (finished by {WHO})"
    )
    env.wait_runs("run 1 to succeed", lambda r: r.state == "success", job="deploy-docs")
    assert task(env.run(1), "publish")[:2] == ("success", 1)

    waiting = env.spawn("run", "deploy-docs", "--wait")
    waiting_at(env, 2, "approve")
    approved = env.runner("finish", "2", "approve", "--json")
    assert approved.returncode == 0, approved.stderr
    answer = json.loads(approved.stdout)
    assert answer["run"]["id"] == 2
    assert answer["results"] == [
        {"task": "approve", "status": "ok", "state": "success", "detail": f"finished by {WHO}"}
    ]
    out, err = waiting.communicate(timeout=10)
    assert waiting.returncode == 0, err
    assert out.splitlines()[-1] == "run 2 success", out

    rejected = env.spawn("run", "deploy-docs", "--wait")
    waiting_at(env, 3, "approve")
    done = env.runner("finish", "3", "approve", "--reject", "the build log shows warnings")
    assert done.returncode == 0, done.stderr
    out, _ = rejected.communicate(timeout=10)
    assert rejected.returncode == 1
    record = env.run(3)
    assert record.state == "failed"
    assert record.reason == (
        f"task approve failed: rejected by {WHO}: the build log shows warnings"
    )
    assert task(record, "publish")[0] == "skipped"


def test_stop_retry_only_and_finish_a_running_task(env: Env) -> None:
    env.write("slow.yaml", SLOW)
    env.start().wait_up()
    assert env.runner("run", "slow").returncode == 0
    (run,) = env.wait_runs("a run of slow", lambda r: r.state == "running", job="slow")
    pgid = running_task(env, run.id, "b")

    stopped = env.runner("stop", str(run.id), "b", "--json")
    assert stopped.returncode == 0, stopped.stderr
    assert json.loads(stopped.stdout)["results"] == [
        {"task": "b", "status": "ok", "state": "stopped", "detail": f"stopped by {WHO}"}
    ]
    wait_for("the stopped task's processes to go", lambda: not live_in_group(pgid))
    record = env.run(run.id)
    assert record.state == "running"  # it waits for finish, retry or cancel
    assert task(record, "b") == ("stopped", 1, f"stopped by {WHO}")
    assert task(record, "c")[0] == "pending"

    one_error(env.runner("stop", str(run.id), "b"), "task b is stopped, not running")
    one_error(
        env.runner("retry", str(run.id)),
        f"run {run.id} of slow is running: only a stopped task of it is retried",
    )
    again = env.runner("retry", str(run.id), "--only", "b")
    assert again.returncode == 0, again.stderr
    pgid = running_task(env, run.id, "b")
    assert task(env.run(run.id), "b")[:2] == ("running", 2)  # a new attempt

    assert env.runner("stop", str(run.id), "b").returncode == 0
    one_error(
        env.runner("retry", str(run.id), "--only", "a"),
        "task a has already ended (success): on a running run only a stopped task",
    )
    done = env.runner("finish", str(run.id), "b")
    assert done.returncode == 0, done.stderr
    env.wait_runs("the run to succeed", lambda r: r.state == "success", job="slow")
    record = env.run(run.id)
    assert task(record, "b") == ("success", 2, f"finished by {WHO}")
    assert task(record, "c")[:2] == ("success", 1)
    assert [a.reason for a in record.tasks[1].attempts] == [f"stopped by {WHO}"] * 2

    audit = env.runner_json("audit")
    actions = [(e["action"], e["target"], e["status"]) for e in audit]
    assert actions == [
        ("run", None, "ok"),
        ("stop", "b", "ok"),
        ("stop", "b", "refused"),
        ("retry", None, "refused"),
        ("retry", "b", "ok"),
        ("stop", "b", "ok"),
        ("retry", "a", "refused"),
        ("finish", "b", "ok"),
    ]
    assert {e["who"] for e in audit} == {WHO}
    assert all(e["origin"].startswith("cli on ") for e in audit)


def test_cancel_ends_a_stopped_task_cancelled(env: Env) -> None:
    env.write("slow.yaml", SLOW)
    env.start().wait_up()
    assert env.runner("run", "slow").returncode == 0
    (run,) = env.wait_runs("a run of slow", lambda r: r.state == "running", job="slow")
    running_task(env, run.id, "b")
    assert env.runner("stop", str(run.id), "b").returncode == 0
    done = env.runner("cancel", str(run.id))
    assert done.returncode == 0, done.stderr
    record = env.run(run.id)
    assert record.state == "cancelled"
    assert task(record, "b")[0] == "cancelled"


def test_retry_of_a_failed_run_keeps_what_succeeded_and_is_the_same_run(env: Env) -> None:
    env.write("flaky.yaml", FLAKY)
    env.start().wait_up()
    done = env.runner("run", "flaky", "--wait")
    assert done.returncode == 1
    (failed,) = env.runs("flaky")
    assert failed.state == "failed" and task(failed, "c")[0] == "skipped"

    (env.config / "ok").write_text("")
    retried = env.runner("retry", str(failed.id), "--json")
    assert retried.returncode == 0, retried.stderr
    assert [
        (r["task"], r["status"], r["state"]) for r in json.loads(retried.stdout)["results"]
    ] == [
        ("b", "ok", "pending"),
        ("c", "ok", "pending"),
    ]
    env.wait_runs("the retried run to succeed", lambda r: r.state == "success", job="flaky")
    record = env.run(failed.id)
    assert [r.id for r in env.runs("flaky")] == [failed.id]  # the same run, no new one
    assert record.trigger == "manual"  # its trigger is kept
    assert task(record, "a") == ("success", 1, None)  # kept, not run again
    assert task(record, "b")[:2] == ("success", 2)
    assert (env.config / "a.count").read_text() == "a\n"

    one_error(
        env.runner("retry", str(failed.id)),
        f"run {failed.id} of flaky succeeded: nothing to retry",
    )
    again = env.runner("retry", str(failed.id), "--from", "b")
    assert again.returncode == 0, again.stderr
    wait_for(
        "the run to succeed again",
        lambda: task(env.run(failed.id), "c")[1] == 2 and env.run(failed.id).state == "success",
    )
    record = env.run(failed.id)
    assert task(record, "a")[:2] == ("success", 1)
    assert task(record, "b")[:2] == ("success", 3)
    history = env.runner_json("audit", "--who", WHO)
    assert [(e["action"], e["target"], e["status"]) for e in history][-3:] == [
        ("retry", "b, c", "ok"),
        ("retry", None, "refused"),
        ("retry", "b, c", "ok"),
    ]


def test_every_refusal_of_a_task_action_is_one_line_with_exit_1(env: Env) -> None:
    env.write("slow.yaml", SLOW)
    shutil.copy(REPO / "jobs.d" / "deploy-docs.yaml", env.config / "deploy-docs.yaml")
    env.start().wait_up()
    waiting_at(env, 1, "approve")
    assert env.runner("run", "slow").returncode == 0
    run = env.wait_runs("a run of slow", lambda r: r.state == "running", job="slow")[0].id
    running_task(env, run, "b")

    one_error(
        env.runner("finish", str(run), "b"), f"task b is running: `runner stop {run} b` first"
    )
    one_error(
        env.runner("finish", str(run), "c"),
        "task c is pending: only a waiting or stopped task is finished",
    )
    one_error(
        env.runner("finish", str(run), "a"),
        "task a has already ended (success): only a waiting or stopped task is finished",
    )
    one_error(env.runner("stop", "1", "approve"), "task approve is a manual task waiting")
    one_error(env.runner("stop", "1", "build"), "task build has already ended (success)")
    one_error(env.runner("finish", str(run), "zz"), f"run {run} of slow has no task zz")
    one_error(env.runner("finish", "99", "b"), "no run 99")
    assert env.runner("cancel", str(run)).returncode == 0
    one_error(
        env.runner("finish", str(run), "b"),
        f"run {run} of slow already ended (cancelled): nothing to finish; `runner retry {run}`",
    )
    done = env.runner("retry", str(run), "--from", "b", "--only", "c")
    assert done.returncode == 2 and "give one of them" in done.stderr
    done = env.runner("finish", "1", "approve", "--reject", " ")
    assert done.returncode == 2 and "--reject needs a reason" in done.stderr
    refused = env.runner("finish", str(run), "b", "--json")
    assert refused.returncode == 1
    assert json.loads(refused.stdout)["results"] == [
        {
            "task": "b",
            "status": "refused",
            "state": "cancelled",
            "detail": f"run {run} of slow already ended (cancelled): nothing to finish; "
            f"`runner retry {run}` runs it again",
        }
    ]
