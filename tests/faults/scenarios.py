"""The fault scenarios, shared by the quick suite (tests/faults, a few cycles each) and
`bench/faults.py` (hundreds): a real `runner daemon` on a real store (SQLite in the
home, or a PostgreSQL database of its own), faults injected, then what an operator
relies on checked: no tick with two runs, no tick lost, no process left behind, no run
left unfinished, and a store that passes its integrity check.

The daemon dies at an exact step of a run's life through failpoints
(runner/system/failpoints.py, armed by RUNNER_FAILPOINTS in its environment), or by
`kill -9` from here while its task runs. Every task appends its pid (its process
group: tasks lead their own) to a file, so leaks are found from the operating system,
not from what the store remembers."""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import sqlite3
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from runner.domain import RunState
from runner.store import RunRecord, opened
from runner.system.failpoints import VARIABLE as FAILPOINTS
from tests.daemon.conftest import DaemonProcess, Env
from tests.waiting import DEADLINE, live_in_group, wait_for

# The steps of a run's life where the daemon is killed; `mid-task` is a kill -9 sent
# from here once the task runs, the others are failpoints.
STEPS = ("run-created", "run-started", "mid-task", "task-ended")
ENDED = {RunState.SUCCESS, RunState.FAILED, RunState.CANCELLED, RunState.DISCARDED, "stale"}
TICK = timedelta(seconds=1)
ADMIN_URL = os.environ.get("RUNNER_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1/postgres")


@dataclass
class Tally:
    """What one scenario measured, the columns of bench/faults.py's table."""

    scenario: str
    store: str
    cycles: int = 0
    runs: int = 0
    faults: int = 0  # daemons killed (or faults injected) that took effect
    lost: int = 0  # ticks in the window with no run, or runs left unfinished
    duplicated: int = 0  # ticks with more than one run
    leaked: int = 0  # task process groups still alive at the end
    problems: list[str] = field(default_factory=list)  # what went wrong, said once each
    seconds: float = 0.0  # wall time, for bench/faults.py
    result: str = ""  # bench/faults.py's verdict

    @property
    def clean(self) -> bool:
        return not (self.lost or self.duplicated or self.leaked or self.problems)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


class FaultEnv(Env):
    """The daemon test harness's folder, on SQLite or on a PostgreSQL database of its
    own (`url`), with a file every task appends its pid to."""

    def __init__(self, root: Path, url: str | None = None) -> None:
        super().__init__(root)
        self.url = url
        self.pids = root / "task.pids"

    def start_with(self, failpoint: str | None = None) -> DaemonProcess:
        """A daemon, its failpoint armed (RUNNER_FAILPOINTS in its environment only)."""
        with _environment(FAILPOINTS, failpoint), _environment("RUNNER_STORE", self.url):
            return self.start(grace="1s")

    def runs(self, job: str | None = None) -> list[RunRecord]:
        with opened(home=self.home, url=self.url) as store:
            return list(reversed(store.history(job=job, limit=100_000)))

    def stop_all(self) -> None:
        """Stop the daemons; when the last one was killed, a command marks its runs
        stale (as in the daemon harness). Then SIGKILL what the tasks left that nothing
        else killed (a leak a test found), so that no test leaves processes behind."""
        for proc in self.spawned:
            if proc.poll() is None:
                proc.kill()
            proc.communicate()
        codes = [daemon.stop() for daemon in self.daemons]
        if codes and codes[-1] < 0 and self.home.exists():
            with _environment("RUNNER_STORE", self.url):
                self.runner("history")
        for group in self.task_groups():
            if live_in_group(group):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(group, signal.SIGKILL)

    def task_groups(self) -> list[int]:
        if not self.pids.exists():
            return []
        return [int(line) for line in self.pids.read_text().split() if line.strip()]

    def leaked_groups(self) -> list[int]:
        """Task process groups with a live process, after a moment for a SIGKILL sent
        just now to take effect."""
        alive = [g for g in self.task_groups() if live_in_group(g)]
        if alive:
            with contextlib.suppress(AssertionError):
                wait_for("leftovers to go", lambda: not any(live_in_group(g) for g in alive), 2.0)
        return [g for g in alive if live_in_group(g)]

    def integrity(self) -> str:
        """`PRAGMA integrity_check` of the SQLite file ("ok"), read-only; for PostgreSQL,
        whether the store opens and reads (the server checks its own pages)."""
        if self.url is None:
            db = sqlite3.connect(f"file:{self.home / 'state.db'}?mode=ro", uri=True)
            try:
                return str(db.execute("PRAGMA integrity_check").fetchone()[0])
            finally:
                db.close()
        self.runs()
        return "ok"


