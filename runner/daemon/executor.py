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
from runner.runs.journal import StoreJournal, Waiting
from runner.runs.retention import prune_job
from runner.store import Store, StoreError, StoreLost

STARVED = 1.0  # seconds history waits for an idle pass before a busy pass prunes it
EXIT_TIDY = 1.0  # seconds a stopping daemon prunes at most


class DaemonJournal(StoreJournal):
    """The store journal, which also hands every change to the loop once written.

    History is pruned when the loop is idle, not between two starts. A daemon never
    idle (hundreds of jobs every second) prunes anyway once history has waited STARVED:
    a slice each pass until it has caught up, the jobs that waited longest first. Else
    its runs and logs grow without bound (issue 17: 24,000 runs of 200 jobs with
    keepRuns 5 left 18,061 log files): starts come a little later instead."""

    def __init__(
        self,
        store: Store,
        logs: LogFiles,
        clock: Clock,
        sink: deque[j.Change],
        *,
        patience: float = 0.0,
        waiting: Waiting | None = None,
    ) -> None:
        super().__init__(store, logs, clock, patience=patience, waiting=waiting)
        self.sink = sink
        # whose history to prune, oldest first (a dict keeps the order), and since when
        self.ended_jobs: dict[str, None] = {}
        self.waiting_since: float | None = None

    def write(self, changes: Sequence[j.Change]) -> None:
        super().write(changes)
        self.sink.extend(changes)

    def _after_runs_ended(self, jobs: set[str], until: float | None = None) -> set[str]:
        if not self.ended_jobs:
            self.waiting_since = self.clock.monotonic()
        self.ended_jobs.update(dict.fromkeys(sorted(jobs)))  # a job waiting keeps its place
        return set()

    def starved(self) -> bool:
        """Whether history has waited STARVED for an idle moment to be pruned."""
        since = self.waiting_since
        return since is not None and self.clock.monotonic() - since >= STARVED

    def tidy(self, until: float | None = None) -> None:
        """What a run's end leaves to do: deletes deferred by it, history to prune, until
        `until` (monotonic); the rest is left for the next pass, in its order."""
        if not self.ended_jobs:
            return
        now = self.clock.now()
        self.store.finish_deferred_deletes()
        while self.ended_jobs:
            job = next(iter(self.ended_jobs))
            prune_job(self.store, self.logs, job, now=now)
            del self.ended_jobs[job]
            if until is not None and self.clock.monotonic() >= until:
                break
        if not self.ended_jobs:
            self.waiting_since = None

    def tidy_before_exit(self) -> None:
        """Prune for EXIT_TIDY at most as the daemon stops (a stop takes about --grace):
        what is left is pruned as the jobs' next runs end."""
        self.tidy(until=self.clock.monotonic() + EXIT_TIDY)


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
