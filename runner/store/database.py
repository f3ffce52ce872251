"""The store's boundary: its connections, and the one error its failures become.

Nothing above the store knows SQLAlchemy. Every connection and transaction the store
opens goes through `Database.reading` or `Database.writing`, which turn a database error
(a server gone, a locked or read-only file, a failed statement) into one `StoreError`
naming the store and what it was doing. So a caller catches `StoreError`, and decides
for itself whether that is fatal (an executor that cannot record its tasks) or a pass
to try again (a daemon's tick). A full disk and a server that does not answer in time
are said as such, with what to do.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import sqlalchemy as sa

from runner.errors import RunnerError


class StoreError(RunnerError):
    """The store cannot be opened or used: its message names the store and what failed."""

    code = "store-error"


class StoreLost(StoreError):
    """The store failed while work that must be recorded was going on (tasks running):
    raised by whoever stopped that work, after stopping it."""

    code = "store-lost"


class StoreFull(StoreError):
    """The disk under the store is full: the store cannot grow."""

    code = "disk-full"


class StoreTimeout(StoreError):
    """A PostgreSQL server that did not answer in time: a command never hangs on it."""

    code = "store-timeout"


def first_line(exc: BaseException) -> str:
    """The first line of an error's text (a driver's own error when it wraps one)."""
    text = str(getattr(exc, "orig", exc) or exc)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__


def safe_url(url: str) -> str:
    """A store's URL as it may be shown: without its password."""
    return sa.make_url(url).render_as_string(hide_password=True)


def store_error(exc: BaseException, url: str, doing: str) -> StoreError:
    """The one-line error for a database error while `doing`: a full disk or a timeout
    said as such, anything else with the database's own first line."""
    if is_disk_full(exc, url):
        file = Path(sa.make_url(url).database or "state.db")
        return StoreFull(
            f"disk full: the store file {file} cannot grow ({doing} failed); free space on "
            f"{mount_of(file)} and try again"
        )
    unwritable = read_only_file(exc, url)
    if unwritable is not None:
        return StoreError(
            f"read-only: the store file {unwritable} cannot be written ({doing} failed); "
            "make it writable (its mode, a read-only mount, or the immutable flag: lsattr) "
            "and try again"
        )
    if is_timeout(exc):
        return StoreTimeout(
            f"the store at {safe_url(url)} did not answer in time ({doing}): the server is "
            "down or overloaded, or something there holds a lock; try again later (the "
            "timeouts: connect_timeout and options=-c statement_timeout=MS in the URL)"
        )
    return StoreError(f"the store at {safe_url(url)}: {doing} failed: {first_line(exc)}")


SQLITE_READONLY, SQLITE_IOERR, SQLITE_FULL = 8, 10, 13
DISK_FULL_MARGIN = 64 * 1024  # free bytes under which an I/O error is a full disk
QUERY_CANCELED = "57014"  # PostgreSQL's SQLSTATE for statement_timeout


def is_disk_full(exc: BaseException, url: str) -> bool:
    """Whether an error comes from a full disk: ENOSPC, SQLITE_FULL, or an I/O error
    (what SQLite says when growing its -shm or WAL file fails) with no room left."""
    orig = getattr(exc, "orig", exc)
    if isinstance(orig, OSError):
        return orig.errno == errno.ENOSPC
    if not isinstance(orig, sqlite3.Error) or not url.startswith("sqlite"):
        return False
    primary = (getattr(orig, "sqlite_errorcode", 0) or 0) & 0xFF
    if primary == SQLITE_FULL:
        return True
    free = free_bytes(Path(sa.make_url(url).database or "."))
    return primary == SQLITE_IOERR and free is not None and free < DISK_FULL_MARGIN


def read_only_file(exc: BaseException, url: str) -> Path | None:
    """The SQLite store's file, its WAL or its folder that cannot be written, where an
    error comes from one: SQLITE_READONLY, or the "disk I/O error" SQLite says when a
    write is refused (the immutable flag and a read-only mount refuse root too)."""
    orig = getattr(exc, "orig", exc)
    if not isinstance(orig, sqlite3.Error) or not url.startswith("sqlite"):
        return None
    primary = (getattr(orig, "sqlite_errorcode", 0) or 0) & 0xFF
    if primary not in (SQLITE_READONLY, SQLITE_IOERR):
        return None
    file = Path(sa.make_url(url).database or "state.db")
    for candidate in (file, Path(f"{file}-wal"), file.parent):
        if candidate.exists() and not os.access(candidate, os.W_OK):
            return candidate
    return None


def is_timeout(exc: BaseException) -> bool:
    """A PostgreSQL connect timeout, or a statement cancelled by its statement_timeout."""
    orig = getattr(exc, "orig", exc)
    if getattr(orig, "sqlstate", None) == QUERY_CANCELED:
        return True
    try:
        from psycopg.errors import ConnectionTimeout
    except ImportError:  # SQLite only: psycopg is an extra
        return False
    return isinstance(orig, ConnectionTimeout)


def free_bytes(file: Path) -> int | None:
    """The bytes free to an unprivileged writer on the file system holding `file`."""
    try:
        stat = os.statvfs(file.parent)
    except OSError:
        return None
    return stat.f_bavail * stat.f_frsize


def mount_of(file: Path) -> Path:
    """The mount point of the file system holding `file`: where space must be freed."""
    path = file.parent.resolve()
    while not os.path.ismount(path) and path != path.parent:
        path = path.parent
    return path


def failing_as(url: str, doing: str) -> _FailingAs:
    """A block whose database errors become a `StoreError`: "the store at WHERE: DOING
    failed: what the database said"."""
    return _FailingAs(url, doing)


class _FailingAs:
    """A class, not a generator: it wraps every store call, a daemon's busiest path
    included."""

    __slots__ = ("doing", "url")

    def __init__(self, url: str, doing: str) -> None:
        self.url = url
        self.doing = doing

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if isinstance(exc, sa.exc.SQLAlchemyError):
            raise store_error(exc, self.url, self.doing) from exc


class Database:
    """What every part of the store shares: the engine, and the two ways in."""

    url: str
    engine: sa.Engine
    # PostgreSQL with a statement timeout for reads (a command's store): writes lift it
    reads_time_out: bool = False

    @property
    def where(self) -> str:
        """The store's URL, without its password: how messages name it."""
        return safe_url(self.url)

    @contextlib.contextmanager
    def reading(self, doing: str) -> Iterator[sa.Connection]:
        """A connection for reads; `doing` says what for, should it fail ("reading the
        runs")."""
        with failing_as(self.url, doing), self.engine.connect() as conn:
            yield conn

    @contextlib.contextmanager
    def writing(self, doing: str) -> Iterator[sa.Connection]:
        """A transaction, committed when the block ends; `doing` as for `reading`."""
        with failing_as(self.url, doing), self.engine.begin() as conn:
            if self.reads_time_out:
                conn.execute(NO_STATEMENT_TIMEOUT)  # a write is not cut short half-way
            yield conn


NO_STATEMENT_TIMEOUT = sa.text("SET LOCAL statement_timeout = 0")
