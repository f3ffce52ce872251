"""How the store connects: SQLite's pragmas (WAL, so that readers never wait on a
writer), PostgreSQL's timeouts, and the notice of a command kept waiting for the write
lock.

A PostgreSQL server that accepts a connection and never answers must not hang a
command: every connection has a connect timeout, and a command's store (not a
daemon's) a statement timeout for its reads, which its writes and migrations lift. A
URL that sets `connect_timeout` or `options` itself keeps its own.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import threading
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

CONNECT_TIMEOUT = 10  # seconds (libpq's connect_timeout)
READ_TIMEOUT_MS = 30_000  # a command's reads on PostgreSQL (statement_timeout)
BUSY_TIMEOUT_MS = 30_000  # SQLite: how long a writer waits for another's write lock
WAITING_NOTICE = 1.0  # seconds waited for the write lock before a command says so
WAL_WAIT = 10.0  # how long another process switching a new store to WAL is waited for


def create_engine(url: str, *, command: bool = False) -> sa.Engine:
    """The engine for the store at `url`; `command`: a command's (it says when it waits
    for the write lock; on PostgreSQL its reads time out), not a daemon's."""
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        if command:
            WaitNotice(Path(sa.make_url(url).database or "state.db")).watch(engine)
        return engine
    return sa.create_engine(url, pool_pre_ping=True, connect_args=_pg_args(url, command))


def reads_time_out(url: str, *, command: bool) -> bool:
    """Whether a command's store sets its own statement timeout (see `_pg_args`)."""
    return command and url.startswith("postgresql") and "options" not in sa.make_url(url).query


def _pg_args(url: str, command: bool) -> dict[str, Any]:
    query = sa.make_url(url).query
    args: dict[str, Any] = {}
    if "connect_timeout" not in query:
        args["connect_timeout"] = CONNECT_TIMEOUT
    if reads_time_out(url, command=command):
        args["options"] = f"-c statement_timeout={READ_TIMEOUT_MS}"
    return args


def _wal(cursor: Any) -> None:
    """The store in WAL mode. A store being created by another process at this moment
    (a command run as its daemon starts) may not be in WAL yet, and that process holds
    the lock the switch needs: wait for it, as the busy timeout would, rather than fail
    with "database is locked"."""
    deadline = time.monotonic() + WAL_WAIT
    while True:
        mode = cursor.execute("PRAGMA journal_mode").fetchone()
        if mode and str(mode[0]).lower() == "wal":
            return
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
        time.sleep(0.05)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    # Switching to WAL takes a lock that the busy timeout does not wait for, so a
    # command opening the store while a daemon writes to it failed with "database is
    # locked": the mode is persistent, so it is set only on a store not yet in WAL.
    _wal(cursor)
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


class WaitNotice:
    """Says once, on stderr, that a command waits for the SQLite store's write lock.

    In WAL mode only writers wait for each other, and a transaction takes the write lock
    with its first write (Python's sqlite3 begins a transaction just before it): so a
    first write still going after `WAITING_NOTICE` seconds is waiting for the lock."""

    def __init__(self, file: Path) -> None:
        self.file = file
        self.said = False
        self.timer: threading.Timer | None = None

    def watch(self, engine: sa.Engine) -> None:
        sa.event.listen(engine, "before_cursor_execute", self._before)
        sa.event.listen(engine, "after_cursor_execute", self._after)
        sa.event.listen(engine, "handle_error", self._failed)

    def _before(self, conn: sa.Connection, *args: Any) -> None:
        statement = str(args[1]).lstrip()[:7].upper()
        dbapi = conn.connection.dbapi_connection
        if self.said or not statement.startswith(_WRITES) or getattr(dbapi, "in_transaction", True):
            return
        self.timer = threading.Timer(WAITING_NOTICE, self._say)
        self.timer.daemon = True
        self.timer.start()

    def _after(self, *_args: Any) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _failed(self, _context: Any) -> None:
        self._after()

    def _say(self) -> None:
        self.said = True
        print(
            f"waiting for the store's write lock (held by {self.holder()})",
            file=sys.stderr,
            flush=True,
        )

    def holder(self) -> str:
        """Who holds the lock, as far as can be told: an `apply` (or a daemon's
        reconcile) says so in the store's lock file; any other writer is a daemon or a
        command recording a run."""
        try:
            info = json.loads(self.file.with_name(self.file.name + ".lock").read_text() or "null")
        except (OSError, ValueError):
            info = None
        if isinstance(info, dict) and info.get("pid"):
            return (
                f"{info.get('command', 'a runner process')}, pid {info.get('pid')} on "
                f"{info.get('host')} since {info.get('since')}"
            )
        return f"another process writing to {self.file}: a daemon, or a command recording a run"
