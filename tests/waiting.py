"""Waiting on conditions with a deadline, never on fixed sleeps (STYLE: Tests)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

DEADLINE = 10.0


def wait_for(what: str, condition: Callable[[], bool], timeout: float = DEADLINE) -> None:
    """Poll `condition` until it holds; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(0.02)


def process_gone(pid: int, within: float = 2.0) -> bool:
    """No such process, or only its exit status is left (a zombie), within a moment (a
    SIGKILL just sent takes effect asynchronously)."""
    deadline = time.monotonic() + within
    while True:
        try:
            raw = Path(f"/proc/{pid}/stat").read_bytes()
        except FileNotFoundError:
            return True
        if raw[raw.rindex(b")") + 2 :].split()[0] in (b"Z", b"X"):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)


def pid_in(path: Path) -> int:
    """The pid a task wrote into `path`, once it has."""
    wait_for(f"a pid in {path}", lambda: path.exists() and path.read_text().strip() != "")
    return int(path.read_text())


def live_in_group(pgid: int) -> list[int]:
    """Processes of a process group that still run (zombies, waiting to be reaped, and
    dead ones have ended; they are not counted)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_bytes()
        except OSError:
            continue
        fields = raw[raw.rindex(b")") + 2 :].split()
        if int(fields[2]) == pgid and fields[0] not in (b"Z", b"X"):
            pids.append(int(entry.name))
    return pids
