"""The store away from a running daemon (issue 17, defect 2), shared by
tests/faults/test_away.py and bench/faults.py: a real `runner daemon` ticking a job
every second while its store is

* locked: another process holds `BEGIN EXCLUSIVE` on state.db (PostgreSQL: `LOCK
  TABLE runs IN ACCESS EXCLUSIVE MODE`) for a while;
* read-only: state.db and its WAL made immutable (`chattr +i`: we run as root, whom a
  mode of 0444 does not stop, and a file system with files open for writing cannot be
  remounted read-only);
* on a full disk: the home on a size-limited tmpfs, filled by a filler file, which is
  then removed.

Promise (docs/decisions.md, "A pass that fails is tried again, losing nothing" and "A
loop held up is a downtime, not an overlap"): the daemon says what is wrong, naming the
file; it does not exit, except when it cannot record what a task it runs did, and then
it says so in one line (`store-lost`, exit 1) and a restart recovers; nothing is half
written (`runner store check`); and once the fault goes, the ticks of its window follow
the catch-up policy: with `all` each tick has one run, with `none` each is counted
missed by catch-up, none as an overlap."""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import sqlalchemy as sa

from runner.store import opened
from tests.daemon.conftest import DaemonProcess
from tests.faults.scenarios import (
    TICK,
    FaultEnv,
    Tally,
    check,
    postgresql_database,
    settle,
    tick_job,
)
from tests.store.test_disk_full import fill
from tests.waiting import DEADLINE, wait_for

FAULTS = ("locked", "read-only", "disk full")
BUSY_TIMEOUT = 30.0  # SQLite's busy timeout (runner/store/engine.py): a lock shorter is waited out
BENCH_SECONDS = {"locked": 40.0, "read-only": 10.0, "disk full": 10.0}
HOME_SIZE = "32m"  # the tmpfs the home is on, for a full disk


class Unavailable(RuntimeError):
    """A fault this machine cannot inject (not root, no tmpfs, no immutable flag)."""


# --- the faults ----------------------------------------------------------------------------


def _locked(env: FaultEnv, seconds: float) -> None:
    """Another process (this one) holds the store's write lock for `seconds`."""
    if env.url is not None:
        engine = sa.create_engine(env.url)
        try:
            with engine.begin() as conn:
                conn.execute(sa.text("LOCK TABLE runs IN ACCESS EXCLUSIVE MODE"))
                _pause(seconds)
        finally:
            engine.dispose()
        return
    conn = sqlite3.connect(env.home / "state.db", isolation_level=None, timeout=60)
    try:
        conn.execute("BEGIN EXCLUSIVE")
        _pause(seconds)
        conn.execute("COMMIT")
    finally:
        conn.close()


