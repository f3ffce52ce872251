"""The store's contract, passed by SQLite and PostgreSQL alike."""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from runner.store import LATEST, ResourceWrite, StaleStore, Store, StoreTooNew, open_store
from runner.store.lock import LockHeld
from runner.store.tables import meta

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def _write(
    name: str, revision: int = 1, digest: str = "d1", *, new: bool = True, kind: str = "Job"
) -> ResourceWrite:
    return ResourceWrite(
        kind=kind,
        name=name,
        revision=revision,
        digest=digest,
        spec={"name": name, "digest": digest},
        view={"name": name},
        source_file="jobs.d/a.yaml",
        source_line=1,
        new_revision=new,
    )


def test_a_new_store_is_stamped_with_the_latest_schema(store: Store) -> None:
    assert store.get_meta("schema_version") == str(LATEST)
    assert store.generation() == 0
    assert store.resources() == []


def test_reopening_keeps_what_was_written(store: Store, store_spec: dict[str, str]) -> None:
    store.write_configuration(writes=[_write("a")], deletes=[], now=NOW, digest="x")
    again = open_store(**store_spec)
    try:
        assert [r.name for r in again.resources()] == ["a"]
        assert again.get_meta("applied_digest") == "x"
    finally:
        again.close()


def test_a_version_1_store_is_migrated_keeping_its_runs(
    store: Store, store_spec: dict[str, str]
) -> None:
    run = store.create_run(job="a", revision=1, trigger="manual", due=NOW, now=NOW)
    with store.engine.begin() as conn:  # make it what issue 3's runner left behind
        for column in (
            "cancel_requested",
            "cancel_reason",
            "after_run",
            "overlap",
            "retried",
            "waiting",
        ):
            conn.execute(sa.text(f"ALTER TABLE runs DROP COLUMN {column}"))
        conn.execute(sa.text("ALTER TABLE holds DROP COLUMN selector"))
        conn.execute(sa.text("ALTER TABLE reconciles DROP COLUMN source"))
        conn.execute(sa.text("DROP TABLE run_requests"))
        conn.execute(sa.text("DROP TABLE audit"))
        conn.execute(sa.text("DROP TABLE idempotency"))
        conn.execute(sa.update(meta).where(meta.c.key == "schema_version").values(value="1"))
    store.close()
    again = open_store(**store_spec)
    try:
        assert again.get_meta("schema_version") == str(LATEST)
        assert again.request_cancel(run, now=NOW, reason="by hand") == "scheduled"
        found = again.run(run)
        assert found is not None and (found.state, found.reason) == ("discarded", "by hand")
    finally:
        again.close()


def test_a_store_newer_than_the_program_is_refused(
    store: Store, store_spec: dict[str, str]
) -> None:
    with store.engine.begin() as conn:
        conn.execute(sa.update(meta).where(meta.c.key == "schema_version").values(value="99"))
    with pytest.raises(StoreTooNew, match="schema version 99, newer than this runner") as refused:
        open_store(**store_spec)
    assert refused.value.code == "store-too-new"


def test_writes_revisions_and_generation(store: Store) -> None:
    assert (
        store.write_configuration(
            writes=[_write("a"), _write("b")], deletes=[], now=NOW, digest="g1"
        )
        == 1
    )
    store.write_configuration(writes=[_write("a", 2, "d2")], deletes=[], now=NOW, digest="g2")
    stored = {r.name: r for r in store.resources()}
    assert (stored["a"].revision, stored["a"].digest) == (2, "d2")
    assert store.revision_spec("Job", "a", 1) == {"name": "a", "digest": "d1"}
    assert store.revision_spec("Job", "a", 2) == {"name": "a", "digest": "d2"}
    assert store.specs([("Job", "b")]) == {("Job", "b"): {"name": "b", "digest": "d1"}}
    assert store.generation() == 2


def test_a_stale_generation_writes_nothing(store: Store) -> None:
    store.write_configuration(writes=[_write("a")], deletes=[], now=NOW, digest="g1")
    with pytest.raises(StaleStore):
        store.write_configuration(
            writes=[_write("b")], deletes=[], now=NOW, digest="g2", expected_generation=0
        )
    assert [r.name for r in store.resources()] == ["a"]


