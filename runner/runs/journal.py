"""The executor's journal, written to the store; history pruned as runs end."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from runner.clock import Clock
from runner.executors import journal as j
from runner.executors.logs import LogFiles
from runner.runs.retention import prune_job
from runner.store import RunsTaken, RunWriter, Store


class StoreJournal:
    def __init__(self, store: Store, logs: LogFiles, clock: Clock) -> None:
        self.store = store
        self.logs = logs
        self.clock = clock

    def write(self, changes: Sequence[j.Change]) -> None:
        try:
            now = self.clock.now()  # when a task set without an attempt changed
            with self.store.run_writes() as writer:
                for change in changes:
                    _apply(writer, change, now)
        except RunsTaken as taken:
            raise j.RunsTaken(taken.run_ids) from None
        ended = {c.job for c in changes if isinstance(c, j.RunEnded)}
        if ended:
            self._after_runs_ended(ended)

    def cancel_requests(self, run_ids: Sequence[int]) -> dict[int, str]:
        return self.store.cancel_requests(run_ids)

    def task_requests(self, run_ids: Sequence[int]) -> list[j.Request]:
        return [
            j.Request(r.id, r.run_id, r.action, r.task, r.arg, r.who)
            for r in self.store.task_requests(run_ids)
        ]

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
