"""`runner daemon` as an operation: the daemon on a home, run until a signal stops it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from runner.clock import SystemClock
from runner.daemon.eventlog import EventLog
from runner.daemon.service import DEBOUNCE, GRACE, Daemon, Service
from runner.ops.common import Home
from runner.store import open_store

__all__ = ["DEBOUNCE", "GRACE", "DaemonOptions", "serve"]


@dataclass(frozen=True, slots=True)
class DaemonOptions:
    config: str = "jobs.d"
    max_parallel: int | None = None  # tasks running at once; None: the number of CPUs
    grace: float = GRACE  # seconds running tasks get to end on SIGTERM
    debounce: float = DEBOUNCE  # seconds the folder must be quiet before an apply
    log_format: str = "text"  # text, or JSON lines
    # Run beside the scheduler once it holds the home, stopped with it (the HTTP API).
    services: Sequence[Service] = ()


def serve(home: Home, options: DaemonOptions) -> None:
    """Apply the folder, watch it, run what is due, until SIGTERM or SIGINT; the events
    go to stderr, one line each."""
    clock = SystemClock()
    store = open_store(home=home.path, url=home.store_url)
    try:
        Daemon(
            store=store,
            home=home.path,
            config=[options.config],
            clock=clock,
            log=EventLog(clock, fmt=options.log_format),
            max_parallel=options.max_parallel,
            grace=options.grace,
            debounce=options.debounce,
            services=options.services,
        ).run()
    finally:
        store.close()
