"""What the tests of runs share (the home and its store are tests/conftest.py's)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from runner.clock import SystemClock
from runner.runs.foreground import execute
from runner.runs.trigger import trigger
from runner.store import RunRecord, Store

CLOCK = SystemClock()


def execute_job(
    store: Store,
    home: Path,
    job: str,
    *,
    tasks: Sequence[str] = (),
    env: dict[str, str] | None = None,
    overlap: str | None = None,
    max_parallel: int | None = None,
) -> RunRecord:
    """Trigger `job` and run it here to its end (SIGKILL 1 s after a SIGTERM)."""
    triggered = trigger(store, job=job, now=CLOCK.now(), tasks=tasks, env=env, overlap=overlap)
    return execute(
        store, triggered, home=home, clock=CLOCK, max_parallel=max_parallel, kill_grace=1.0
    )
