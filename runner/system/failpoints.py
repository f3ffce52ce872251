"""Failpoints: named places in a run's life where a test can make this process die at
once, as `kill -9` would, to prove that nothing is lost or doubled when it happens
exactly there (tests/faults, bench/faults.py).

They do nothing unless the environment variable RUNNER_FAILPOINTS, read once when
this module is imported, names them (comma-separated); a named failpoint sends
SIGKILL to its own process when reached. A testing aid: never set it in production.

The names, in the order a scheduled run meets them:

* `run-created`: a tick's run was written (`scheduled`), nothing of it started;
* `run-started`: the run is `running` and its task's attempt written, not spawned;
* `task-ended`: a task's process ended and was reaped; its exit is not yet written
  (a one-task run's task end and run end are written in one transaction).
"""

from __future__ import annotations

import os
import signal

VARIABLE = "RUNNER_FAILPOINTS"

ARMED: frozenset[str] = frozenset(
    name.strip() for name in os.environ.get(VARIABLE, "").split(",") if name.strip()
)


def failpoint(name: str) -> None:
    """Die here, by SIGKILL, if RUNNER_FAILPOINTS names `name`; else nothing."""
    if name in ARMED:
        os.kill(os.getpid(), signal.SIGKILL)
