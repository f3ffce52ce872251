"""The executor as the daemon's loop drives it: a journal that also hands every change to
the loop once written, and the rule around every call into the executor (its state and
the store's must not part)."""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Iterator, Sequence

from runner.clock import Clock
from runner.executors import journal as j
from runner.executors.logs import LogFiles
from runner.executors.supervisor import Supervisor
from runner.runs.journal import StoreJournal
from runner.store import Store, StoreError, StoreLost


class DaemonJournal(StoreJournal):
    """The store journal, which also hands every change to the loop once written."""

    def __init__(self, store: Store, logs: LogFiles, clock: Clock, sink: deque[j.Change]) -> None:
        super().__init__(store, logs, clock)
        self.sink = sink
        self.ended_jobs: set[str] = set()  # whose history to prune when the loop is idle

    def write(self, changes: Sequence[j.Change]) -> None:
        super().write(changes)
        self.sink.extend(changes)

    def _after_runs_ended(self, jobs: set[str], until: float | None = None) -> set[str]:
        self.ended_jobs.update(jobs)  # done in `tidy`, not between two starts
        return set()

    def tidy(self, until: float | None = None) -> None:
        """What a run's end leaves to do: deletes deferred by it, history to prune, until
        `until` (monotonic); the rest is left for the next idle pass."""
        if self.ended_jobs:
            self.ended_jobs = super()._after_runs_ended(self.ended_jobs, until)


@contextlib.contextmanager
def fatal_store_errors(supervisor: Supervisor, where: str) -> Iterator[None]:
    """Around every call into the executor: when the store cannot record what the tasks
    do, they are killed, and the daemon exits so that its supervisor (systemd) restarts
    it; their runs are then found stale and retried where retries remain."""
    try:
        yield
    except StoreError as exc:
        supervisor.kill_everything()
        raise StoreLost(
            f"lost the store while running tasks ({exc.message}): "
            "their tasks were killed; restart the daemon once "
            "the store is back (their runs are then found stale and retried)"
        ) from exc