def test_deleting_a_job_with_a_running_run_waits_for_it(store: Store) -> None:
    store.write_configuration(writes=[_write("a"), _write("b")], deletes=[], now=NOW, digest="g1")
    running = store.create_run(
        job="a", revision=1, trigger="manual", due=NOW, now=NOW, state="running"
    )
    waiting = store.create_run(
        job="a", revision=1, trigger="schedule", due=NOW + timedelta(hours=1), now=NOW
    )
    store.write_configuration(writes=[], deletes=[("Job", "a"), ("Job", "b")], now=NOW, digest="g2")
    assert [(r.name, r.deleting) for r in store.resources()] == [("a", True)]
    assert [(r.id, r.state) for r in store.active_runs()] == [(running, "running")]
    assert waiting not in [r.id for r in store.active_runs()]
    assert store.finish_deferred_deletes() == []
    store.set_run_state(running, "success", now=NOW)
    assert store.finish_deferred_deletes() == ["a"]
    assert store.resources() == []


def test_run_creation_is_idempotent_on_job_and_due(store: Store) -> None:
    first = store.create_run(job="a", revision=1, trigger="schedule", due=NOW, now=NOW)
    second = store.create_run(job="a", revision=1, trigger="schedule", due=NOW, now=NOW)
    assert first == second
    assert len(store.active_runs()) == 1


def test_times_come_back_aware_in_utc(store: Store) -> None:
    berlin = NOW.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Berlin"))
    run = store.create_run(job="a", revision=1, trigger="schedule", due=berlin, now=NOW)
    assert store.create_run(job="a", revision=1, trigger="schedule", due=NOW, now=NOW) == run


def test_file_cache_round_trip(store: Store) -> None:
    assert store.file_cache("/cfg") is None
    store.save_file_cache("/cfg", '{"files": {}}')
    store.save_file_cache("/cfg", '{"files": {"a": 1}}')
    assert store.file_cache("/cfg") == '{"files": {"a": 1}}'
    assert store.file_cache("/other") is None


def test_reconcile_outcomes_keep_the_last_20(store: Store) -> None:
    for i in range(25):
        store.record_reconcile(
            started=NOW,
            ended=NOW,
            origin="apply",
            outcome="applied",
            digest=f"d{i}",
            summary={"i": i},
            errors=[],
        )
    kept = store.reconciles()
    assert len(kept) == 20
    assert kept[0]["summary"] == {"i": 24}
    assert store.get_meta("attempted_digest") == "d24"


def test_runtime_holds(store: Store) -> None:
    store.add_runtime_hold(job="ledger", name="incident-2231", now=NOW, reason="disk full")
    assert [(h.job, h.name, h.reason) for h in store.runtime_holds()] == [
        ("ledger", "incident-2231", "disk full")
    ]


def test_the_lock_says_who_holds_it(store: Store, store_spec: dict[str, str]) -> None:
    other = open_store(**store_spec)
    try:
        with (
            store.lock(timeout=1, command="runner apply jobs.d"),
            pytest.raises(LockHeld, match=r"locked by runner apply jobs.d \(pid \d+") as held,
            other.lock(timeout=0.2),
        ):
            pass
        assert held.value.code == "lock-held"
        with other.lock(timeout=0.2):
            pass
    finally:
        other.close()


def test_a_waiting_lock_gets_it_when_released(store: Store, store_spec: dict[str, str]) -> None:
    other = open_store(**store_spec)
    holding = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with store.lock(timeout=1):
            holding.set()
            release.wait(5)

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert holding.wait(5)
        threading.Timer(0.2, release.set).start()
        with other.lock(timeout=10):
            assert release.is_set()
    finally:
        release.set()
        thread.join()
        other.close()


def test_sqlite_store_lives_in_the_home(tmp_path: Path) -> None:
    store = open_store(home=tmp_path / "h")
    try:
        assert (tmp_path / "h" / "state.db").exists()
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        store.close()


def test_processes_opening_a_new_store_at_once_all_get_it(tmp_path: Path) -> None:
    """A daemon and a command started together on a fresh home: both open the store."""
    script = (
        "import sys; from runner.store import open_store; "
        "s = open_store(home=sys.argv[1]); print(s.get_meta('schema_version')); s.close()"
    )
    for attempt in range(3):
        home = tmp_path / f"home{attempt}"
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", script, str(home)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(4)
        ]
        results = [p.communicate(timeout=60) for p in procs]
        assert [(out.strip(), err) for out, err in results] == [(str(LATEST), "")] * 4
