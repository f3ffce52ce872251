"""The daemon's lock on its store (SPEC 5; issue 17, defect 6): one daemon per store,
whatever its home, until several may share one (SPEC 9).

The home's `daemon.lock` keeps two daemons off one home, but a deleted lock file, or two
homes on one PostgreSQL database, let a second daemon schedule the same jobs. So the
daemon also locks the store itself, with a lock the system drops when the holder dies:

* SQLite: `flock` on the database file. SQLite's own locks are POSIX record locks,
  which `flock` does not touch. The descriptor stays open for the daemon's life (closing
  a descriptor of the file would drop the process's POSIX locks on it: SQLite's).
* PostgreSQL: a session advisory lock (a key of its own, not the write lock's) on a
  connection kept for it. A thread looks at that connection every few seconds; when the
  server restarted (the lock went with the session) it takes the lock again, and when
  another daemon took it meanwhile it tells the daemon to stop.

The refusal names the other daemon from its record in the store (pid, host, since).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from runner.errors import RunnerError

DAEMON_KEY = 0x72756E64  # "rund"; the write lock's is "runn"
LOOK_EVERY = 5.0  # seconds between looks at a PostgreSQL lock's session
HELD = sa.text(
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
    "AND classid = 0 AND objid = :k AND objsubid = 1 "
    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)


class StoreInUse(RunnerError):
    code = "daemon-running"


def refusal(where: str, record: dict[str, Any] | None) -> StoreInUse:
    who = "another runner daemon"
    if record:
        who = (
            f"the daemon with pid {record.get('pid', '?')} on {record.get('host', '?')} "
            f"(home {record.get('home', '?')}, up since {record.get('since', '?')})"
        )
    return StoreInUse(
        f"{who} already runs on the store at {where}: one daemon per store; stop it first, "
        "or give this one its own store (--store, or its own --home)"
    )


class StoreDaemonLock:
    """Held from `acquire` to `release`."""

    def __init__(self, release: Callable[[], None]) -> None:
        self._release = release

    @classmethod
    def acquire(cls, store: Any, *, on_lost: Callable[[str], None]) -> StoreDaemonLock:
        """Take the lock of `store` (a `runner.store.Store`), or raise `StoreInUse`.
        `on_lost(why)`: told, from a thread, when another daemon took a PostgreSQL lock
        after the server dropped ours."""
        if store.dialect == "postgresql":
            return _PgLock(store, on_lost).start()
        database = sa.make_url(store.url).database
        if not database or database == ":memory:":
            return cls(lambda: None)
        fd = os.open(Path(database), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            # no close: it would drop this process's POSIX locks (SQLite's) on the file;
            # the process exits with the refusal
            raise refusal(store.where, store.daemon_record()) from None
        return cls(lambda: os.close(fd))

    def release(self) -> None:
        self._release()


class _PgLock(StoreDaemonLock):
    def __init__(self, store: Any, on_lost: Callable[[str], None]) -> None:
        super().__init__(self._stop)
        self.store = store
        self.on_lost = on_lost
        self.conn: sa.Connection | None = None
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="store-lock", daemon=True)

    def start(self) -> _PgLock:
        if not self._take():
            raise refusal(self.store.where, self.store.daemon_record())
        self._thread.start()
        return self

    def _take(self) -> bool:
        """Take the lock on a new connection: False when another session holds it."""
        conn = self.store.engine.connect()
        got = bool(
            conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": DAEMON_KEY}).scalar()
        )
        conn.commit()
        if not got:
            conn.close()
            return False
        self.conn = conn
        return True

    def _watch(self) -> None:
        while not self._stopped.wait(LOOK_EVERY):
            try:
                self._look()
            except StoreInUse as exc:
                self.on_lost(exc.message)
                return
            except Exception:  # the server is away: looked at again later
                self._drop()

    def _look(self) -> None:
        if self.conn is not None:
            try:
                self.conn.execute(sa.text("SELECT 1")).scalar()
                self.conn.commit()
                return
            except sa.exc.DBAPIError:
                self._drop()  # the session is gone, and the lock with it
        if not self._take():
            raise refusal(self.store.where, self.store.daemon_record())

    def _drop(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(Exception):
                self.conn.invalidate()
                self.conn.close()
            self.conn = None

    def _stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=LOOK_EVERY + 1)
        if self.conn is not None:
            with contextlib.suppress(Exception):
                self.conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": DAEMON_KEY})
                self.conn.commit()
        self._drop()


def daemon_on_store(store: Any) -> bool | None:
    """Whether a daemon holds the store's lock (PostgreSQL: seen in `pg_locks` from any
    host or home); None where only the home's lock can tell (SQLite)."""
    if store.dialect != "postgresql":
        return None
    with store.engine.connect() as conn:
        return bool(conn.execute(HELD, {"k": DAEMON_KEY}).scalar())
