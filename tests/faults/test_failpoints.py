"""The failpoints the suite kills the daemon with: nothing unless RUNNER_FAILPOINTS names
them, then a SIGKILL of the process that reaches them (as `kill -9` would)."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

pytestmark = pytest.mark.faults

REACH = "from runner.system.failpoints import failpoint; failpoint('run-started'); print('on')"


@pytest.mark.parametrize(
    ("armed", "code", "out"),
    [
        ("", 0, "on\n"),
        ("run-created,task-ended", 0, "on\n"),
        ("run-created, run-started", -signal.SIGKILL, ""),
    ],
)
def test_a_failpoint_kills_its_process_only_when_named(armed: str, code: int, out: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", REACH],
        env={"RUNNER_FAILPOINTS": armed, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert (done.returncode, done.stdout) == (code, out), done.stderr
