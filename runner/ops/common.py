"""What every operation needs: the home (and store) it works on, the store opened for
the length of one operation, and the time."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from runner.clock import SystemClock
from runner.runs.stale import mark_stale_runs
from runner.store import Store, open_store
from runner.system.procs import hostname


@dataclass(frozen=True, slots=True)
class Home:
    """A runner's home (task logs, the daemon's lock and socket) and its store: the
    SQLite file in the home, or the PostgreSQL database at `store_url`."""

    path: Path
    store_url: str | None = None
    # A store kept open for many operations (the API's, in a daemon that marks its own
    # runs stale): used as it is, and not closed after each.
    shared: Store | None = field(default=None, compare=False)


@contextlib.contextmanager
def opened_store(home: Home) -> Iterator[Store]:
    """The store, for the length of an operation (a database error on the way is the
    store's own one-line `StoreError`). Every operation that opens it first marks the
    runs on this host whose runner died `stale` (SPEC 3: whoever notices first); on a
    `shared` store, the process that keeps it open (a daemon) does that itself."""
    if home.shared is not None:
        yield home.shared
        return
    store = open_store(home=home.path, url=home.store_url, command=True)
    try:
        mark_stale_runs(store, host=hostname(), now=now())
        yield store
    finally:
        store.close()


def now() -> datetime:
    return SystemClock().now()


def labels_from(items: Iterable[str], option: str) -> dict[str, str]:
    """`K=V` items (`--selector`, `?label=`) as labels; a usage error naming `option`."""
    from runner.errors import UsageError

    labels = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f'{option} "{item}": give a label as KEY=VALUE (team=finance)')
        labels[key] = value
    return labels


def wake_daemon(home: Path, *, changed: bool = True) -> int | None:
    """The pid of the daemon on the home, woken when `changed` (it looks at the store
    again at once); None without one."""
    from runner.daemon.lock import holder
    from runner.system.wakeup import poke

    daemon = holder(home)
    if daemon is None:
        return None
    pid = int(daemon.get("pid") or 0)
    if changed:
        poke(home, pid)
    return pid


def wake_everyone(store: Store, home: Home) -> None:
    """Wake the daemon on the home and every process here that owns a run under way:
    holds were placed or released, and what they hold is looked at again now."""
    from runner.daemon.lock import holder
    from runner.runs.cancel import wake_owners

    daemon = holder(home.path)
    wake_owners(store, home.path, int(daemon.get("pid") or 0) if daemon else None)
