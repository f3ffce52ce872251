"""Issue 17, defect 2: ticks that fell while the store could not be written were counted
as overlaps and lost, even with `catchup: all` and no run really active. They are now
missed while the daemon could not act, as in a downtime: the catch-up policy decides.

The store is locked for real: another process holds `BEGIN EXCLUSIVE` on the SQLite
file for a few seconds, as a backup tool or a stuck `sqlite3` shell would."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable

from tests.daemon.conftest import Env
from tests.waiting import wait_for

EVERY_SECOND = """
apiVersion: runner/v1
kind: Job
name: beat
schedule: {{every: 1s, catchup: {catchup}}}
tasks:
  - {{name: work, run: "true"}}
"""
LOCKED_FOR = 5.0


def _locked(env: Env, seconds: float) -> None:
    conn = sqlite3.connect(env.home / "state.db", isolation_level=None, timeout=30)
    try:
        conn.execute("BEGIN EXCLUSIVE")
        deadline = time.monotonic() + seconds
        wait_for("the lock's time to pass", lambda: time.monotonic() >= deadline, seconds + 5)
        conn.execute("COMMIT")
    finally:
        conn.close()


def _count(env: Env, check: Callable[[str], bool]) -> int:
    return sum(1 for r in env.runs("beat") if check(r.trigger))


def test_ticks_missed_while_the_store_was_locked_are_caught_up_not_skipped(env: Env) -> None:
    env.write("beat.yaml", EVERY_SECOND.format(catchup="all"))
    daemon = env.start()
    env.wait_runs("two runs", lambda r: r.state == "success", job="beat", count=2)
    _locked(env, LOCKED_FOR)
    line = daemon.wait_event("daemon-late")
    assert "caught up per each job's catchup" in line
    wait_for("the catch-up runs", lambda: _count(env, lambda t: t == "catchup") >= 3)
    env.wait_runs("every run to end", lambda r: r.state == "success", job="beat", count=8)
    status = env.runner_json("status", "beat")
    assert status["missed"]["overlap"] == 0, status["missed"]
    dues = [r.due for r in env.runs("beat")]
    assert len(dues) == len(set(dues))  # no tick with two runs


def test_under_catchup_latest_the_ticks_of_the_lock_count_as_catchup_not_overlap(
    env: Env,
) -> None:
    env.write("beat.yaml", EVERY_SECOND.format(catchup="latest"))
    daemon = env.start()
    env.wait_runs("two runs", lambda r: r.state == "success", job="beat", count=2)
    _locked(env, LOCKED_FOR)
    daemon.wait_event("daemon-late")
    wait_for("one catch-up run", lambda: _count(env, lambda t: t == "catchup") == 1)
    missed = env.runner_json("status", "beat")["missed"]
    assert missed["overlap"] == 0, missed
    assert missed["catchup"] >= 2, missed