@contextlib.contextmanager
def _environment(name: str, value: str | None) -> Iterator[None]:
    """`name` set to `value` (unset for None) for what this process spawns meanwhile."""
    before = os.environ.get(name)
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


@contextlib.contextmanager
def postgresql_database() -> Iterator[str | None]:
    """A PostgreSQL database of its own (None when no server answers), dropped after,
    its connections (a killed daemon's among them) ended first."""
    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"runner_faults_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError:
        admin.dispose()
        yield None
        return
    try:
        yield sa.make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"
                ),
                {"n": name},
            )
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


# --- kill -9 at each step of a run's life ------------------------------------------------


def tick_job(
    env: FaultEnv, *, catchup: str = "all", overlap: str = "allow", child: bool = False
) -> None:
    """A job ticking every second (all its runs kept: retention would otherwise prune
    past 100 and look like lost ticks) whose task records its pid, then hangs while the
    file `hang` exists (so that a kill can land mid-task), else ends at once; with
    `child`, it first starts a child in its process group that outlives it by 30 s."""
    hang = env.root / "hang"
    first = "sleep 30 & " if child else ""
    env.write(
        "tick.yaml",
        f"""
        apiVersion: runner/v1
        kind: Job
        name: tick
        schedule: {{every: 1s, overlap: {overlap}, catchup: {catchup}}}
        history: {{keepRuns: 1000000}}
        tasks:
          - name: work
            run: {first}echo $$ >> {env.pids}; while [ -e {hang} ]; do sleep 0.05; done
        """,
    )


def kill_once(env: FaultEnv, step: str) -> bool:
    """One cycle: a daemon that dies at `step`; whether it died there (a daemon that
    outlived the deadline is stopped, and the cycle counts no fault)."""
    hang = env.root / "hang"
    if step == "mid-task":
        hang.touch()
        before = {r.id for r in env.runs()} if env.home.exists() else set()
        daemon = env.start_with()
        try:
            env.wait_runs(
                "a task running",
                lambda r: r.id not in before and _running_with_pid(r),
                timeout=DEADLINE * 2,
            )
        except AssertionError:
            daemon.stop()
            return False
        daemon.proc.send_signal(signal.SIGKILL)
    else:
        hang.unlink(missing_ok=True)
        daemon = env.start_with(step)
    try:
        code = daemon.proc.wait(timeout=DEADLINE * 2)
    except Exception:
        daemon.stop()
        return False
    return code == -signal.SIGKILL


def _running_with_pid(run: RunRecord) -> bool:
    return run.state == RunState.RUNNING and any(t.pid for t in run.tasks if t.state == "running")


def settle(env: FaultEnv, tally: Tally, *, ticks: int = 1) -> None:
    """A clean daemon that runs a few more ticks, then stops with SIGTERM: every run
    made before it must have ended by then. The tasks a killed daemon left hang
    until it is up: their end is the restart's doing, not their own."""
    daemon = env.start_with()
    try:
        daemon.wait_up()
    except AssertionError as exc:
        tally.problems.append(str(exc))
    (env.root / "hang").unlink(missing_ok=True)
    started = time.time()

    def later_ticks_done() -> bool:
        done = [r for r in env.runs("tick") if r.state == RunState.SUCCESS]
        return sum(r.due.timestamp() > started for r in done) >= ticks

    try:
        wait_for("a few ticks run by a clean daemon", later_ticks_done, DEADLINE * 3)
        _stop_ticking(env, daemon)
        wait_for("the runs made before to end", lambda: not _unfinished(env), DEADLINE * 3)
    except AssertionError as exc:
        tally.problems.append(str(exc))
    if daemon.stop() != 0:
        tally.problems.append(f"the clean daemon exited {daemon.proc.returncode}")


