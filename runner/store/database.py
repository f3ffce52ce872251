"""The store's boundary: its connections, and the one error its failures become.

Nothing above the store knows SQLAlchemy. Every connection and transaction the store
opens goes through `Database.reading` or `Database.writing`, which turn a database error
(a server gone, a locked or read-only file, a failed statement) into one `StoreError`
naming the store and what it was doing. So a caller catches `StoreError`, and decides
for itself whether that is fatal (an executor that cannot record its tasks) or a pass
to try again (a daemon's tick).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
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


def first_line(exc: BaseException) -> str:
    """The first line of an error's text (a driver's own error when it wraps one)."""
    text = str(getattr(exc, "orig", exc) or exc)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__


def safe_url(url: str) -> str:
    """A store's URL as it may be shown: without its password."""
    return sa.make_url(url).render_as_string(hide_password=True)


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
            raise StoreError(
                f"the store at {safe_url(self.url)}: {self.doing} failed: {first_line(exc)}"
            ) from exc


class Database:
    """What every part of the store shares: the engine, and the two ways in."""

    url: str
    engine: sa.Engine

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
            yield conn
