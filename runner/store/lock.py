"""The store's write lock, held by one `apply` (or daemon reconcile) at a time.

SQLite: `flock` on a file beside the database, which the OS drops with the process, so
a killed `apply` never leaves a stale lock. PostgreSQL: a session advisory lock, which
the server drops with the connection. Either way the holder writes who it is (pid, host,
command, since) so that a waiting process can say who holds the lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from runner.errors import RunnerError
from runner.store.tables import meta
from runner.system.safefs import NotFollowed, open_private
from runner.system.urls import redact_argv, redact_url

ADVISORY_KEY = 0x72756E6E  # "runn"
POLL = 0.05


class LockHeld(RunnerError):
    """Another process holds the store's write lock (and did not let go in time)."""

    code = "lock-held"


def holder_info(command: str | None = None) -> dict[str, Any]:
    """Who holds the lock, as others are told: the command line without the password
    of `--store URL` (or any token), which other users read in "store is locked by"."""
    shown = command or " ".join(["runner", *redact_argv(sys.argv[1:])])
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "command": redact_url(shown)[:200],
        "since": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
    }


def describe_holder(info: dict[str, Any] | None) -> str:
    if not info:
        return "another process"
    command = redact_url(str(info.get("command", "a runner process")))  # an older record's
    return f"{command} (pid {info.get('pid')} on {info.get('host')}, since {info.get('since')})"


def _refusal(info: dict[str, Any] | None, waited: float) -> LockHeld:
    return LockHeld(
        f"the store is locked by {describe_holder(info)}; waited {waited:g}s: "
        "try again when it is done, or wait longer with --lock-timeout"
    )


@contextlib.contextmanager
def file_lock(path: Path, *, timeout: float, command: str | None = None) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:  # issue 17: a link or a second name there is never followed, written or emptied
        fd = open_private(path, os.O_RDWR)
    except NotFollowed as exc:
        raise RunnerError(str(exc.strerror), code="home-unsafe") from None
    try:
        _wait(lambda: _try_flock(fd), timeout, lambda: _read_info(path))
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(holder_info(command)).encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _try_flock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _read_info(path: Path) -> dict[str, Any] | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            data = json.loads(os.pread(fd, 1 << 16, 0).decode(errors="replace") or "null")
        finally:
            os.close(fd)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


@contextlib.contextmanager
def advisory_lock(
    engine: sa.Engine, *, timeout: float, command: str | None = None
) -> Iterator[None]:
    with engine.connect() as conn:

        def attempt() -> bool:
            got = conn.execute(
                sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_KEY}
            ).scalar()
            conn.commit()
            return bool(got)

        _wait(attempt, timeout, lambda: _read_meta_info(engine))
        _write_meta_info(engine, holder_info(command))
        try:
            yield
        finally:
            _write_meta_info(engine, None)
            conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
            conn.commit()


def _read_meta_info(engine: sa.Engine) -> dict[str, Any] | None:
    with engine.connect() as conn:
        value = conn.execute(sa.select(meta.c.value).where(meta.c.key == "lock")).scalar()
    data = json.loads(value) if value else None
    return data if isinstance(data, dict) else None


def _write_meta_info(engine: sa.Engine, info: dict[str, Any] | None) -> None:
    with engine.begin() as conn:
        conn.execute(sa.delete(meta).where(meta.c.key == "lock"))
        if info is not None:
            conn.execute(sa.insert(meta).values(key="lock", value=json.dumps(info)))


def _wait(attempt: Any, timeout: float, who: Any) -> None:
    start = time.monotonic()
    while not attempt():
        waited = time.monotonic() - start
        if waited >= timeout:
            raise _refusal(who(), round(timeout, 1))
        time.sleep(min(POLL, max(0.0, timeout - waited)))
