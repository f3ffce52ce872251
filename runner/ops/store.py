"""`runner store check` and `runner store backup FILE`: looking after the store (its
integrity and schema version; a consistent copy while a daemon runs). Neither creates
nor migrates the store."""

from __future__ import annotations

from pathlib import Path

from runner.ops.common import Home
from runner.store import store_url
from runner.store.maintenance import Backup, StoreCheck, backup_store, check_store


def check(home: Home) -> StoreCheck:
    """The store's integrity and schema version, against this runner's."""
    return check_store(store_url(home=home.path, url=home.store_url))


def backup(home: Home, file: Path) -> Backup:
    """An online backup of the SQLite store into `file` (refused for PostgreSQL, with
    the pg_dump command to use instead)."""
    return backup_store(store_url(home=home.path, url=home.store_url), file)
