"""Holds on some tasks of a run (SPEC 1.3, issue 14), against a real daemon: the run
starts, its other tasks run, a held task waits as `held` saying what releases it, and it
starts when every hold on it is released: a `dependsOn` met when that run ends, an
`until` passed (the daemon wakes for it), a runtime release. Waits have a deadline;
no time is asserted but the order of things."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from runner.store import RunRecord
from tests.daemon.conftest import Env
from tests.daemon.harness import START, Harness
from tests.waiting import wait_for

SPEC_EXAMPLE = """
apiVersion: runner/v1
kind: Job
name: export
schedule: {mode: manual}
tasks:
  - {name: extract, run: "true"}
  - {name: transform, run: "true"}
  - {name: load, run: "true"}
holds:
  - name: wait-for-ledger
    tasks: [load]
    dependsOn: {job: ledger-close, task: publish}
    reason: load only after the ledger is closed
---
apiVersion: runner/v1
kind: Job
name: ledger-close
schedule: {mode: manual}
tasks:
  - {name: close, run: "true"}
  - {name: publish, run: "true"}
"""
PLAIN = """
apiVersion: runner/v1
kind: Job
name: etl
schedule: {mode: manual}
tasks:
  - {name: extract, run: "true"}
  - {name: slow, run: 'sleep "${NAP:-0}"'}
  - {name: load, run: "true"}
