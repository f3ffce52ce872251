"""Store faults and two daemons on one store, shared by tests/faults/test_stores.py and
bench/faults.py, against real `runner` processes.

* A store file truncated to zero or with its header overwritten, found by the daemon's
  restart and by a command: one line saying what to do, exit 1, no traceback, and
  the damaged file left as it was (nothing written over it).
* Two daemons on one store (the home's `daemon.lock` deleted, or two homes on one
  PostgreSQL database): the second exits 1 naming the first, which goes on. The quick
  form is tests/daemon/test_store_lock.py; here it is looped."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from pathlib import Path

from tests.faults.scenarios import FaultEnv, Tally, check, settle, tick_job
from tests.waiting import DEADLINE, wait_for


def _zero(file: Path) -> None:
    file.write_bytes(b"")


def _header(file: Path) -> None:
    with file.open("r+b") as f:
        f.write(os.urandom(100))


DAMAGE: dict[str, Callable[[Path], None]] = {"truncated to zero": _zero, "corrupt header": _header}


def damaged(env: FaultEnv, how: str) -> Tally:
    """A daemon runs a few ticks and stops; the file is damaged `how`; a restarted
    daemon and `runner jobs` must each refuse it in one line, exit 1, and leave it."""
    tally = Tally(scenario=f"store {how}", store="sqlite", cycles=1)
    started = time.monotonic()
    tick_job(env)
    daemon = env.start_with()
    daemon.wait_up()
    wait_for("two ticks' runs", lambda: len(env.runs("tick")) >= 2)
    if daemon.stop() != 0:
        tally.problems.append("the daemon did not stop cleanly before the fault")
    file = env.home / "state.db"
    for extra in ("-wal", "-shm"):
        Path(f"{file}{extra}").unlink(missing_ok=True)
    DAMAGE[how](file)
    tally.faults = 1
    before = hashlib.sha256(file.read_bytes()).hexdigest()
    again = env.start_with()
    code = again.wait_exit(DEADLINE)
    _one_line(tally, "the daemon", code, again.log())
    done = env.runner("jobs")
    _one_line(tally, "runner jobs", done.returncode, done.stderr)
    if hashlib.sha256(file.read_bytes()).hexdigest() != before:
        tally.problems.append("the damaged file was written to")
    tally.seconds = time.monotonic() - started
    return tally


def _one_line(tally: Tally, who: str, code: int, err: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    if code != 1:
        tally.problems.append(f"{who} exited {code}, not 1")
    if "Traceback" in err or not any(line.startswith("error: ") for line in lines):
        tally.problems.append(f"{who} said no one-line error: {err[-300:]!r}")
    elif code == 1 and lines and "state.db" not in err:
        tally.problems.append(f"{who}'s error does not name the file: {lines[-1][:200]!r}")


def two_daemons(env: FaultEnv, cycles: int) -> Tally:
    """`cycles` times, a second daemon while one runs: on the same home with its
    daemon.lock deleted (SQLite), or on another home (PostgreSQL, one database). Each
    second must exit 1 naming the first; the first goes on; no tick gets two runs."""
    pg = env.url is not None
    tally = Tally(
        scenario="two daemons, " + ("two homes" if pg else "daemon.lock deleted"),
        store="postgresql" if pg else "sqlite",
        cycles=cycles,
    )
    started = time.monotonic()
    tick_job(env)
    first = env.start_with()
    first.wait_up()
    for n in range(cycles):
        if pg:
            second = env.start("--home", f"other{n}", "--store", env.url or "")
        else:
            (env.home / "daemon.lock").unlink(missing_ok=True)
            second = env.start_with()
        tally.faults += 1
        code = second.wait_exit(DEADLINE * 2)
        if code != 1 or f"pid {first.pid}" not in second.log():
            tally.duplicated += 1
            tally.problems.append(f"a second daemon exited {code}: {second.log()[-200:]!r}")
            second.stop()
    if first.proc.poll() is not None:
        tally.problems.append(f"the first daemon exited {first.proc.returncode}")
    if first.stop() != 0:
        tally.problems.append("the first daemon did not stop cleanly")
    settle(env, tally)
    check(env, tally)
    tally.seconds = time.monotonic() - started
    return tally
