"""PostgreSQL timeouts (issue 17, defect 10): a server that accepts a connection and never
answers fails a command with one line and exit 1, never a hang; a command's reads have a
statement timeout, which its writes, its migrations and a daemon's store do not."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from runner.cli import run
from runner.store import engine as engines
from runner.store import open_store
from runner.store.tables import metadata


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port on loopback that accepts connections and never says a word."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            held.append(conn)  # kept open, never answered

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    listener.close()
    for conn in held:
        conn.close()


def runner(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runner", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,  # a guard against the hang itself, not a measure
        check=False,
    )


def test_a_server_that_never_answers_fails_a_command_in_one_line(
    silent_server: int, tmp_path: Path
) -> None:
    url = f"postgresql://runner:s3cret@127.0.0.1:{silent_server}/x?connect_timeout=1"
    done = runner("jobs", "--store", url, cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: the store at ")
    assert "did not answer in time" in done.stderr and "s3cret" not in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_the_connect_timeout_is_there_without_one_in_the_url(
    silent_server: int, tmp_path: Path
) -> None:
    done = runner("status", "--store", f"postgresql://127.0.0.1:{silent_server}/x", cwd=tmp_path)
    assert done.returncode == 1 and "did not answer in time" in done.stderr


@pytest.fixture
def pg(pg_url: str | None) -> Iterator[str]:
    if pg_url is None:
        pytest.skip("PostgreSQL is not reachable")
    yield pg_url
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        metadata.drop_all(conn)
    engine.dispose()


def test_a_commands_read_stuck_behind_a_lock_times_out_in_one_line(
    pg: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    open_store(home=tmp_path, url=pg).close()
    monkeypatch.setattr(engines, "READ_TIMEOUT_MS", 300)
    locker = sa.create_engine(pg)
    with locker.connect() as conn:
        conn.execute(sa.text("LOCK TABLE resources IN ACCESS EXCLUSIVE MODE"))
        assert run(["jobs", "--store", pg]) == 1
        conn.rollback()
    locker.dispose()
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "did not answer in time (" in err
    assert run(["jobs", "--store", pg]) == 0  # the lock gone, the same command works


def _timeout(conn: sa.Connection) -> str:
    return str(conn.execute(sa.text("SHOW statement_timeout")).scalar())


def test_only_a_commands_reads_have_a_statement_timeout(pg: str, tmp_path: Path) -> None:
    command = open_store(home=tmp_path, url=pg, command=True)
    daemon = open_store(home=tmp_path, url=pg)
    try:
        with command.reading("reading") as conn:
            assert _timeout(conn) == f"{engines.READ_TIMEOUT_MS // 1000}s"
        with command.writing("writing") as conn:
            assert _timeout(conn) == "0"
        with daemon.reading("reading") as conn:
            assert _timeout(conn) == "0"
    finally:
        command.close()
        daemon.close()


def test_a_url_with_its_own_options_keeps_them(pg: str, tmp_path: Path) -> None:
    own = pg + ("&" if "?" in pg else "?") + "options=-c%20statement_timeout%3D1234"
    store = open_store(home=tmp_path, url=own, command=True)
    try:
        with store.reading("reading") as conn:
            assert _timeout(conn) == "1234ms"
    finally:
        store.close()
