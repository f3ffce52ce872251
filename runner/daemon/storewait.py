"""What the daemon does while the store refuses the record of its tasks (issue 17): it
says so (the first refusal, then every `SAY_EVERY` seconds, and when the store is back),
tells systemd it is alive (the wait is not a hung loop), and the journal tries the write
again (`runner.runs.journal`): the tasks run on, and their runs end as they did, not
`stale`, when the store is back within `PATIENCE`."""

from __future__ import annotations

from collections import deque

from runner.clock import Clock
from runner.daemon.executor import DaemonJournal
from runner.daemon.lateness import Lateness
from runner.daemon.wording import EventWording
from runner.executors import journal as j
from runner.executors.logs import LogFiles
from runner.runs.journal import PATIENCE, RETRY_EVERY, Waiting
from runner.store import Store, StoreError
from runner.system.sdnotify import Notifier

SAY_EVERY = 30.0  # seconds between two lines while the store stays away


def journal(
    store: Store, logs: LogFiles, clock: Clock, sink: deque[j.Change], lateness: Lateness
) -> DaemonJournal:
    """The daemon's journal, patient with the store for PATIENCE."""
    waiting = store_waiting(lateness.say, lateness.systemd)
    return DaemonJournal(store, logs, clock, sink, patience=PATIENCE, waiting=waiting)


def store_waiting(say: EventWording, systemd: Notifier) -> Waiting:
    said: list[float] = []  # when (seconds into the wait) the wait was last said

    def waiting(exc: StoreError | None, waited: float) -> None:
        systemd.alive()
        if exc is None:
            say.store_back(seconds=waited)
            said.clear()
        elif not said or waited - said[-1] >= SAY_EVERY:
            say.store_waiting(exc.message, seconds=waited, every=RETRY_EVERY, most=PATIENCE)
            said.append(waited)

    return waiting
