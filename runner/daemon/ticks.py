"""The due jobs' ticks, decided when they fall, or made ready just before (LEAD): with
the next tick near, whether another process applied is asked, the due jobs and the
queue are read, and the runs of the jobs with no active run are made (due at the tick;
admission starts them when it falls). A job with an active run is decided when the
tick falls (the run may end by then), from the reads made ahead. Those reads stand
while this process commits nothing, reads the jobs no more and is not woken by another
process; else they are made again."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from runner.daemon.executor import fatal_store_errors
from runner.daemon.parts import LoopPart, LoopParts
from runner.daemon.starts import FULL_LOOK, Starts
from runner.scheduler.tick import TickReport, tick
from runner.store import TickInputs
from runner.store.queue import QueueState
from runner.system.failpoints import failpoint

LEAD = 0.015  # a tick's reads are made this long before it falls
TICK_SLEEP = 0.002  # the last of the wait for a tick, slept exactly (epoll counts in ms)


@dataclass(frozen=True, slots=True)
class PreparedTick:
    """A tick prepared before it falls: the reads for the jobs left to decide when it
    falls (`names`: those with an active run), and the queue, with the runs made
    ahead; used only while `marker` still holds."""

    at: datetime
    names: frozenset[str]
    inputs: TickInputs
    queue: QueueState
    marker: tuple[int, int, int]


class Ticks(LoopPart):
    def __init__(self, parts: LoopParts, *, starts: Starts) -> None:
        super().__init__(parts)
        self.starts = starts
        self.up_since = parts.clock.now()  # ticks after it are live; before, caught up
        self.prepared: PreparedTick | None = None  # the next tick, prepared
        self._committed = parts.store.commit_counter()  # transactions this process committed
        self._pokes = 0  # wake-ups from other processes seen when the generation was read
        self._generation_at = float("-inf")  # when the store's generation was last read

    def applied_elsewhere(self, mono: float, *, force: bool = False) -> bool:
        """Whether another process applied since the jobs were read: asked of the store
        when another process woke the daemon (`runner apply` does), and at least once
        a second, not on every pass (a tick's pass does not pay for it: `prepare`
        asked just before it)."""
        pokes = self.supervisor.pokes
        if not force and pokes == self._pokes and mono - self._generation_at < FULL_LOOK:
            return False
        self._pokes, self._generation_at = pokes, mono
        return self.store.generation() != self.jobs.generation

    def decide(
        self,
        due: list[str],
        now: datetime,
        prepared: PreparedTick | None,
        *,
        inputs: TickInputs | None = None,
        made_at: datetime | None = None,
    ) -> TickReport:
        """Decide the due jobs' ticks at `now` (from `inputs`, or the prepared tick's
        reads when they cover these jobs), and write their runs."""
        if prepared is not None and prepared.names >= set(due):
            inputs = prepared.inputs
        try:
            report = tick(
                self.store,
                now=now,
                up_since=self.up_since,
                only=due,
                inputs=inputs,
                made_at=made_at,
                views=self.jobs.views,
                held=lambda job: self.starts.held_whole(job, now),
            )
        except Exception:
            for name in due:  # decided again with the next pass
                self.jobs.set_next(name, now)
            raise
        if report.created:
            failpoint("run-created")
        self.specs.put(report.specs)  # what the runs' orders are made from
        requested = self.store.cancel_requests(report.cancelled)
        for run_id, reason in requested.items():  # ours: carried out now, not at a heartbeat
            if run_id in self.supervisor.runs:
                self.supervisor.request_cancel(run_id, reason)
        for name in due:
            self.jobs.set_next(name, report.next_by_job.get(name))
        return report

    def prepare(self) -> None:
        """With the next tick at most LEAD away, make it ready now, so that when it falls
        only the start is left before its tasks run."""
        now = self.clock.now()
        at = self.jobs.next_tick()
        if at is None or (at - now).total_seconds() > LEAD:
            return
        if self.prepared is not None and self.prepared.at == at and self._still(self.prepared):
            return
        self.prepared = None
        if self.applied_elsewhere(self.clock.monotonic(), force=True):
            self.jobs.load(self.store, now=now)
            at = self.jobs.next_tick()  # the jobs changed: perhaps not within LEAD any more
            if at is None or (at - now).total_seconds() > LEAD:
                return
        names = self.jobs.due_by(at)
        if not names:
            return
        inputs = self.store.tick_inputs(names, with_specs=False)  # the jobs' views are kept
        busy = {run.job for run in inputs[2]}
        early = sorted(name for name in names if name not in busy)
        queue = self.store.queue_state(even_empty=True)
        if early:
            report = self.decide(early, at, None, inputs=inputs, made_at=now)
            self.say.ticked(report)
            queue = self.starts.queue_with(queue, report) or self.store.queue_state(even_empty=True)
        late = frozenset(names) - set(early)
        self.prepared = PreparedTick(at, late, inputs, queue, self._marker())

    def take_prepared(self, now: datetime) -> PreparedTick | None:
        """The prepared tick once it falls, if its reads still stand."""
        prepared = self.prepared
        if prepared is None or prepared.at > now:
            return None
        self.prepared = None
        return prepared if self._still(prepared) else None

    def sleep_to_tick(self) -> None:
        """The loop wakes for a prepared tick up to a millisecond early (epoll rounds
        to milliseconds): the rest is slept here, exactly."""
        if self.prepared is not None:
            left = (self.prepared.at - self.clock.now()).total_seconds()
            if 0 < left <= TICK_SLEEP:
                self.clock.sleep(left)

    def wait(self, now: datetime) -> float | None:
        """Seconds the loop may wait for the next tick (None: no tick to come)."""
        at = self.jobs.next_tick()
        waits = [] if at is None else [self._wait_for(at, now)]
        if self.prepared is not None:
            waits.append(self._wait_for(self.prepared.at, now))
        return min(waits) if waits else None

    def _wait_for(self, at: datetime, now: datetime) -> float:
        """Until the tick at `at`: once prepared, until it falls, by whole milliseconds
        (`sleep_to_tick` sleeps the rest); before, until it is LEAD away."""
        left = (at - now).total_seconds()
        if self.prepared is not None and self.prepared.at == at:
            return math.floor(left * 1000) / 1000
        return left - LEAD

    def _marker(self) -> tuple[int, int, int]:
        return (self._committed(), self.supervisor.pokes, self.jobs.loads)

    def _still(self, prepared: PreparedTick) -> bool:
        """Whether nothing changed since the tick was prepared; a wake-up from another
        process that came since the loop's wait counts (the write it announces is
        done), heard now rather than at the next wait."""
        with fatal_store_errors(self.supervisor, self.store.where):
            self.supervisor.listen()
        return prepared.marker == self._marker()
