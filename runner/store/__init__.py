"""The state store: what was applied, runs and their tasks, holds, events (SPEC 5).

SQLite at `<home>/state.db` by default; PostgreSQL when a `postgresql://` URL is given.
Both run the same code and pass the same test suite.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from runner.store.configuration import ResourceWrite, StaleStore, StoredResource
from runner.store.cursors import Cursor
from runner.store.database import (
    StoreError,
    StoreFull,
    StoreLost,
    StoreTimeout,
    first_line,
    is_disk_full,
    is_timeout,
    safe_url,
    store_error,
)
from runner.store.facade import Store, TickInputs
from runner.store.lock import LockHeld
from runner.store.migrations import LATEST, StoreTooNew
from runner.store.queue import QueuedRun, QueueState
from runner.store.run_reads import AttemptRecord, RunRecord, TaskRecord
from runner.store.run_writes import RunsTaken, RunWriter
from runner.store.runs import NewRun, Owner
from runner.system.safefs import home_problem
from runner.system.urls import redact_url

__all__ = [
    "LATEST",
    "AttemptRecord",
    "Cursor",
    "LockHeld",
    "NewRun",
    "Owner",
    "QueueState",
    "QueuedRun",
    "ResourceWrite",
    "RunRecord",
    "RunWriter",
    "RunsTaken",
    "StaleStore",
    "Store",
    "StoreError",
    "StoreFull",
    "StoreLost",
    "StoreTimeout",
    "StoreTooNew",
    "StoredResource",
    "TaskRecord",
    "TickInputs",
    "first_line",
    "open_store",
    "store_url",
]

DEFAULT_HOME = ".runner"


def store_url(*, home: str | os.PathLike[str] | None, url: str | None) -> str:
    """The store's URL: `url` when given (a PostgreSQL URL, or sqlite:///PATH), else the
    SQLite file in the home."""
    if url:
        if url.startswith(("postgresql://", "postgres://")):
            return "postgresql+psycopg://" + url.split("://", 1)[1]
        if url.startswith(("postgresql+", "sqlite:")):
            return url
        raise StoreError(
            f'unsupported store "{redact_url(url)}": use postgresql://USER@HOST/DB or '
            "sqlite:///PATH"
        )
    folder = Path(home or DEFAULT_HOME)
    return f"sqlite:///{folder / 'state.db'}"


def open_store(
    *, home: str | os.PathLike[str] | None = None, url: str | None = None, command: bool = False
) -> Store:
    """Open (creating or migrating) the store for a home, or at `url`; `command`: for
    one command, not a daemon (it says when it waits for the write lock, and its reads
    on PostgreSQL time out: `runner.store.engine`)."""
    if (unsafe := home_problem(Path(home or DEFAULT_HOME))) is not None:
        raise StoreError(unsafe, code="home-unsafe")  # issue 17: others may write it
    full = store_url(home=home, url=url)
    file = Path(full.split("///", 1)[1]) if full.startswith("sqlite:") else None
    if file is not None:
        check_store_file(file)
        file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)  # a new home: its owner's
        if not file.exists():
            _create_store_file(file, Path(home or DEFAULT_HOME))
        _CHECKED.add(os.path.realpath(file))  # ours now: never read behind SQLite's back
    try:
        return Store(full, home=Path(home or DEFAULT_HOME), command=command)
    except sa.exc.SQLAlchemyError as exc:
        why = first_line(exc)
        if file is not None and any(w in why for w in DAMAGED):
            raise StoreError(f"the store file {file} is damaged ({why}): {RECOVER}") from exc
        if is_disk_full(exc, full) or is_timeout(exc):
            raise store_error(exc, full, "opening it") from exc
        raise StoreError(f"cannot open the store at {safe_url(url or full)}: {why}") from exc
    except ModuleNotFoundError as exc:
        raise StoreError(
            f"the store at {safe_url(url or full)} needs the {exc.name} package: "
            "pip install 'runner[postgres]'"
        ) from exc


SQLITE_HEADER = b"SQLite format 3\x00"
_CHECKED: set[str] = set()  # store files this process has looked at (`check_store_file`)
DAMAGED = ("not a database", "malformed", "corrupt")
RECOVER = (
    'restore it from a backup ("Backup and restore" in the README) and run '
    "`runner store check`; or, to start an empty store (the applied jobs, runs and "
    "history are lost), move it away and apply again"
)


def check_store_file(file: Path) -> None:
    """Only a missing file means a new store: an existing one that is empty, or not a
    SQLite database, is refused (it is a lost or damaged store, or another file), never
    silently made a new store over it.

    Checked once per process and file, before this process opens it with SQLite: closing
    any descriptor of a file drops every POSIX lock the process holds on it, so reading
    the header while a connection of ours is open would take SQLite's locks away from
    under it (and another process could then delete the WAL it is using)."""
    key = os.path.realpath(file)
    if key in _CHECKED:
        return
    try:
        with file.open("rb") as f:
            header = f.read(len(SQLITE_HEADER))
    except FileNotFoundError:
        return
    except OSError as exc:
        raise StoreError(f"cannot read the store file {file}: {exc.strerror or exc}") from None
    if not header:
        raise StoreError(f"the store file {file} is empty (0 bytes), not a runner store: {RECOVER}")
    if header != SQLITE_HEADER:
        raise StoreError(
            f"the store file {file} is not a SQLite database (damaged, or another file): {RECOVER}"
        )
    _CHECKED.add(key)


def _create_store_file(file: Path, home: Path) -> None:
    """A new SQLite store made whole under another name, then linked into place: the
    store's path is never an empty file that a crash, or another process opening the
    home at that instant, could take for a lost store. A store linked there first by
    another process is kept."""
    temp = file.with_name(f".{file.name}.new-{os.getpid()}")
    try:
        Store(f"sqlite:///{temp}", home=home).close()
        temp.chmod(0o600)  # it holds the jobs' env: its owner's only (SQLite's -wal follows)
        with contextlib.suppress(FileExistsError):
            os.link(temp, file)
    except sa.exc.SQLAlchemyError as exc:
        if is_disk_full(exc, f"sqlite:///{temp}"):
            raise store_error(exc, f"sqlite:///{file}", "creating it") from exc
        raise StoreError(f"cannot create the store at {file}: {first_line(exc)}") from exc
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise store_error(exc, f"sqlite:///{file}", "creating it") from exc
        raise StoreError(f"cannot create the store at {file}: {exc.strerror or exc}") from exc
    finally:
        for leftover in (temp, *(temp.with_name(temp.name + s) for s in ("-wal", "-shm"))):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()


@contextlib.contextmanager
def opened(**kwargs: Any) -> Iterator[Store]:
    store = open_store(**kwargs)
    try:
        yield store
    finally:
        store.close()
