"""Looking after a store: `check` (is it whole, and of a schema this runner knows) and
`backup` (a consistent copy taken while a daemon writes to it).

Neither creates nor migrates the store, and `check` writes nothing: they look at the
store as it is. A SQLite store is checked with `PRAGMA integrity_check` and
`foreign_key_check`; a PostgreSQL one for its schema version and its tables (the server
looks after its own pages). A backup uses SQLite's online backup API in one step: one
read transaction, which in WAL mode never blocks the daemon's writes, so the copy is the
store as of one instant. It is written under a temporary name in FILE's folder, checked,
made 0600 and only then renamed to FILE, so a backup cut short never has FILE's name.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shlex
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from runner.errors import RunnerError
from runner.store.database import (
    StoreError,
    StoreFull,
    is_disk_full,
    mount_of,
    safe_url,
    store_error,
)
from runner.store.engine import BUSY_TIMEOUT_MS, create_engine
from runner.store.migrations import LATEST
from runner.store.tables import metadata

SHOWN_PROBLEMS = 20  # lines of integrity_check reported at most


@dataclass(frozen=True, slots=True)
class StoreCheck:
    """What `runner store check` found: problems make it fail, notes do not."""

    where: str
    backend: str  # sqlite | postgresql
    schema_version: int | None
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_json(self) -> dict[str, Any]:
        return {
            "store": self.where,
            "backend": self.backend,
            "ok": self.ok,
            "schema_version": self.schema_version,
            "runner_schema_version": LATEST,
            "problems": self.problems,
            "notes": self.notes,
        }


@dataclass(frozen=True, slots=True)
class Backup:
    store: str
    file: Path
    size: int  # bytes
    schema_version: int | None

    def as_json(self) -> dict[str, Any]:
        return {
            "store": self.store,
            "file": str(self.file),
            "bytes": self.size,
            "schema_version": self.schema_version,
        }


class BackupRefused(RunnerError):
    """A backup this command does not make (a PostgreSQL store, a FILE that is the store)."""

    code = "backup-refused"


def check_store(url: str) -> StoreCheck:
    """Check the store at `url` (a SQLAlchemy URL, as `store_url` gives)."""
    if url.startswith("sqlite"):
        return _check_sqlite(Path(sa.make_url(url).database or "state.db"))
    return _check_postgresql(url)


def _check_sqlite(file: Path) -> StoreCheck:
    where = str(file)
    if not file.exists():
        raise StoreError(f"there is no store at {file}: name it with --home or --store")
    from runner.store import check_store_file  # the one header check, shared with opening

    try:
        check_store_file(file)
        with _sqlite(file) as conn:
            return _sqlite_findings(conn, where)
    except StoreError as exc:
        return StoreCheck(where, "sqlite", None, [exc.message])
    except sqlite3.DatabaseError as exc:
        why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return StoreCheck(where, "sqlite", None, [f"the store file {file} is damaged ({why})"])


@contextlib.contextmanager
def _sqlite(file: Path, *, query_only: bool = True) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(file, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    try:
        if query_only:
            conn.execute("PRAGMA query_only=ON")
        yield conn
    finally:
        conn.close()


def _sqlite_findings(conn: sqlite3.Connection, where: str) -> StoreCheck:
    problems = [
        f"integrity: {row[0]}"
        for row in conn.execute(f"PRAGMA integrity_check({SHOWN_PROBLEMS})")
        if row[0] != "ok"
    ]
    problems += [
        f"foreign key: row {rowid} of {table} names a missing row of {parent}"
        for table, rowid, parent, _ in conn.execute("PRAGMA foreign_key_check")
    ][:SHOWN_PROBLEMS]
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    version = _sqlite_version(conn) if "meta" in tables else None
    problems, notes = _schema_findings(version, tables, problems)
    return StoreCheck(where, "sqlite", version, problems, notes)


def _sqlite_version(conn: sqlite3.Connection) -> int | None:
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row and str(row[0]).isdigit() else None


def _schema_findings(
    version: int | None, tables: set[str], problems: list[str]
) -> tuple[list[str], list[str]]:
    """The schema version against this runner's, and the tables a store of it has."""
    problems, notes = list(problems), []
    if version is None:
        problems.append("no schema version: not a runner store, or its meta table is lost")
    elif version > LATEST:
        problems.append(
            f"schema version {version} is newer than this runner's ({LATEST}): upgrade runner"
        )
    elif version < LATEST:
        notes.append(
            f"schema version {version}, older than this runner's ({LATEST}): it is "
            "migrated the next time a command or the daemon opens it"
        )
    if version == LATEST:
        missing = sorted(set(metadata.tables) - tables)
        if missing:
            problems.append(f"tables missing: {', '.join(missing)}")
    return problems, notes


