"""The executor's journal, written to the store; history pruned as runs end.

A write the store refuses (locked past its busy timeout, a full disk, a read-only file,
a server away) is tried again every `RETRY_EVERY` seconds for `patience` seconds, the
tasks running on meanwhile: what they did is recorded once the store is back, rather
than their runs killed and left `stale` by a store away for a minute (issue 17). Each
failed try is told to `waiting` (the daemon logs it and tells systemd it is alive),
then once more with None when a write went through."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from runner.clock import Clock
from runner.executors import journal as j
from runner.executors.logs import LogFiles
from runner.runs.retention import prune_job
from runner.store import RunsTaken, RunWriter, Store, StoreError

RETRY_EVERY = 2.0  # seconds between two tries of a write the store refused
PATIENCE = 600.0  # seconds a runner's tasks run on while the store refuses their record
# what is told of each failed try (the error, seconds waited so far) and of the end of
# a wait (None, seconds waited)
Waiting = Callable[[StoreError | None, float], None]


def told(say: Callable[[str], None]) -> Waiting:
    """A `waiting` that says the first refusal of a wait and its end, in words."""

    def waiting(exc: StoreError | None, waited: float) -> None:
        if exc is None:
            say(f"the store took the tasks' record again after {waited:.0f}s")
        elif not waited:
            say(
                f"the store refuses the tasks' record ({exc.message}); the tasks run on, "
                f"and it is tried again every {RETRY_EVERY:g}s for {PATIENCE / 60:g} min"
            )

    return waiting


class StoreJournal:
    def __init__(
        self,
        store: Store,
        logs: LogFiles,
        clock: Clock,
        *,
        patience: float = 0.0,
        waiting: Waiting | None = None,
    ) -> None:
        self.store = store
        self.logs = logs
        self.clock = clock
        self.patience = patience  # seconds a write waits for the store; 0: not at all
        self.waiting = waiting

    def write(self, changes: Sequence[j.Change]) -> None:
        began: float | None = None
        while True:
            try:
                self._write(changes)
            except StoreError as exc:
                began = self.clock.monotonic() if began is None else began
                waited = self.clock.monotonic() - began
                if waited >= self.patience:
                    raise
                if self.waiting is not None:
                    self.waiting(exc, waited)
                self.clock.sleep(min(RETRY_EVERY, self.patience - waited))
                continue
            if began is not None and self.waiting is not None:
                self.waiting(None, self.clock.monotonic() - began)
            break
        ended = {c.job for c in changes if isinstance(c, j.RunEnded)}
        if ended:  # after the write, never tried again with it
            self._after_runs_ended(ended)

    def _write(self, changes: Sequence[j.Change]) -> None:
        """One transaction: all of `changes`, or (the store refusing) none."""
        try:
            now = self.clock.now()  # when a task set without an attempt changed
            with self.store.run_writes() as writer:
                for change in changes:
                    _apply(writer, change, now)
        except RunsTaken as taken:
            raise j.RunsTaken(taken.run_ids) from None

    def cancel_requests(self, run_ids: Sequence[int]) -> dict[int, str]:
        try:
            return self.store.cancel_requests(run_ids)
        except StoreError:
            if not self.patience:
                raise
            return {}  # the store away: the requests wait there for the next pass

    def task_requests(self, run_ids: Sequence[int]) -> list[j.Request]:
        try:
            requests = self.store.task_requests(run_ids)
        except StoreError:
            if not self.patience:
                raise
            return []  # the same
        return [j.Request(r.id, r.run_id, r.action, r.task, r.arg, r.who) for r in requests]

    def _after_runs_ended(self, jobs: set[str], until: float | None = None) -> set[str]:
        """Deletes that waited for a run to end, and the history of the jobs whose runs
        ended, pruned: a job at a time, stopping once `until` (monotonic) has passed;
        the jobs left to prune."""
        now = self.clock.now()
        self.store.finish_deferred_deletes()
        left = sorted(jobs, reverse=True)
        while left:
            prune_job(self.store, self.logs, left.pop(), now=now)
            if until is not None and self.clock.monotonic() >= until:
                break
        return set(left)


def _apply(w: RunWriter, c: j.Change, now: datetime) -> None:
    match c:
        case j.AttemptEnded():
            w.attempt_ended(
                c.run_id,
                c.task,
                attempt=c.attempt,
                at=c.at,
                exit_code=c.exit_code,
                reason=c.reason,
                task_state=c.task_state,
            )
        case j.AttemptStarted():
            w.attempt_started(c.run_id, c.task, attempt=c.attempt, at=c.at, log=c.log)
        case j.AttemptSpawned():
            w.attempt_spawned(c.run_id, c.task, pid=c.pid, pid_started=c.pid_started)
        case j.TaskSet():
            w.task_set(c.run_id, c.task, state=c.state, reason=c.reason, at=now)
        case j.RunStarted():
            w.run_started(c.run_id, at=c.at, owner=c.owner)
        case j.RunEnded():
            w.run_ended(c.run_id, state=c.state, reason=c.reason, at=c.at)
        case j.Answered():
            w.answered(c.request_id, at=c.at, status=c.status, state=c.state, detail=c.detail)
        case j.Heartbeat():
            w.heartbeat(c.run_ids, at=c.at)
