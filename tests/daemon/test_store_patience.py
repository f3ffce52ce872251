"""Issue 17: a store that refuses the record of a task's end (here its file made
immutable, which refuses root too) no longer makes the daemon kill its tasks and exit,
leaving the run `stale` though its task succeeded. The daemon says it waits
(`store-waiting`), the task's end is written once the store is back (`store-back`), and
the run ends `success`. Real daemon, real SQLite file."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.daemon.conftest import Env

SLOW = """
apiVersion: runner/v1
kind: Job
name: slow
schedule: {{every: 1s, overlap: skip}}
tasks:
  - {{name: work, run: "while [ ! -e {go} ]; do sleep 0.05; done"}}
"""


def _chattr(flag: str, files: list[Path]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["chattr", flag, *map(str, files)], capture_output=True, text=True, check=False
    )


@pytest.fixture
def immutable(env: Env) -> Iterator[list[Path]]:
    """The store's files, made immutable by the test and always made writable again."""
    files = [env.home / "state.db", env.home / "state.db-wal"]
    yield files
    _chattr("-i", files)


def test_a_task_that_ends_while_the_store_refuses_writes_is_recorded_once_it_is_back(
    env: Env, immutable: list[Path]
) -> None:
    go = env.root / "go"
    env.write("slow.yaml", SLOW.format(go=go))
    daemon = env.start()
    run = env.wait_runs("the task running", lambda r: r.state == "running", job="slow")[0]
    done = _chattr("+i", immutable)
    if done.returncode != 0:
        pytest.skip(f"cannot make the store immutable (chattr +i): {done.stderr.strip()}")
    go.touch()  # the task ends while its end cannot be written
    line = daemon.wait_event("store-waiting")
    assert "the tasks run on" in line and "state.db" in line
    assert _chattr("-i", immutable).returncode == 0
    daemon.wait_event("store-back")
    assert env.run(run.id).state == "success"
    assert daemon.proc.poll() is None  # still up
    assert not daemon.events("store-lost")
    assert daemon.stop() == 0
