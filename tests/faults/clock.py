"""Clock faults, shared by tests/faults/test_clock.py and bench/faults.py: the wall
clock stepped forward or back (NTP, an administrator) while a daemon runs, driven
in-process on a fake clock (tests/daemon/harness.py: no real time passes, the tasks
are real processes, the store real SQLite). Monotonic time goes on at its own pace.

Promise (SPEC 2.3, docs/decisions.md): no tick gets two runs, the daemon does not
exit, a step forward is caught up as the job's `catchup` says (no burst past it), a
step back waits for the wall clock to pass the last run, and both are logged
(`clock-jump`)."""

from __future__ import annotations

import signal
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

from tests.faults.scenarios import (
    FaultEnv,
    Tally,
    _live_tick,
    check,
    expected_catchup,
    settle,
    tick_job,
)
from tests.waiting import wait_for

# The steps of the wall clock a scenario injects, by name.
STEPS = {
    "+1h": timedelta(hours=1),
    "-1h": -timedelta(hours=1),
    "+1d": timedelta(days=1),
    "-1d": -timedelta(days=1),
}
MINUTES_AFTER = 10  # minutes of monotonic time the daemon runs after the step


def _job(policy: str) -> str:
    return f"""
        apiVersion: runner/v1
        kind: Job
        name: beat
        schedule: {{every: 1m, catchup: {policy}, overlap: allow, startingDeadline: 2d}}
        tasks:
          - {{name: work, run: "true"}}
        history: {{keepRuns: 100000}}
        """


def _ended(h: Any) -> bool:
    h.daemon.supervisor.poll(0.02)
    h.step()
    return all(r.state not in ("running",) for r in h.runs("beat"))


def _minute(h: Any) -> None:
    """One minute of real (monotonic) time, stepped as the loop would: the tick
    prepared just before it falls, then let its run end."""
    h.clock.advance(59.99)
    h.step()
    h.clock.advance(0.01)
    h.step()
    wait_for("the tick's runs to end", lambda: _ended(h))


def wall_step(root: Path, step: str, policy: str) -> Tally:
    """A job `every: 1m` runs 3 minutes, the wall clock is stepped by `step`, and the
    daemon runs MINUTES_AFTER more minutes of monotonic time. Counted: ticks with two
    runs (duplicated), runs past what the policy allows for the ticks the step skipped
    (a burst: counted as duplicated too), and the daemon still stepping (no exit)."""
    from runner.clock import FakeClock
    from tests.daemon.harness import START, Harness

    tally = Tally(scenario=f"clock stepped {step}, catchup {policy}", store="sqlite", cycles=1)
    h = Harness(root, FakeClock(START))
    try:
        h.write("beat.yaml", _job(policy))
        h.boot()
        _live_tick(h)
        for _ in range(3):
            _minute(h)
        before = len(h.runs("beat"))
        delta = STEPS[step]
        h.clock.step_wall(delta)
        tally.faults = 1
        for _ in range(MINUTES_AFTER):
            _minute(h)
        _count(h, tally, delta=delta, policy=policy, before=before)
    except AssertionError as exc:  # an internal error, or a run that never ended
        tally.problems.append(str(exc).splitlines()[0][:200])
    finally:
        h.close()
    return tally


def _count(h: Any, tally: Tally, *, delta: timedelta, policy: str, before: int) -> None:
    runs = h.runs("beat")
    tally.runs = len(runs)
    tally.duplicated = sum(n - 1 for n in Counter(r.due for r in runs).values() if n > 1)
    after = len(runs) - before
    skipped = int(delta.total_seconds() // 60) if delta > timedelta(0) else 0
    most = expected_catchup(policy, skipped) + MINUTES_AFTER
    if after > most:
        tally.duplicated += after - most
        tally.problems.append(f"{after} runs after the step, at most {most} allowed")
    if after < MINUTES_AFTER - 1:
        # forward: the live ticks after the step run; back: each job goes on from the
        # new time (docs/decisions.md), the ticks already run not run again
        tally.lost = MINUTES_AFTER - 1 - after
    if "clock-jump" not in h.out.getvalue():
        tally.problems.append("no clock-jump line in the daemon's log")
    bad = [r.state for r in runs if r.state not in ("success", "scheduled")]
    if bad:
        tally.problems.append(f"runs not successful: {Counter(bad)}")


def sigstop(env: FaultEnv, cycles: int, *, seconds: float = 5.0) -> Tally:
    """A real daemon running a job every second (`catchup: all`, `overlap: allow`) is
    stopped with SIGSTOP for `seconds`, then continued, `cycles` times. It must not
    exit, and the ticks of the stop must follow the catch-up policy: with `all`, every
    tick of the window gets its run, once (counted by `check`, as for kill -9)."""
    tally = Tally(
        scenario=f"SIGSTOP {seconds:g}s, catchup all",
        store="postgresql" if env.url else "sqlite",
        cycles=cycles,
    )
    started = time.monotonic()
    tick_job(env, catchup="all", overlap="allow")
    daemon = env.start_with()
    daemon.wait_up()
    for _ in range(cycles):
        _stop_once(daemon, env, seconds)
        tally.faults += 1
    seen = len(env.runs("tick"))
    wait_for("a tick's run after the stops", lambda: len(env.runs("tick")) > seen + 1)
    if daemon.proc.poll() is not None:
        tally.problems.append(f"the daemon exited {daemon.proc.returncode} after SIGCONT")
    code = daemon.stop()
    if code != 0:
        tally.problems.append(f"the daemon exited {code} on SIGTERM")
    settle(env, tally)
    check(env, tally)
    tally.seconds = time.monotonic() - started
    return tally


def _stop_once(daemon: Any, env: FaultEnv, seconds: float) -> None:
    seen = len(env.runs("tick"))
    wait_for("a tick's run before the stop", lambda: len(env.runs("tick")) > seen)
    daemon.send(signal.SIGSTOP)
    until = time.monotonic() + seconds
    wait_for("the stop's time to pass", lambda: time.monotonic() >= until, seconds + 5)
    daemon.send(signal.SIGCONT)
