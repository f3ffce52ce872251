"""`runner store check` and `runner store backup FILE` (issue 17): the store's integrity
and schema version, and a backup taken while another process writes to the store, which
restores into a home that then works."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from runner.cli import run
from runner.store import LATEST, open_store
from runner.store.maintenance import BackupRefused, check_store, pg_dump_command
from tests.waiting import wait_for

JOB = """\
apiVersion: runner/v1
kind: Job
name: nightly
schedule: {mode: manual}
tasks:
  - name: hello
    run: "true"
"""


@pytest.fixture
def applied(home: Path, write: object, capsys: pytest.CaptureFixture[str]) -> Path:
    """A home whose store holds one applied job; its state.db."""
    write("nightly.yaml", JOB)  # type: ignore[operator]
    assert run(["apply"]) == 0
    capsys.readouterr()
    return home / "state.db"


def check_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, object]]:
    code = run(["store", "check", "--json", *args])
    return code, json.loads(capsys.readouterr().out)


def test_a_good_store_checks_out(applied: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["store", "check"]) == 0
    out = capsys.readouterr().out
    assert f"schema version {LATEST}" in out and out.rstrip().endswith("ok")
    code, found = check_json(capsys)
    assert code == 0
    assert found["ok"] is True and found["schema_version"] == LATEST and found["problems"] == []


def test_a_missing_store_is_an_error_not_a_new_store(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["store", "check"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "there is no store at" in err
    assert not (home / "state.db").exists()


def _sql(file: Path, *statements: str) -> None:
    conn = sqlite3.connect(file, isolation_level=None)
    try:
        for statement in statements:
            conn.execute(statement)
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (
            (
                "PRAGMA foreign_keys=OFF",
                "INSERT INTO task_runs VALUES "
                "(999, 't', 0, 'success', 1, NULL, NULL, 0, NULL, NULL, NULL)",
            ),
            "foreign key: row",
        ),
        ((f"UPDATE meta SET value = '{LATEST + 1}' WHERE key = 'schema_version'",), "newer"),
        (("DELETE FROM meta",), "no schema version"),
        (("DROP TABLE idempotency",), "tables missing: idempotency"),
    ],
    ids=["foreign-key", "too-new", "no-version", "table-missing"],
)
def test_a_bad_store_fails_the_check_saying_what(
    applied: Path, capsys: pytest.CaptureFixture[str], damage: tuple[str, ...], problem: str
) -> None:
    _sql(applied, *damage)
    code, found = check_json(capsys)
    assert code == 1 and found["ok"] is False
    assert any(problem in p for p in found["problems"])  # type: ignore[union-attr]
    assert run(["store", "check"]) == 1
    captured = capsys.readouterr()
    assert "problem: " in captured.out and captured.err.startswith("error: the store is not good")


def test_damaged_pages_fail_the_check(applied: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _sql(applied, "CREATE TABLE pad(x)", "CREATE INDEX pad_x ON pad(x)")
    conn = sqlite3.connect(applied)
    with conn:
        conn.executemany("INSERT INTO pad VALUES (?)", [(f"{i:0500d}",) for i in range(400)])
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    data = bytearray(applied.read_bytes())
    page = 4096
    data[len(data) - 20 * page : len(data) - 19 * page] = os.urandom(page)  # the header kept
    applied.write_bytes(bytes(data))
    code, found = check_json(capsys)
    assert code == 1 and found["problems"]


def test_an_older_schema_is_good_with_a_note(
    applied: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _sql(applied, f"UPDATE meta SET value = '{LATEST - 1}' WHERE key = 'schema_version'")
    code, found = check_json(capsys)
    assert code == 0 and found["schema_version"] == LATEST - 1
    assert "migrated" in str(found["notes"])


def test_check_writes_nothing(applied: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _sql(applied, f"UPDATE meta SET value = '{LATEST - 1}' WHERE key = 'schema_version'")
    check_json(capsys)
    check_json(capsys)
    assert check_json(capsys)[1]["schema_version"] == LATEST - 1  # never migrated by a check


WRITER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], timeout=30, isolation_level=None)
open(sys.argv[2], "w").close()
i = 0
while True:
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO meta VALUES (?, ?)", (f"pad-{i}", "x" * 2000))
    conn.execute("COMMIT")
    i += 1
"""


@pytest.fixture
def writer(applied: Path, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Another process committing to the store as fast as it can, as a busy daemon."""
    started = tmp_path / "writer-started"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(applied), str(started)])
    wait_for("the writer to start", started.exists)
    yield proc
    proc.kill()
    proc.wait()


def test_a_backup_taken_while_another_process_writes_restores_into_a_working_home(
    applied: Path,
    writer: subprocess.Popen[bytes],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    target = tmp_path / "backups" / "state-1.db"
    target.parent.mkdir()
    target.write_text("an older backup, replaced")
    assert run(["store", "backup", str(target), "--json"]) == 0
    made = json.loads(capsys.readouterr().out)
    assert made["file"] == str(target) and made["schema_version"] == LATEST
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [p.name for p in target.parent.iterdir()] == ["state-1.db"]  # no temp left
    assert writer.poll() is None  # the writer was never stopped by it
    # The README's restore: copy the backup to a home's state.db, check, use.
    restored = tmp_path / "restored"
    restored.mkdir(mode=0o700)
    shutil.copy(target, restored / "state.db")
    monkeypatch.setenv("RUNNER_HOME", str(restored))
    assert run(["store", "check"]) == 0
    capsys.readouterr()
    assert run(["jobs", "--json"]) == 0
    assert [j["name"] for j in json.loads(capsys.readouterr().out)] == ["nightly"]


def test_backup_refuses_the_store_itself_and_a_folder(
    applied: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = applied.read_bytes()
    assert run(["store", "backup", str(applied)]) == 1
    assert "is the store itself" in capsys.readouterr().err
    assert run(["store", "backup", str(tmp_path)]) == 1
    assert "is a folder" in capsys.readouterr().err
    assert applied.read_bytes() == before


def test_backup_of_a_postgresql_store_says_the_pg_dump_command_without_the_password(
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = "postgresql://runner:s3cret@db.example.org:5433/jobs?sslmode=require"
    assert run(["store", "backup", "--store", url, "jobs.dump"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "s3cret" not in err
    assert (
        "pg_dump --format=custom --file=jobs.dump "
        "'postgresql://runner@db.example.org:5433/jobs?sslmode=require'" in err
    )
    with pytest.raises(BackupRefused):
        from runner.store.maintenance import backup_store

        backup_store("postgresql+psycopg://u:p@h/d", Path("x"))
    assert "p@" not in pg_dump_command("postgresql+psycopg://u:p@h/d", Path("x"))


def test_a_postgresql_store_is_checked_for_its_version_and_tables(
    pg_url: str | None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if pg_url is None:
        pytest.skip("PostgreSQL is not reachable")
    open_store(home=tmp_path, url=pg_url).close()
    try:
        code, found = check_json(capsys, "--store", pg_url)
        assert code == 0 and found["backend"] == "postgresql"
        assert found["schema_version"] == LATEST
        engine = sa.create_engine(pg_url)
        with engine.begin() as conn:
            conn.execute(sa.text("DROP TABLE idempotency"))
        engine.dispose()
        found_now = check_store(pg_url.replace("postgresql://", "postgresql+psycopg://", 1))
        assert not found_now.ok and "tables missing: idempotency" in found_now.problems
    finally:
        from runner.store.tables import metadata

        engine = sa.create_engine(pg_url)
        with engine.begin() as conn:
            metadata.drop_all(conn)
        engine.dispose()