def _stop_ticking(env: FaultEnv, daemon: Any) -> None:
    """The tick job's schedule disabled and applied, so that no run is made as the clean
    daemon stops: one made then would stay `scheduled` for the next daemon to start
    (SPEC 3), and look lost to `check`."""
    applied = len(daemon.events("config-applied"))
    text = (env.config / "tick.yaml").read_text()
    env.replace("tick.yaml", text.replace("schedule: {", "schedule: {enabled: false, "))
    wait_for("the tick job disabled", lambda: len(daemon.events("config-applied")) > applied)


def _missed(env: FaultEnv) -> dict[str, int]:
    with opened(home=env.home, url=env.url) as store:
        return dict(store.missed_ticks("tick", ("overlap", "deadline", "catchup")))


def _unfinished(env: FaultEnv) -> list[RunRecord]:
    return [r for r in env.runs() if r.state not in ENDED]


def check(env: FaultEnv, tally: Tally) -> None:
    """Count what the invariants found, into `tally`."""
    runs = env.runs("tick")
    ticks = [r for r in runs if r.trigger in ("schedule", "catchup")]
    tally.runs = len(runs)
    by_due = Counter(r.due for r in ticks)
    tally.duplicated = sum(1 for n in by_due.values() if n > 1)
    if by_due:
        first, last = min(by_due), max(by_due)
        expected = int((last - first) / TICK) + 1
        tally.lost += expected - len(by_due)
        if expected > len(by_due):
            gaps = [first + n * TICK for n in range(expected) if first + n * TICK not in by_due]
            tally.problems.append(
                f"ticks with no run: {[f'{d:%H:%M:%S}' for d in gaps[:5]]}; "
                f"counted missed: {_missed(env)}"
            )
    unfinished = _unfinished(env)
    never_ran = [r for r in ticks if r.state == RunState.DISCARDED]
    tally.lost += len(unfinished) + len(never_ran)
    for run in unfinished[:3] + never_ran[:3]:
        tally.problems.append(f"run {run.id} due {run.due:%H:%M:%S}: {run.state} ({run.reason})")
    tally.leaked = len(env.leaked_groups())
    verdict = env.integrity()
    if verdict != "ok":
        tally.problems.append(f"integrity check: {verdict}")


def kill9(env: FaultEnv, step: str, cycles: int, *, child: bool = False) -> Tally:
    """`cycles` daemons killed at `step`, each restarted by the next; then a clean one.
    `child`: each task leaves a child running in its process group."""
    name = f"kill -9 {step}" + (", a child left" if child else "")
    tally = Tally(scenario=name, store="postgresql" if env.url else "sqlite")
    tick_job(env, child=child)
    for _ in range(cycles):
        tally.cycles += 1
        tally.faults += kill_once(env, step)
    settle(env, tally)
    check(env, tally)
    return tally


def stale_reasons(env: FaultEnv) -> list[str]:
    return [r.reason or "" for r in env.runs("tick") if r.state == "stale"]


def killed_pids(env: FaultEnv) -> set[int]:
    return {d.pid for d in env.daemons if d.proc.returncode == -signal.SIGKILL}


def dues(runs: list[RunRecord]) -> list[datetime]:
    return sorted(r.due for r in runs)


# --- downtime across many ticks, under each catch-up policy --------------------------------

POLICIES = ("none", "latest", "all")
CATCHUP_CAP = 100  # SPEC 2.3: `all` makes at most this many runs
MINUTE = timedelta(minutes=1)


