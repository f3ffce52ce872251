"""Waiting on the SQLite store's write lock (issue 17): in WAL mode a read command never
waits behind a writer, and a command that must wait for the write lock says so, once,
on stderr, then goes on when the lock is free."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.cli import run
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

HOLDER = """
import pathlib, sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
conn.execute("UPDATE meta SET value = value WHERE key = 'schema_version'")
pathlib.Path(sys.argv[2]).touch()
release = pathlib.Path(sys.argv[3])
while not release.exists():
    time.sleep(0.01)
conn.execute("COMMIT")
"""


class Locked:
    def __init__(self, folder: Path) -> None:
        self.held = folder / "held"
        self.release_file = folder / "release"

    def release(self) -> None:
        self.release_file.touch()


@pytest.fixture
def locked(home: Path, write: object, tmp_path: Path) -> Iterator[Locked]:
    """The store, with one applied job, its write lock held by another process."""
    write("nightly.yaml", JOB)  # type: ignore[operator]
    assert run(["apply"]) == 0
    lock = Locked(tmp_path)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            HOLDER,
            str(home / "state.db"),
            str(lock.held),
            str(lock.release_file),
        ]
    )
    wait_for("the other process to hold the write lock", lock.held.exists)
    yield lock
    lock.release()
    holder.wait(timeout=30)


def runner(*args: str, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "runner", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
    )


@pytest.mark.parametrize(
    "command", [["jobs"], ["status", "nightly"], ["history"], ["store", "check"]]
)
def test_a_read_command_does_not_wait_behind_a_writer(
    locked: Locked, config_dir: Path, command: list[str]
) -> None:
    proc = runner(*command, cwd=config_dir)
    _, err = proc.communicate(timeout=20)  # the busy timeout would be 30 s
    assert proc.returncode == 0, err
    assert "waiting" not in err


def test_a_writer_says_once_that_it_waits_for_the_lock_then_goes_on(
    locked: Locked, config_dir: Path
) -> None:
    proc = runner("hold", "nightly", "--reason", "incident", cwd=config_dir)
    assert proc.stderr is not None
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stderr or []), daemon=True)
    reader.start()
    wait_for(
        "the waiting notice",
        lambda: any("waiting for the store's write lock" in line for line in lines),
        timeout=20,
    )
    assert proc.poll() is None  # still waiting, not failed
    locked.release()
    assert proc.wait(timeout=30) == 0
    reader.join(timeout=10)
    notices = [line for line in lines if "waiting for the store's write lock" in line]
    assert len(notices) == 1 and "(held by " in notices[0]
