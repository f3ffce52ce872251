"""A job's `maxParallel` and named Pools against a real daemon (issue 14): a run that
cannot get a slot for its first task waits `scheduled` and says for which pool; the
loads of two jobs that share a one-slot pool never overlap."""

from __future__ import annotations

import itertools
from datetime import datetime

from runner.store import RunRecord
from tests.daemon.conftest import Env

JOBS = """
apiVersion: runner/v1
kind: Pool
name: warehouse-db
slots: 1
---
apiVersion: runner/v1
kind: Job
name: orders
schedule: {mode: manual}
pool: warehouse-db
tasks:
  - {name: load, run: 'sleep "${NAP:-0}"'}
---
apiVersion: runner/v1
kind: Job
name: invoices
schedule: {mode: manual}
tasks:
  - {name: fetch, run: "true", after: []}
  - {name: load, run: "true", pool: warehouse-db, after: [fetch]}
"""


def span(record: RunRecord, task: str) -> tuple[datetime, datetime]:
    t = next(t for t in record.tasks if t.name == task)
    assert t.started is not None and t.ended is not None
    return t.started, t.ended


def test_two_jobs_sharing_a_one_slot_pool_load_one_at_a_time(env: Env) -> None:
    env.write("jobs.yaml", JOBS)
    daemon = env.start()
    daemon.wait_up()
    assert env.runner("run", "orders", "--env", "NAP=3").returncode == 0
    env.wait_runs(
        "the orders load to run",
        lambda r: r.state == "running" and any(t.state == "running" for t in r.tasks),
        job="orders",
    )
    assert env.runner("run", "orders", "--overlap", "allow").returncode == 0
    (second,) = env.wait_runs(
        "the second orders run to wait",
        lambda r: r.state == "scheduled" and r.waiting is not None,
        job="orders",
    )
    assert second.waiting == "waiting for a slot in pool warehouse-db (1 of 1 in use)"
    status = env.runner_json("status", str(second.id))
    assert status["state"] == "scheduled"
    assert status["waiting"] == "waiting for a slot in pool warehouse-db (1 of 1 in use)"
    daemon.wait_event("run-waiting", f"run {second.id}: waiting for a slot in pool warehouse-db")

    assert env.runner("run", "invoices").returncode == 0  # fetch runs; load waits, pending
    (invoices,) = env.wait_runs("invoices to end", lambda r: r.state == "success", job="invoices")
    first, again = env.wait_runs(
        "both orders runs to end", lambda r: r.state == "success", job="orders", count=2
    )
    loads = sorted(span(env.run(r.id), "load") for r in (first, again, invoices))
    for (_, ended), (started, _) in itertools.pairwise(loads):
        assert started >= ended  # one slot: one load at a time
    fetch = span(env.run(invoices.id), "fetch")
    assert fetch[0] < loads[-1][0]  # fetch, in no pool, did not wait for the slot
