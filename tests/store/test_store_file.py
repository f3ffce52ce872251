"""The SQLite store's file (issue 17's defects 3 and 4): only a missing file means a new
store, made whole under another name and linked into place (0600, in a 0700 home); an
empty file, random bytes, a truncated store or another program's database are refused
with one line that says what to do, never a traceback, never a new store over them."""

from __future__ import annotations

import os
import re
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import runner.store as store_module
from runner.cli import run
from runner.store import StoreError, open_store


def a_store(home: Path) -> Path:
    open_store(home=home).close()
    return home / "state.db"


def test_a_missing_file_is_a_new_store_made_whole_for_its_owner(tmp_path: Path) -> None:
    home = tmp_path / "new-home"
    file = a_store(home)
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    assert stat.S_IMODE(home.stat().st_mode) & 0o077 == 0
    assert sorted(p.name for p in home.iterdir()) == ["state.db"]  # nothing left over


@pytest.mark.parametrize(
    ("damage", "said"),
    [
        (lambda f: f.write_bytes(b""), "is empty (0 bytes), not a runner store"),
        (lambda f: f.write_bytes(os.urandom(5000)), "is not a SQLite database"),
        (lambda f: f.write_bytes(f.read_bytes()[: 40 * 1024]), "is damaged (database disk"),
    ],
    ids=["empty", "random", "truncated"],
)
def test_a_lost_or_damaged_file_is_refused_saying_what_to_do(
    home: Path, capsys: pytest.CaptureFixture[str], damage: object, said: str
) -> None:
    file = a_store(home)
    with sqlite3.connect(file) as conn:  # enough pages that a truncation bites
        conn.execute("create table pad(x)")
        conn.executemany("insert into pad values (?)", [("x" * 500,)] * 400)
    damage(file)  # type: ignore[operator]
    store_module._CHECKED.clear()  # as a new process finds it: this one looked at it once
    with pytest.raises(StoreError, match=re.escape(said)):
        open_store(home=home)
    assert run(["jobs"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and said in err and "restore it from a backup" in err


def test_another_programs_database_is_refused(home: Path) -> None:
    home.mkdir(parents=True)
    with sqlite3.connect(home / "state.db") as conn:
        conn.execute("create table invoices(id)")
    with pytest.raises(StoreError, match=r"holds tables \(invoices\) but no runner store"):
        open_store(home=home)


def test_processes_opening_a_new_home_at_once_all_get_the_store(tmp_path: Path) -> None:
    home = tmp_path / "home"
    command = [sys.executable, "-m", "runner", "jobs", "--home", str(home)]
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    procs = [subprocess.Popen(command, **pipes) for _ in range(6)]  # type: ignore[call-overload]
    results = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0] * 6, results
    assert sorted(p.name for p in home.iterdir() if p.name.startswith(".")) == []
