"""The state store: what was applied, runs and their tasks, holds, events (SPEC 5).

SQLite at `<home>/state.db` by default; PostgreSQL when a `postgresql://` URL is given.
Both run the same code and pass the same test suite.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from runner.store.configuration import ResourceWrite, StaleStore, StoredResource
from runner.store.cursors import Cursor
from runner.store.database import StoreError, StoreLost, first_line, safe_url
from runner.store.facade import Store, TickInputs
from runner.store.lock import LockHeld
from runner.store.migrations import LATEST, StoreTooNew
from runner.store.queue import QueuedRun, QueueState
from runner.store.run_reads import AttemptRecord, RunRecord, TaskRecord
from runner.store.run_writes import RunsTaken, RunWriter
from runner.store.runs import NewRun, Owner

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
    "StoreLost",
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
            f'unsupported store "{url}": use postgresql://USER@HOST/DB or sqlite:///PATH'
        )
    folder = Path(home or DEFAULT_HOME)
    return f"sqlite:///{folder / 'state.db'}"


def open_store(*, home: str | os.PathLike[str] | None = None, url: str | None = None) -> Store:
    """Open (creating or migrating) the store for a home, or at `url`."""
    full = store_url(home=home, url=url)
    if full.startswith("sqlite:"):
        Path(full.split("///", 1)[1]).parent.mkdir(parents=True, exist_ok=True)
    try:
        return Store(full, home=Path(home or DEFAULT_HOME))
    except sa.exc.SQLAlchemyError as exc:
        raise StoreError(
            f"cannot open the store at {safe_url(url or full)}: {first_line(exc)}"
        ) from exc
    except ModuleNotFoundError as exc:
        raise StoreError(
            f"the store at {safe_url(url or full)} needs the {exc.name} package: "
            "pip install 'runner[postgres]'"
        ) from exc


@contextlib.contextmanager
def opened(**kwargs: Any) -> Iterator[Store]:
    store = open_store(**kwargs)
    try:
        yield store
    finally:
        store.close()
