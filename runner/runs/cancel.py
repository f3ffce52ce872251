"""`runner cancel RUN` (SPEC 3.1): a scheduled run is discarded at once; a running one is
cancelled by its owner, asked through the store and woken through its socket, and this
waits until the owner says it ended."""

from __future__ import annotations

from pathlib import Path

from runner.clock import Clock
from runner.domain import ACTIVE_RUN_STATES, RunState
from runner.errors import NotFound, RunnerError
from runner.runs.stale import mark_stale_runs
from runner.runs.trigger import Refused
from runner.store import RunRecord, Store
from runner.store.interfaces import RunHistory
from runner.system.procs import hostname
from runner.system.wakeup import poke

WAIT = 25.0  # the owner's heartbeat (5 s) + the kill grace (10 s) + a margin
POLL = 0.05


def find_run(store: RunHistory, run_id: int) -> RunRecord:
    run = store.run(run_id)
    if run is None:
        raise NotFound(f"no run {run_id}: `runner history` lists the runs")
    return run


def cancel(
    store: Store, *, home: Path, run_id: int, clock: Clock, reason: str, wait: float = WAIT
) -> RunRecord:
    run = find_run(store, run_id)
    if run.state not in ACTIVE_RUN_STATES:
        raise Refused(
            f"run {run_id} of {run.job} already ended ({run.state}); nothing to cancel",
            code="run-ended",
        )
    if run_id in mark_stale_runs(store, host=hostname(), now=clock.now()):
        return find_run(store, run_id)
    store.request_cancel(run_id, now=clock.now(), reason=reason)
    run = find_run(store, run_id)
    if run.state != RunState.RUNNING:
        return run
    wake_owner(store, home, run_id)
    deadline = clock.monotonic() + wait
    while clock.monotonic() < deadline:
        clock.sleep(POLL)
        run = find_run(store, run_id)
        if run.state != RunState.RUNNING:
            return run
        if run_id in mark_stale_runs(store, host=hostname(), now=clock.now()):
            return find_run(store, run_id)
    owner = run.owner.label if run.owner else "its runner"
    raise RunnerError(
        f"cancel of run {run_id} requested, but {owner} has not ended it after {wait:g}s: "
        "its tasks may be ignoring SIGTERM (they get SIGKILL after 10s); check again "
        f"with `runner status {run_id}`",
        code="cancel-timeout",
    )


def wake_owner(store: RunHistory, home: Path, run_id: int) -> None:
    """Tell the process that owns a run (on this host) to read the store now."""
    run = store.run(run_id)
    if run is not None and run.owner is not None and run.owner.host == hostname():
        poke(home, run.owner.pid)


def wake_owners(store: RunHistory, home: Path, daemon_pid: int | None) -> None:
    """Tell the daemon (`daemon_pid`) and every process on this host that owns a run
    under way to read the store now (holds were placed or released)."""
    pids = {daemon_pid} if daemon_pid else set()
    host = hostname()
    pids |= {r.owner.pid for r in store.active_run_records() if r.owner and r.owner.host == host}
    for pid in pids:
        poke(home, pid)