def _check_postgresql(url: str) -> StoreCheck:
    engine = create_engine(url, command=True)
    try:
        with engine.connect() as conn:
            tables = set(sa.inspect(conn).get_table_names())
            version = None
            if "meta" in tables:
                value = conn.execute(
                    sa.text("SELECT value FROM meta WHERE key = 'schema_version'")
                ).scalar()
                version = int(value) if value is not None and str(value).isdigit() else None
    except sa.exc.SQLAlchemyError as exc:
        raise store_error(exc, url, "checking it") from exc
    finally:
        engine.dispose()
    problems, notes = _schema_findings(version, tables, [])
    notes.append("pages and indexes are the server's to check (amcheck, pg_dump)")
    return StoreCheck(safe_url(url), "postgresql", version, problems, notes)


def backup_store(url: str, file: Path) -> Backup:
    """Copy the SQLite store at `url` into `file` (see the module's docstring)."""
    if not url.startswith("sqlite"):
        raise BackupRefused(
            "the store is a PostgreSQL database: back it up with pg_dump, as "
            f"{pg_dump_command(url, file)} (the password from PGPASSWORD or ~/.pgpass)"
        )
    source = Path(sa.make_url(url).database or "state.db")
    _refuse_target(source, file)
    from runner.store import check_store_file

    check_store_file(source)
    temp = file.with_name(f".{file.name}.partial-{os.getpid()}")
    try:
        version = _copy(source, temp)
        os.replace(temp, file)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
        raise
    _sync_folder(file.parent)
    return Backup(str(source), file, file.stat().st_size, version)


def pg_dump_command(url: str, file: Path) -> str:
    """The pg_dump command for the database at `url`, without its password."""
    given = sa.make_url(url)
    plain = sa.URL.create(
        "postgresql", given.username, None, given.host, given.port, given.database, given.query
    )
    target = plain.render_as_string(hide_password=False)
    return f"pg_dump --format=custom --file={shlex.quote(str(file))} {shlex.quote(target)}"


def _refuse_target(source: Path, file: Path) -> None:
    if not source.exists():
        raise StoreError(f"there is no store at {source}: name it with --home or --store")
    if file.is_dir():
        raise BackupRefused(f"{file} is a folder: name the backup file, as {file / 'state.db'}")
    if not file.parent.is_dir():
        raise BackupRefused(f"{file.parent} is not a folder: make it first, or name another")
    names = {os.path.realpath(source.with_name(source.name + s)) for s in ("", "-wal", "-shm")}
    if os.path.realpath(file) in names:
        raise BackupRefused(f"{file} is the store itself: name a file outside the store")


def _copy(source: Path, temp: Path) -> int | None:
    """The backup into `temp` (0600 from its creation), checked and synced to disk."""
    os.close(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600))
    try:
        with _sqlite(source) as src, _sqlite(temp, query_only=False) as dst:
            src.backup(dst)  # all pages in one step: one consistent read transaction
            dst.execute("PRAGMA journal_mode=DELETE")  # a single file, whole by itself
            bad = [r[0] for r in dst.execute("PRAGMA quick_check") if r[0] != "ok"]
            version = _sqlite_version(dst)
    except sqlite3.Error as exc:
        if is_disk_full(exc, f"sqlite:///{temp}"):
            raise _full(temp) from exc
        raise StoreError(f"cannot back up the store at {source}: {exc}") from exc
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise _full(temp) from exc
        raise StoreError(f"cannot write the backup {temp}: {exc.strerror or exc}") from exc
    if bad:
        raise StoreError(
            f"the backup of {source} did not check out ({bad[0]}): run `runner store check`"
        )
    fd = os.open(temp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return version


def _full(temp: Path) -> StoreFull:
    return StoreFull(
        f"disk full: cannot write the backup in {temp.parent}; free space on "
        f"{mount_of(temp)}, or name a file on another disk"
    )


def _sync_folder(folder: Path) -> None:
    """The rename made durable: the folder's entry synced too."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
