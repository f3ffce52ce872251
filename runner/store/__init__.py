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

from runner.errors import RunnerError
from runner.store.backend import Store, StoredResource, TickInputs
from runner.store.cursors import Cursor
from runner.store.migrations import LATEST, StoreTooNew
from runner.store.queue import QueuedRun
from runner.store.run_reads import AttemptRecord, RunRecord, TaskRecord
from runner.store.runs import ACTIVE_STATES, ENDED_STATES, Owner, RunsTaken, RunWriter

__all__ = [
    "ACTIVE_STATES",
    "ENDED_STATES",
    "LATEST",
    "AttemptRecord",
    "Cursor",
    "Owner",
    "QueuedRun",
    "RunRecord",
    "RunWriter",
    "RunsTaken",
    "Store",
    "StoreError",
    "StoreTooNew",
    "StoredResource",
    "TaskRecord",
    "TickInputs",
    "first_line",
    "open_store",
    "store_url",
]

DEFAULT_HOME = ".runner"


class StoreError(RunnerError):
    pass


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
    except sa.exc.OperationalError as exc:
        raise StoreError(
            f"cannot open the store at {_safe(url or full)}: {first_line(exc)}"
        ) from exc
    except ModuleNotFoundError as exc:
        raise StoreError(
            f"the store at {_safe(url or full)} needs the {exc.name} package: "
            "pip install 'runner[postgres]'"
        ) from exc


def _safe(url: str) -> str:
    return sa.make_url(url).render_as_string(hide_password=True)


def first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", exc) or exc)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__


@contextlib.contextmanager
def opened(**kwargs: Any) -> Iterator[Store]:
    store = open_store(**kwargs)
    try:
        yield store
    finally:
        store.close()