"""


def tasks(record: RunRecord) -> dict[str, str]:
    return {t.name: t.state for t in record.tasks}


def reason(record: RunRecord, task: str) -> str:
    return next(t.reason or "" for t in record.tasks if t.name == task)


def held_at(env: Env, job: str, task: str) -> RunRecord:
    (found,) = env.wait_runs(
        f"task {task} of a run of {job} to be held",
        lambda r: r.state == "running" and tasks(env.run(r.id)).get(task) == "held",
        job=job,
    )
    return env.run(found.id)


def test_the_spec_example_extract_and_transform_run_while_load_waits_for_the_ledger(
    env: Env,
) -> None:
    env.write("jobs.yaml", SPEC_EXAMPLE)
    daemon = env.start()
    daemon.wait_up()
    assert env.runner("run", "export").returncode == 0
    run = held_at(env, "export", "load")
    assert tasks(run) == {"extract": "success", "transform": "success", "load": "held"}
    assert reason(run, "load") == (
        "held by wait-for-ledger (released when task publish of ledger-close succeeds, or "
        "removed from the job's holds (jobs.d/jobs.yaml:1))"
    )
    daemon.wait_event("task-held", f"run {run.id} of export: task load held: held by")
    refused = env.runner("finish", str(run.id), "load")
    assert refused.returncode == 1
    assert "task load is held by wait-for-ledger" in refused.stderr

    ledger = env.runner("run", "ledger-close", "--wait")
    assert ledger.returncode == 0, ledger.stderr
    (done,) = env.wait_runs("export to succeed", lambda r: r.state == "success", job="export")
    record = env.run(done.id)
    (ledger_run,) = env.runs("ledger-close")
    load = next(t for t in record.tasks if t.name == "load")
    assert load.started is not None and ledger_run.ended is not None
    assert load.started >= ledger_run.ended  # released by the ledger's end, not before


def test_a_runtime_hold_until_a_time_is_released_at_that_time_and_several_must_all_end(
    env: Env,
) -> None:
    env.write("etl.yaml", PLAIN)
    daemon = env.start()
    daemon.wait_up()
    until = (datetime.now(UTC) + timedelta(seconds=6)).replace(microsecond=0)
    stamp = until.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert env.runner("hold", "etl", "--task", "load", "--until", stamp).returncode == 0
    assert env.runner("hold", "etl", "--task", "load", "--name", "by-hand").returncode == 0
    assert env.runner("run", "etl").returncode == 0
    run = held_at(env, "etl", "load")
    assert reason(run, "load") == (
        f"held by by-hand (runtime) (released by runner release etl by-hand); "
        f"etl-1 (runtime) (released at {stamp}, or runner release etl etl-1)"
    )
    wait_for(
        "the until to pass and load to be held by the other hold alone",
        lambda: (
            reason(env.run(run.id), "load")
            == "held by by-hand (runtime) (released by runner release etl by-hand)"
        ),
    )
    assert datetime.now(UTC) >= until
    assert tasks(env.run(run.id))["load"] == "held"  # one hold is left on it
    assert env.runner("release", "etl", "by-hand").returncode == 0
    env.wait_runs("etl to succeed", lambda r: r.state == "success", job="etl")


def test_a_whole_job_hold_placed_while_a_task_runs_applies_from_the_next_start(
    env: Env,
) -> None:
    env.write("etl.yaml", PLAIN)
    daemon = env.start()
    daemon.wait_up()
    assert env.runner("run", "etl").returncode == 0  # NAP=0: slow is quick here
    env.wait_runs("a first run", lambda r: r.state == "success", job="etl")
    waiting = env.spawn("run", "etl", "--wait", "--env", "NAP=2")
    (run,) = env.wait_runs(
        "slow to run",
        lambda r: r.state == "running" and tasks(env.run(r.id)).get("slow") == "running",
        job="etl",
    )
    refused = env.runner("hold", "etl", "--task", "slow")
    assert refused.returncode == 1 and "task slow of etl is running now" in refused.stderr
    placed = env.runner("hold", "etl", "--reason", "incident")
    assert placed.returncode == 0, placed.stderr
    held = held_at(env, "etl", "load")  # slow went on and ended; load did not start
    assert tasks(held)["slow"] == "success"
    cancelled = env.runner("cancel", str(run.id))
    assert cancelled.returncode == 0
    assert tasks(env.run(run.id))["load"] == "cancelled"
    waiting.communicate(timeout=10)
    assert env.runner("release", "etl").returncode == 0


def test_a_held_job_gets_no_catch_up_run_on_a_restart(env: Env) -> None:
    """SPEC 2.3: ticks that passed while the job was held are never caught up (each
    restart used to add a catch-up run that waited for the release)."""
    env.write(
        "beat.yaml",
        """
        apiVersion: runner/v1
        kind: Job
        name: beat
        schedule: {every: 1s, catchup: all, overlap: skip}
        tasks:
          - {name: work, run: "true"}
        """,
    )
    daemon = env.start()
    env.wait_runs("a first run", lambda r: r.state == "success", job="beat")
    assert env.runner("hold", "beat", "--reason", "incident").returncode == 0
    daemon.stop()
    before = {r.id for r in env.runs("beat")}
    for _ in range(2):  # a restart, and another one, each after ticks passed unrun
        _let_ticks_pass(2.5)
        again = env.start()
        again.wait_up()
        again.wait_event("ticks-missed", "beat")
        again.stop()
    runs = [r for r in env.runs("beat") if r.id not in before]
    assert [(r.trigger, r.state) for r in runs if r.trigger == "catchup"] == []
    assert len([r for r in runs if r.state == "scheduled"]) <= 1  # the live tick's, held
    status = env.runner_json("status", "beat")
    assert status["missed"]["held"] >= 2


def _let_ticks_pass(seconds: float) -> None:
    later = datetime.now(UTC) + timedelta(seconds=seconds)
    wait_for("ticks to pass while no daemon runs", lambda: datetime.now(UTC) >= later)


def test_a_held_task_starts_once_its_hold_is_removed_from_the_file(env: Env) -> None:
    env.write("jobs.yaml", SPEC_EXAMPLE)
    daemon = env.start()
    daemon.wait_up()
    assert env.runner("run", "export").returncode == 0
    run = held_at(env, "export", "load")
    env.replace("jobs.yaml", _without_holds(SPEC_EXAMPLE))
    env.wait_runs("export to succeed", lambda r: r.state == "success", job="export")
    assert tasks(env.run(run.id))["load"] == "success"
    assert env.runs("ledger-close") == []  # released by the file, not by its dependency


def _without_holds(text: str) -> str:
    job, rest = text.split("holds:", 1)
    return job + "---" + rest.split("---", 1)[1]


UNTIL = START + timedelta(minutes=10)


def test_a_held_task_is_released_at_its_until_under_the_fake_clock(fake: Harness) -> None:
    """The executor wakes for the `until` of the hold on a task; it does not poll: on
    the fake clock nothing happens until the clock reaches it."""
    fake.write(
        "etl.yaml",
        f"""
        apiVersion: runner/v1
        kind: Job
        name: etl
        tasks:
          - {{name: extract, run: "true"}}
          - {{name: load, run: "true"}}
        holds:
          - {{name: window, tasks: [load], until: "{UNTIL:%Y-%m-%dT%H:%M:%SZ}"}}
        """,
    )
    d = fake.boot()
    fake.step()
    now = fake.clock.now()
    fake.store.create_run(
        job="etl", revision=1, trigger="manual", due=now, now=now, tasks=["extract", "load"]
    )
    assert d.supervisor is not None
    sup = d.supervisor

    def states() -> dict[str, str]:
        (run,) = fake.runs("etl")
        return tasks(fake.store.run(run.id) or run)

    deadline = time.monotonic() + 10
    while states() != {"extract": "success", "load": "held"}:
        assert time.monotonic() < deadline, states()
        fake.step()
        sup.poll(0.05)
    fake.clock.advance(timedelta(minutes=9, seconds=59))
    fake.step()
    sup.poll(0.05)
    assert states()["load"] == "held"  # one second early: still held
    fake.clock.advance(1)
    while fake.runs("etl")[0].state != "success":
        assert time.monotonic() < deadline, states()
        sup.poll(0.05)
        fake.step()
