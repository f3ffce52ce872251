"""A run executed by this process (`runner run` with no daemon on the home).

The process owns the run: it listens on its wake-up socket so that `runner cancel` from
another terminal reaches it at once, turns Ctrl-C (and SIGTERM) into a clean cancel, and
a second Ctrl-C into SIGKILL for every task. A run that queues behind another one, or
cancels it first (the overlap policies), waits here until that one has ended.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from types import FrameType

from runner.clock import Clock
from runner.domain import ACTIVE_RUN_STATES, RunState
from runner.domain.jobs import job_view
from runner.executors import journal as j
from runner.executors.holding import HoldsOf
from runner.executors.logcap import DEFAULT_MAX_LOG_SIZE
from runner.executors.logs import LogFiles
from runner.executors.order import RunOrder
from runner.executors.supervisor import KILL_GRACE, Supervisor
from runner.runs.cancel import find_run, wake_owner
from runner.runs.holds import held_tasks
from runner.runs.journal import PATIENCE, StoreJournal, told
from runner.runs.stale import mark_stale_runs
from runner.runs.trigger import Triggered
from runner.store import RunRecord, Store, StoreError, StoreLost
from runner.system.procs import hostname
from runner.system.wakeup import Listener

Observer = Callable[[Sequence[j.Change]], None]
WAIT_POLL = 0.2


def execute(
    store: Store,
    triggered: Triggered,
    *,
    home: Path,
    clock: Clock,
    observer: Observer | None = None,
    max_parallel: int | None = None,
    max_log_size: int | None = DEFAULT_MAX_LOG_SIZE,
    kill_grace: float = KILL_GRACE,
    on_wait: Callable[[str], None] | None = None,
) -> RunRecord:
    """Run `triggered` to its end here and return it as the store has it."""
    logs = LogFiles(home, max_size=max_log_size)
    listener = _listen(home)
    supervisor = Supervisor(
        journal=StoreJournal(
            store, logs, clock, patience=PATIENCE, waiting=told(on_wait) if on_wait else None
        ),
        logs=logs,
        clock=clock,
        max_parallel=max_parallel,
        kill_grace=kill_grace,
        listener=listener,
        observer=observer,
        holds_of=_holds_of(store, clock),
    )
    pools = store.specs(("Pool", r.name) for r in store.resources("Pool"))
    supervisor.slots.pools = {name: int(spec["slots"]) for (_, name), spec in pools.items()}
    run_id = triggered.run_id
    try:
        with _cancel_on_signals(supervisor, run_id) as interrupted:
            if not _wait_for_turn(
                store,
                triggered,
                home=home,
                clock=clock,
                on_wait=on_wait,
                interrupted=interrupted,
            ):
                return find_run(store, run_id)
            if not store.claim_run(run_id, owner=supervisor.owner, now=clock.now()):
                return find_run(store, run_id)  # cancelled just before it could start
            supervisor.start(triggered.order)
            supervisor.run_until_done(on_linger=_lingering(on_wait, kill_grace))
    except StoreError as exc:
        supervisor.kill_everything()
        raise StoreLost(
            f"lost the store while running run {run_id} of {triggered.order.job} "
            f"({exc.message}): its tasks were killed; the run is found stale once "
            "the store is back"
        ) from exc
    except BaseException:
        supervisor.kill_everything()
        raise
    finally:
        supervisor.close()
        if listener is not None:
            listener.close()
    return find_run(store, run_id)


def _holds_of(store: Store, clock: Clock) -> HoldsOf:
    """Which tasks of the run holds keep from starting now, read from the store: a hold
    placed while the run goes on applies from its tasks' next start (the run waits here
    for its release, which wakes this process)."""

    def holds_of(order: RunOrder) -> dict[str, tuple[str, datetime | None]]:
        spec = store.specs([("Job", order.job)]).get(("Job", order.job))
        if spec is None:
            return {}
        hold_specs = store.specs(("Hold", r.name) for r in store.resources("Hold"))
        held = held_tasks(
            store,
            job=job_view(spec),
            holds=hold_specs.values(),
            runtime={h.job for h in store.runtime_holds()},
            selected=order.selected,
            now=clock.now(),
        )
        return {name: (h.reason, h.until) for name, h in held.items()}

    return holds_of


def _lingering(on_wait: Callable[[str], None] | None, grace: float) -> Callable[[int], None] | None:
    if on_wait is None:
        return None
    return lambda groups: on_wait(
        f"waiting up to {grace:g}s for processes that {groups} task(s) left running "
        "(sent SIGTERM; SIGKILL follows)"
    )


def _listen(home: Path) -> Listener | None:
    """The wake-up socket; None when this process already listens for the home (two
    runs executed in one process), which then relies on its heartbeat to see cancels."""
    try:
        return Listener(home)
    except OSError:
        return None


def _wait_for_turn(
    store: Store,
    triggered: Triggered,
    *,
    home: Path,
    clock: Clock,
    on_wait: Callable[[str], None] | None,
    interrupted: list[str],
) -> bool:
    """Wait until the runs this one queues behind (or cancels) have ended; False when
    this run was cancelled meanwhile."""
    if not triggered.waits_for:
        return True
    ids = [r.id for r in triggered.waits_for]
    for cancel in triggered.cancel:
        store.request_cancel(cancel.run_id, now=clock.now(), reason=cancel.reason)
        wake_owner(store, home, cancel.run_id)
    if on_wait:
        verb = "cancelling" if triggered.cancel else "queued behind"
        on_wait(f"{verb} run {', '.join(map(str, ids))}")
    while True:
        if interrupted:
            store.request_cancel(triggered.run_id, now=clock.now(), reason=interrupted[0])
        mark_stale_runs(store, host=hostname(), now=clock.now())
        mine = find_run(store, triggered.run_id)
        if mine.state != RunState.SCHEDULED:
            return False
        if all(find_run(store, i).state not in ACTIVE_RUN_STATES for i in ids):
            return True
        clock.sleep(WAIT_POLL)


@contextlib.contextmanager
def _cancel_on_signals(supervisor: Supervisor, run_id: int) -> Iterator[list[str]]:
    """Yields the list that a first Ctrl-C or SIGTERM puts its reason in."""
    interrupted: list[str] = []

    def handle(signum: int, _frame: FrameType | None) -> None:
        if interrupted:
            supervisor.kill_everything()
            return
        how = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
        interrupted.append(f"cancelled by {how} on runner run")
        supervisor.request_cancel(run_id, interrupted[0])
        with contextlib.suppress(OSError):  # os.write: safe inside a signal handler
            os.write(
                2,
                f"\ncancelling run {run_id}: tasks get SIGTERM; {how} again kills "
                "them now\n".encode(),
            )

    if threading.current_thread() is not threading.main_thread():
        yield interrupted  # signals reach only the main thread; nothing to catch here
        return
    # SIGHUP too: a closed terminal or dropped ssh session must not leave the tasks
    # running with nobody watching them.
    caught = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {s: signal.signal(s, handle) for s in caught}
    try:
        yield interrupted
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