def _read_only(env: FaultEnv, seconds: float) -> None:
    """state.db and its WAL immutable for `seconds` (root's writes refused too)."""
    db = env.home / "state.db"
    files = [str(f) for f in (db, Path(f"{db}-wal")) if f.exists()]
    done = subprocess.run(["chattr", "+i", *files], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        subprocess.run(["chattr", "-i", *files], capture_output=True, check=False)
        raise Unavailable(f"cannot make the store immutable (chattr +i): {done.stderr.strip()}")
    try:
        _pause(seconds)
    finally:
        subprocess.run(["chattr", "-i", *files], capture_output=True, check=True)


def _disk_full(env: FaultEnv, seconds: float) -> None:
    """The home's tmpfs filled to its last byte for `seconds`, then freed."""
    filler = fill(env.home)
    try:
        _pause(seconds)
    finally:
        filler.unlink(missing_ok=True)


INJECT: dict[str, Callable[[FaultEnv, float], None]] = {
    "locked": _locked,
    "read-only": _read_only,
    "disk full": _disk_full,
}


def _pause(seconds: float) -> None:
    """The fault's time: waited on the clock, as the fault is a span of time."""
    until = time.monotonic() + seconds
    wait_for("the fault's time to pass", lambda: time.monotonic() >= until, seconds + 5)


@contextlib.contextmanager
def _home_for(env: FaultEnv, fault: str) -> Iterator[None]:
    """For a full disk, the home on a tmpfs of its own (unmounted after, its daemons
    stopped first); else the home as it is."""
    if fault != "disk full":
        yield
        return
    env.home.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={HOME_SIZE},mode=0700", "tmpfs", str(env.home)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise Unavailable(f"cannot mount a size-limited tmpfs: {done.stderr.strip()}")
    try:
        yield
    finally:
        env.stop_all()
        subprocess.run(["umount", "-l", str(env.home)], capture_output=True, check=False)


# --- what the daemon must say ------------------------------------------------------------


def _said(fault: str, seconds: float, pg: bool) -> tuple[str, ...]:
    """Words one of the daemon's lines must hold for the fault: what is wrong and where."""
    if fault == "locked":
        if pg or seconds < BUSY_TIMEOUT:  # waited out: the loop says it was held up
            return ("daemon-late", "the store was busy")
        return ("database is locked", "state.db")
    return (
        {"read-only": "read-only: the store file", "disk full": "disk full: the store file"}[fault],
        "state.db",
    )


def _look_at_logs(daemons: list[DaemonProcess], fault: str, seconds: float, pg: bool) -> list[str]:
    """What is wrong with what the daemons said: a traceback or internal error, an exit
    that is not one `store-lost` line, the fault not named."""
    problems = []
    logs = [d.log() for d in daemons]
    for daemon, log in zip(daemons, logs, strict=True):
        if "Traceback" in log or "internal-error" in log:
            problems.append(f"a traceback or internal error: {log[-400:]!r}")
        code = daemon.proc.returncode
        if code not in (None, 0) and (code != 1 or "lost the store while running" not in log):
            problems.append(f"a daemon exited {code} saying {log.splitlines()[-1:]!r}")
    words = _said(fault, seconds, pg)
    if not any(all(w in line for w in words) for log in logs for line in log.splitlines()):
        problems.append(f"no line of the daemon's says {' ... '.join(words)!r}")
    return problems


# --- the scenario ------------------------------------------------------------------------


def away(
    env: FaultEnv,
    fault: str,
    *,
    cycles: int,
    seconds: float,
    catchup: str = "all",
    notes: list[str] | None = None,
) -> Tally:
    """`cycles` times, the store `fault` for `seconds` under a daemon ticking every
    second (`catchup` all: `overlap: allow`, every tick must have one run; none:
    `overlap: skip`, the ticks of the fault must be missed by catch-up, not overlap).
    A daemon that exited for it (`store-lost`) is restarted once the fault is gone, as
    systemd would. `notes` hears how often the daemon exited and how many runs were
    left stale by it. Raises Unavailable when the fault cannot be made here."""
    pg = env.url is not None
    tally = Tally(
        scenario=f"store {fault} {seconds:g}s, catchup {catchup}",
        store="postgresql" if pg else "sqlite",
        cycles=cycles,
    )
    started = time.monotonic()
    with _home_for(env, fault):
        tick_job(env, catchup=catchup, overlap="allow" if catchup == "all" else "skip")
        daemon = env.start_with()
        daemon.wait_up()
        for _ in range(cycles):
            daemon = _cycle(env, daemon, fault, seconds, tally)
        if daemon.stop() not in (0, 1):  # 1: it lost the store just now (said in its log)
            tally.problems.append(f"the daemon exited {daemon.proc.returncode} on SIGTERM")
        tally.problems += _look_at_logs(env.daemons, fault, seconds, pg)
        settle(env, tally)
        if catchup == "all":
            check(env, tally)
        else:
            _check_dropped(env, tally)
        _store_check(env, tally)
        if notes is not None:
            stale = sum(1 for r in env.runs("tick") if r.state == "stale")
            notes.append(f"the daemon exited {exits(env)} times (restarted); {stale} runs stale")
    tally.seconds = time.monotonic() - started
    return tally


def exits(env: FaultEnv) -> int:
    """How many of the daemons exited 1 (for the store lost while tasks ran)."""
    return sum(1 for d in env.daemons if d.proc.returncode == 1)


def _cycle(
    env: FaultEnv, daemon: DaemonProcess, fault: str, seconds: float, tally: Tally
) -> DaemonProcess:
    """One fault: a run first, the fault for `seconds`, then the daemon ticking again,
    restarted if it exited (it may exit a moment after the fault, once its wait for
    the store's lock times out). The daemon the next cycle watches."""
    seen = len(env.runs("tick"))
    if not _until(
        tally, "a tick's run before the fault", daemon, lambda: len(env.runs("tick")) > seen
    ):
        daemon = _restarted(env, daemon)
    INJECT[fault](env, seconds)
    tally.faults += 1
    ended = time.time()

    def ticking_again() -> bool:
        return any(r.due.timestamp() > ended + 1 and r.state == "success" for r in env.runs("tick"))

    if not _until(tally, "a tick's run after the fault", daemon, ticking_again):
        daemon = _restarted(env, daemon)
        _until(tally, "a tick's run after the restart", daemon, ticking_again)
    return daemon


def _until(tally: Tally, what: str, daemon: DaemonProcess, done: Callable[[], bool]) -> bool:
    """Wait for `done`; False when the daemon exited first (a problem noted when
    neither came)."""
    try:
        wait_for(what, lambda: daemon.proc.poll() is not None or done(), DEADLINE * 3)
    except AssertionError as exc:
        tally.problems.append(str(exc).splitlines()[0][:200])
        return True
    return daemon.proc.poll() is None or done()


def _restarted(env: FaultEnv, daemon: DaemonProcess) -> DaemonProcess:
    if daemon.proc.poll() is None:
        return daemon
    again = env.start_with()
    again.wait_up()
    return again


def _check_dropped(env: FaultEnv, tally: Tally) -> None:
    """Under `catchup: none`: no tick with two runs, and every tick with no run counted
    missed by catch-up (or its deadline), none as an overlap; runs ended, no leaks."""
    runs = env.runs("tick")
    tally.runs = len(runs)
    by_due = Counter(r.due for r in runs if r.trigger in ("schedule", "catchup"))
    tally.duplicated = sum(1 for n in by_due.values() if n > 1)
    gaps = int((max(by_due) - min(by_due)) / TICK) + 1 - len(by_due) if by_due else 0
    with opened(home=env.home, url=env.url) as store:
        missed = dict(store.missed_ticks("tick", ("overlap", "deadline", "catchup")))
    if missed.get("overlap", 0):
        tally.problems.append(f"ticks of the fault missed as overlaps: {missed}")
    accounted = missed.get("catchup", 0) + missed.get("deadline", 0)
    tally.lost += max(0, gaps - accounted) + missed.get("overlap", 0)
    if accounted != gaps:
        tally.problems.append(f"{gaps} ticks with no run, counted missed: {missed}")
    unfinished = [r for r in runs if r.state not in ("success", "failed", "cancelled", "stale")]
    tally.lost += len(unfinished)
    tally.problems += [f"run {r.id}: {r.state} ({r.reason})" for r in unfinished[:3]]
    tally.leaked = len(env.leaked_groups())
    if (verdict := env.integrity()) != "ok":
        tally.problems.append(f"integrity check: {verdict}")


def _store_check(env: FaultEnv, tally: Tally) -> None:
    """`runner store check` must pass: nothing half-written (SQLite only: it checks the
    file)."""
    if env.url is not None:
        return
    done = env.runner("store", "check")
    if done.returncode != 0:
        tally.problems.append(f"runner store check exited {done.returncode}: {done.stdout}")


# --- bench/faults.py -----------------------------------------------------------------------


def bench(store: str, cycles: int) -> list[Tally]:
    """Each fault under `catchup: all` and `none`, `cycles` times, the windows of
    BENCH_SECONDS. PostgreSQL: the lock only (read-only and a full disk are faults of
    the SQLite file). A fault this machine cannot make is left out, said on stdout."""
    faults = FAULTS if store == "sqlite" else ("locked",)
    out = []
    for catchup in ("all", "none"):
        for fault in faults:
            try:
                out.append(_fresh(store, fault, cycles, catchup))
            except Unavailable as why:
                print(f"  store {fault} ({store}): skipped: {why}", flush=True)
    return out


def _fresh(store: str, fault: str, cycles: int, catchup: str) -> Tally:
    with (
        tempfile.TemporaryDirectory(prefix="runner-bench-away-") as tmp,
        contextlib.ExitStack() as stack,
    ):
        url = None
        if store == "postgresql":
            url = stack.enter_context(postgresql_database())
            if url is None:
                raise SystemExit("PostgreSQL is not reachable (RUNNER_TEST_PG)")
        env = FaultEnv(Path(tmp), url)
        notes: list[str] = []
        try:
            tally = away(
                env,
                fault,
                cycles=cycles,
                seconds=BENCH_SECONDS[fault],
                catchup=catchup,
                notes=notes,
            )
        finally:
            env.stop_all()
        print(f"  {tally.scenario} ({store}): {'; '.join(notes)}", flush=True)
        return tally