def expected_catchup(policy: str, missed: int) -> int:
    """The catch-up runs SPEC 2.3 promises for `missed` ticks younger than the
    deadline: none, the latest one, or each of them up to the cap."""
    return {"none": 0, "latest": min(missed, 1), "all": min(missed, CATCHUP_CAP)}[policy]


def downtime(root: Path, policy: str, ticks: int) -> Tally:
    """A daemon (driven in-process on a fake clock: no real time passes) runs a job
    `every: 1m` once, stops, and starts again `ticks` minutes later; the catch-up runs
    made and the ticks counted as missed must be what the policy promises, and every
    catch-up run must run, oldest first."""
    from runner.clock import FakeClock
    from tests.daemon.harness import START, Harness

    tally = Tally(scenario=f"downtime {ticks} ticks, catchup {policy}", store="sqlite", cycles=1)
    first = Harness(root, FakeClock(START))
    first.write("beat.yaml", _minutely(policy))
    first.boot()
    last = _live_tick(first)
    first.close()
    again = Harness(root, FakeClock(last + ticks * MINUTE + timedelta(seconds=30)))
    tally.faults = ticks
    try:
        again.boot()
        _run_until_idle(again, tally)
        _count_downtime(again, tally, policy=policy, since=last, ticks=ticks)
    finally:
        again.close()
    return tally


def _minutely(policy: str) -> str:
    return f"""
        apiVersion: runner/v1
        kind: Job
        name: beat
        schedule: {{every: 1m, catchup: {policy}}}
        tasks:
          - {{name: work, run: "true"}}
        """


def _live_tick(h: Any) -> datetime:
    """Step the first daemon, a second of its clock at a time (its start's apply runs
    in a child process), to its first run, and let that run end; its due time."""

    def made() -> bool:
        h.clock.advance(1)
        h.step()
        return bool(h.runs("beat"))

    wait_for("the first live tick's run", made)
    wait_for("the live tick's run to end", lambda: _idle(h))
    (run,) = h.runs("beat")
    return run.due  # type: ignore[no-any-return]


def _idle(h: Any) -> bool:
    h.daemon.supervisor.poll(0.02)
    h.step()
    now = h.clock.now()
    return all(
        r.state != "running" and (r.state != "scheduled" or r.due > now) for r in h.runs("beat")
    )


def _run_until_idle(h: Any, tally: Tally) -> None:
    try:
        wait_for("the catch-up runs to end", lambda: _idle(h), DEADLINE * 3)
    except AssertionError as exc:
        tally.problems.append(str(exc))


def _count_downtime(h: Any, tally: Tally, *, policy: str, since: datetime, ticks: int) -> None:
    runs = [r for r in h.runs("beat") if r.due > since]
    caught = [r for r in runs if r.trigger == "catchup"]
    tally.runs = len(runs)
    want = expected_catchup(policy, ticks)
    tally.lost = max(0, want - len(caught))
    tally.duplicated = max(0, len(caught) - want) + sum(
        n - 1 for n in Counter(r.due for r in runs).values() if n > 1
    )
    if [r.due for r in caught] != [since + n * MINUTE for n in range(ticks - want + 1, ticks + 1)]:
        tally.problems.append(f"catch-up runs due {[f'{r.due:%H:%M}' for r in caught]}")
    if [r.id for r in caught] != sorted(r.id for r in caught) or not all(
        a.started is not None and b.started is not None and a.started <= b.started
        for a, b in itertools.pairwise(caught)
    ):
        tally.problems.append("catch-up runs not started oldest first")
    bad = [f"{r.id} {r.state}" for r in caught if r.state != RunState.SUCCESS]
    if bad:
        tally.problems.append(f"catch-up runs that did not succeed: {bad[:5]}")
    missed = h.store.missed_ticks("beat", ("overlap", "deadline", "catchup"))
    if missed.get("catchup", 0) != ticks - want:
        tally.problems.append(f"missed ticks counted {dict(missed)}, want {ticks - want} catchup")
