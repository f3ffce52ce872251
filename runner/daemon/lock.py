"""The daemon's lock on its home (SPEC 5): one daemon per home; a second one exits at
once, saying which process holds it.

An `flock` on `<home>/daemon.lock`: the kernel releases it when the holder dies, however
it dies, so a crashed daemon never leaves a lock to clean up by hand. The file says who
holds it, for the second daemon's message and for `runner status`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runner.errors import RunnerError
from runner.system.procs import hostname, start_time
from runner.system.safefs import NotFollowed, home_problem, make_home, open_private

LOCK_FILE = "daemon.lock"


class DaemonRunning(RunnerError):
    code = "daemon-running"


class HomeLock:
    def __init__(self, fd: int, path: Path) -> None:
        self.fd = fd
        self.path = path

    @classmethod
    def acquire(cls, home: Path, **about: Any) -> HomeLock:
        if (unsafe := home_problem(home)) is not None:
            raise RunnerError(unsafe, code="home-unsafe")
        make_home(home)
        path = home / LOCK_FILE
        try:  # issue 17: a link or a second name there is never followed, written or emptied
            fd = open_private(path, os.O_RDWR)
        except NotFollowed as exc:
            raise RunnerError(str(exc.strerror), code="home-unsafe") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            held = holder(home) or {}
            pid = held.get("pid", "?")
            raise DaemonRunning(
                f"another daemon holds the home {home} (pid {pid} on "
                f"{held.get('host', '?')}, up since {held.get('since', '?')}): stop it "
                f"first (kill -TERM {pid}), or give this one its own --home"
            ) from None
        pid = os.getpid()
        record = {
            "pid": pid,
            "host": hostname(),
            "pid_started": start_time(pid),
            "since": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            **about,
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(record).encode() + b"\n", 0)
        return cls(fd, path)

    def release(self) -> None:
        with contextlib.suppress(OSError):
            os.ftruncate(self.fd, 0)
        os.close(self.fd)


def holder(home: Path) -> dict[str, Any] | None:
    """Who holds the home's lock now: the record it wrote, or None when no daemon runs."""
    try:
        fd = os.open(home / LOCK_FILE, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.pread(fd, 4096, 0).decode(errors="replace")
            try:
                found = json.loads(text)
            except ValueError:
                found = {}
            return found if isinstance(found, dict) else {}
        return None
    finally:
        os.close(fd)
