"""Issue 17, defect 6: one daemon per store. A deleted `daemon.lock` let a second daemon
start on the same home, and two homes on one PostgreSQL database both scheduled the
same jobs (then collided on `task_attempts_pkey`). The store itself is locked now:
`flock` on the SQLite file, a session advisory lock on PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from runner.store.daemonlock import DAEMON_KEY
from tests.conftest import ADMIN_URL
from tests.daemon.conftest import Env
from tests.waiting import wait_for

BEAT = """
apiVersion: runner/v1
kind: Job
name: beat
schedule: {every: 1s}
tasks:
  - {name: work, run: "true"}
"""


def test_a_second_daemon_is_refused_when_the_home_lock_file_was_deleted(env: Env) -> None:
    env.write("beat.yaml", BEAT)
    first = env.start()
    first.wait_up()
    (env.home / "daemon.lock").unlink()
    second = env.start()
    assert second.wait_exit(20) == 1
    refusal = second.log()
    assert f"the daemon with pid {first.pid} on " in refusal
    assert "one daemon per store; stop it first" in refusal
    assert "Traceback" not in refusal
    assert first.proc.poll() is None  # the first goes on, undisturbed
    ran = len(env.runs("beat"))
    env.wait_runs("more runs", lambda r: r.state == "success", job="beat", count=ran + 1)


@pytest.fixture
def pg_database(pg_url: str | None) -> Iterator[str]:
    """A database of its own: the lock is per database."""
    if pg_url is None:
        pytest.skip("PostgreSQL is not available")
    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"runner_lock_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"
                ),
                {"n": name},
            )
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def test_two_homes_on_one_postgresql_store_run_one_daemon(env: Env, pg_database: str) -> None:
    env.write("beat.yaml", BEAT)
    first = env.start("--store", pg_database)
    first.wait_up()
    second = env.start("--home", "other", "--store", pg_database)
    assert second.wait_exit(20) == 1
    assert f"the daemon with pid {first.pid} on " in second.log()
    status = env.runner_json("status", "--home", "other", "--store", pg_database)
    assert status["daemon"]["running"] is True  # seen from another home, by the store
    assert status["daemon"]["pid"] == first.pid
    assert first.stop() == 0
    third = env.start("--home", "other", "--store", pg_database)  # the lock went with it
    third.wait_up()


def test_a_daemon_takes_its_postgresql_lock_again_after_losing_its_session(
    env: Env, pg_database: str
) -> None:
    env.write("beat.yaml", BEAT)
    first = env.start("--store", pg_database)
    first.wait_up()
    engine = sa.create_engine(pg_database, isolation_level="AUTOCOMMIT")
    holder = sa.text(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = :k AND granted"
    )
    try:
        with engine.connect() as conn:
            (session,) = conn.execute(holder, {"k": DAEMON_KEY}).scalars().all()
            conn.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": session})

            def taken_again() -> bool:
                return conn.execute(holder, {"k": DAEMON_KEY}).scalars().all() not in (
                    [],
                    [session],
                )

            wait_for("the daemon to take its lock again", taken_again, 20)
    finally:
        engine.dispose()
    assert first.proc.poll() is None
    second = env.start("--home", "other", "--store", pg_database)
    assert second.wait_exit(20) == 1
