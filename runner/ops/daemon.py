"""`runner daemon` as an operation: the daemon on a home, run until a signal stops it."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from runner.clock import SystemClock
from runner.config.gitsource import GitSource
from runner.daemon.eventlog import EventLog
from runner.daemon.gitsync import GitOptions, GitSync
from runner.daemon.service import DEBOUNCE, GRACE, Daemon, Service
from runner.executors.logcap import DEFAULT_MAX_LOG_SIZE
from runner.ops.common import Home
from runner.store import open_store

__all__ = ["DEBOUNCE", "GRACE", "DaemonOptions", "GitOptions", "git_folder", "serve"]


@dataclass(frozen=True, slots=True)
class DaemonOptions:
    config: str = "jobs.d"
    max_parallel: int | None = None  # tasks running at once; None: the number of CPUs
    max_log_size: int | None = DEFAULT_MAX_LOG_SIZE  # bytes a task attempt's log keeps
    grace: float = GRACE  # seconds running tasks get to end on SIGTERM
    debounce: float = DEBOUNCE  # seconds the folder must be quiet before an apply
    log_format: str = "text"  # text, or JSON lines
    # Run beside the scheduler once it holds the home, stopped with it (the HTTP API).
    services: list[Service] = field(default_factory=list)
    git: GitOptions | None = None  # sync `config` (a clone's folder) from a git remote
    git_wake: threading.Event = field(default_factory=threading.Event)  # fetch now


def git_source(home: Home, git: GitOptions) -> GitSource:
    return GitSource.under(
        home.path, git.url, branch=git.branch, path=git.path, ssh_key=git.ssh_key
    )


def git_folder(home: Home, git: GitOptions) -> str:
    """The configuration folder of a --git daemon: in its clone under the home."""
    return str(git_source(home, git).folder)


def serve(home: Home, options: DaemonOptions) -> None:
    """Apply the folder, watch it, run what is due, until SIGTERM or SIGINT; the events
    go to stderr, one line each."""
    clock = SystemClock()
    log = EventLog(clock, fmt=options.log_format)
    store = open_store(home=home.path, url=home.store_url)
    try:
        services = list(options.services)
        if options.git is not None:
            sync = GitSync(
                git_source(home, options.git),
                options.git,
                store=store,
                log=log,
                clock=clock,
                wake=options.git_wake,
            )
            sync.first_checkout()  # the folder the first apply reads
            Path(options.config).mkdir(parents=True, exist_ok=True)
            services.insert(0, sync)
        Daemon(
            store=store,
            home=home.path,
            config=[options.config],
            clock=clock,
            log=log,
            max_parallel=options.max_parallel,
            max_log_size=options.max_log_size,
            grace=options.grace,
            debounce=options.debounce,
            services=services,
        ).run()
    finally:
        store.close()
