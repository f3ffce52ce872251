"""The daemon's loop (SPEC 5). One thread does everything that touches the store and the
tasks; it sleeps in one selector (the executor's) until the next tick, a task's end,
a timer, a wake-up from another process, a signal or a change in the folder.

Each pass: re-apply the folder if it changed (debounced), reload the jobs if anyone
applied, tick the jobs that are due, then start what may start. The order of events
is rebuilt from the store each time, so a restart, or a crash anywhere, loses nothing.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import math
import os
import signal
import threading
import traceback
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

import sqlalchemy as sa

from runner.clock import Clock
from runner.daemon.applier import ApplyFailed, Outcome, apply_forked, finish
from runner.daemon.eventlog import EventLog
from runner.daemon.lock import HomeLock
from runner.daemon.watch import FolderWatch
from runner.executors import journal as j
from runner.executors.logs import LogFiles
from runner.executors.order import RunOrder, order_from_spec
from runner.executors.supervisor import KILL_GRACE, Supervisor
from runner.plan import hold_covers
from runner.procs import hostname
from runner.runs.afterwards import create_follow_ups, hold_on_failure
from runner.runs.holds import blocking_hold
from runner.runs.journal import StoreJournal
from runner.runs.stale import mark_stale_runs
from runner.scheduler.admit import admit
from runner.scheduler.jobs import Job, JobTable
from runner.scheduler.tick import TickReport, tick
from runner.spec.durations import format_seconds
from runner.spec.types import format_timestamp
from runner.store import QueuedRun, Store, StoreError, TickInputs, first_line
from runner.store.queue import QueueState
from runner.wakeup import Listener

GRACE = 30.0
DEBOUNCE = 0.1  # a checkout writes its files within milliseconds of each other
RETRY_PASS = 1.0
IDLE_LOOK = 30.0  # a look at the store when nothing woke the loop (a lost wake-up)
FULL_LOOK = 1.0  # the store's generation and the queue are read at least this often
SPECS_KEPT = 1024  # revisions of specs kept for the runs' orders
TIDY_SLICE = 0.05  # pruning when idle goes on this long at most, and only if it has time
TIDY_AGAIN = 0.1  # and goes on this much later
FREEZE_IDLE = 0.5  # the collection before a freeze waits until the loop has this long
LEAD = 0.015  # a tick's reads are made this long before it falls (see `_prepare`)
TICK_SLEEP = 0.002  # the last of the wait for a tick, slept exactly (epoll counts in ms)
SHUTDOWN = "daemon shutdown"


@dataclass(frozen=True, slots=True)
class _Prepared:
    """A tick prepared before it falls: the reads for the jobs left to decide when it
    falls (`names`: those with an active run), and the queue, with the runs made
    ahead; used only while `marker` still holds."""

    at: datetime
    names: frozenset[str]
    inputs: TickInputs
    queue: QueueState
    marker: tuple[int, int, int]


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


class Daemon:
    def __init__(
        self,
        *,
        store: Store,
        home: Path,
        config: Sequence[str],
        clock: Clock,
        log: EventLog,
        max_parallel: int | None = None,
        grace: float = GRACE,
        debounce: float = DEBOUNCE,
        kill_grace: float = KILL_GRACE,
    ) -> None:
        self.store = store
        self.home = home
        self.config = list(config)
        self.clock = clock
        self.log = log
        self.max_parallel = max_parallel or (os.cpu_count() or 1)
        self.grace = grace
        self.debounce = debounce
        self.kill_grace = kill_grace
        self.jobs = JobTable()
        self.changes: deque[j.Change] = deque()
        self.up_since = clock.now()
        self._reload_at: float | None = None
        self._hup = False
        self._stopping: str | None = None
        self._retry_at: float | None = None  # after a failed pass, monotonic
        self._last_pass: datetime | None = None
        self._admit_wake: datetime | None = None
        self._runs: dict[int, tuple[str, datetime]] = {}  # run id -> (job, started)
        self._waiting: dict[int, str] = {}  # what each waiting run was last logged waiting for
        self._admitted_at = float("-inf")  # when the queue was last read (monotonic)
        self._generation_at = float("-inf")  # when the store's generation was last read
        self._pokes = 0  # wake-ups from other processes seen by then
        self._specs: dict[tuple[str, int], Any] = {}  # (job, revision) -> spec
        self._prepared: _Prepared | None = None  # the next tick, prepared
        self._commits = 0  # transactions this process committed to the store
        self._freeze_due = False  # an apply lifted the freeze: set it again when idle
        self.supervisor: Supervisor | None = None

    # --- from any thread or a signal handler ------------------------------------------

    def folder_changed(self) -> None:
        self._reload_at = self.clock.monotonic() + self.debounce
        if self.supervisor is not None:
            self.supervisor.wake()

    def stop(self, why: str) -> None:
        """The first stop: no new starts, tasks get the grace. A second: SIGKILL now."""
        if self._stopping is not None:
            if self.supervisor is not None:
                self.supervisor.kill_everything()
            return
        self._stopping = why
        if self.supervisor is not None:
            self.supervisor.wake()

    # --- the loop ---------------------------------------------------------------------

    def run(self) -> int:
        with self._signals():  # from the start: a SIGHUP at once must not kill it
            lock = HomeLock.acquire(self.home, config=[str(Path(p).resolve()) for p in self.config])
            try:
                return self._run()
            finally:
                lock.release()

    def _run(self) -> int:
        listener = Listener(self.home)
        self._open_executor(listener)
        assert self.supervisor is not None
        watch: FolderWatch | None = None
        try:
            self._start()
            watch = FolderWatch(self.config, self.folder_changed)
            watch.start()
            self.store.record_daemon(self._record())
            self.log(
                "daemon-up",
                f"pid {os.getpid()}, home {self.home}, config "
                f"{', '.join(self.config)}, {len(self.jobs.jobs)} jobs, "
                f"max-parallel {self.max_parallel}",
                pid=os.getpid(),
            )
            while self._stopping is None:
                self._guarded_step()
                self._poll()
            self._shut_down(self._stopping)
        finally:
            if watch is not None:
                watch.stop()
            with contextlib.suppress(Exception):
                self.store.record_daemon(None)
            self.supervisor.close()
            listener.close()
        return 0

    def _open_executor(self, listener: Listener) -> None:
        """The executor the loop drives, and its journal."""
        logs = LogFiles(self.home)
        sa.event.listen(self.store.engine, "commit", self._committed)
        self.journal = DaemonJournal(self.store, logs, self.clock, self.changes)
        self.supervisor = Supervisor(
            journal=self.journal,
            logs=logs,
            clock=self.clock,
            max_parallel=self.max_parallel,
            kill_grace=self.kill_grace,
            listener=listener,
        )

    def _start(self) -> None:
        """Before the loop: the last daemon's runs found stale, the folder applied, the
        jobs read."""
        self._recover()
        self.up_since = self.clock.now()
        self._apply_at_start()
        self.jobs.load(self.store, now=self.clock.now())
        self.store.warm_up()
        _freeze()

    def _guarded_step(self) -> None:
        """A pass that fails (the store unreachable for a moment, a bug) is logged and
        tried again a second later; the runs under way go on meanwhile."""
        if self._retry_at is not None and self.clock.monotonic() < self._retry_at:
            return
        self._retry_at = None
        try:
            self._step()
        except StoreError:
            raise  # the executor and the store parted: the tasks are killed, we exit
        except ApplyFailed as failed:
            self._apply_failed(failed)
        except sa.exc.SQLAlchemyError as exc:
            self.log(
                "store-error",
                f"the store at {self.store.where}: {first_line(exc)}; "
                f"trying again in {RETRY_PASS:g}s",
            )
            self._retry_at = self.clock.monotonic() + RETRY_PASS
        except Exception as exc:  # a bug: keep running what runs, say so loudly
            self.log(
                "internal-error",
                f"{type(exc).__name__}: {exc}; trying again in "
                f"{RETRY_PASS:g}s (please report it with the traceback below)",
            )
            traceback.print_exc()
            self._retry_at = self.clock.monotonic() + RETRY_PASS

    def _apply_at_start(self) -> None:
        """The start's apply; when it fails, the last applied configuration runs, and
        the apply is tried again a second later."""
        try:
            self._apply("start")
        except ApplyFailed as failed:
            self._apply_failed(failed)
        except (sa.exc.SQLAlchemyError, StoreError):
            raise  # the store cannot be reached at all: say so and exit
        except Exception as exc:  # a bug: run what was applied before, say so loudly
            traceback.print_exc()
            self._apply_failed(ApplyFailed("failed", f"{type(exc).__name__}: {exc}"))

    def _apply_failed(self, failed: ApplyFailed) -> None:
        if failed.status == "store-error":
            self.log("store-error", f"{failed.message}; applying again in {RETRY_PASS:g}s")
        else:  # a bug, or the child died: its traceback, if any, is in the message
            self.log(
                "internal-error",
                f"applying the folder failed: {failed.message}; applying again in "
                f"{RETRY_PASS:g}s (please report it)",
            )
        self._reload_at = self.clock.monotonic() + RETRY_PASS

    def _poll(self) -> None:
        """Wait for the next event. The executor's journal write failing means the
        store cannot record what the tasks do: they are killed, and the daemon exits
        so that its supervisor (systemd) restarts it; their runs are then found stale
        and retried where retries remain."""
        assert self.supervisor is not None
        with self._fatal_store_errors():
            self.supervisor.poll(self._timeout())

    @contextlib.contextmanager
    def _fatal_store_errors(self) -> Iterator[None]:
        """Around every call into the executor: its state and the store's must not part."""
        assert self.supervisor is not None
        try:
            yield
        except sa.exc.SQLAlchemyError as exc:
            self.supervisor.kill_everything()
            raise StoreError(
                f"lost the store at {self.store.where} while running tasks "
                f"({first_line(exc)}): their tasks were killed; restart the daemon once "
                "the store is back (their runs are then found stale and retried)"
            ) from exc

    def _committed(self, _conn: Any) -> None:
        self._commits += 1

    def _step(self) -> None:
        assert self.supervisor is not None
        self._sleep_to_tick()
        mono = self.clock.monotonic()
        if self._hup or (self._reload_at is not None and mono >= self._reload_at):
            origin = "SIGHUP" if self._hup else "change"
            self._hup, self._reload_at = False, None
            try:
                self._apply(origin)
            except Exception:
                self._reload_at = mono  # not lost: tried again with the next pass
                raise
        now = self.clock.now()
        if self._last_pass is not None:
            self._clock_moved(self._last_pass, now)
        self._last_pass = now
        if self._applied_elsewhere(mono):
            self.jobs.load(self.store, now=now)
        self._handle_changes()
        prepared = self._take_prepared(now)
        due = self.jobs.due(now)
        report = self._tick(due, now, prepared) if due else None
        known = self._queue_with(prepared.queue, report) if prepared is not None else None
        started: list[RunOrder] = []
        try:
            started = self._admit(now, known)
        finally:  # said once what was due has started: nothing delays the tasks
            if report is not None:
                self._say_ticked(report)
            for order in started:
                self.log(
                    "run-started",
                    f"run {order.run_id} of {order.job} ({order.trigger}, due {_time(order.due)})",
                    run=order.run_id,
                    job=order.job,
                    trigger=order.trigger,
                )
        self._handle_changes()
        if not started and self._idle_for() > TIDY_SLICE:  # prune history, deferred deletes
            self.journal.tidy(until=self.clock.monotonic() + TIDY_SLICE)
        if self._freeze_due and not started and self._idle_for() > FREEZE_IDLE:
            self._freeze_due = False  # a full collection: 0.1 s with 10,000 jobs
            _freeze()
        if self._stopping is None:
            self._prepare()

    def _prepare(self) -> None:
        """With the next tick at most LEAD away, it is made ready now, so that when it
        falls only the start is left before its tasks run: whether another process
        applied is asked, the due jobs and the queue are read, and the runs of the
        jobs with no active run are made (due at the tick; admission starts them when
        it falls). A job with an active run is decided when the tick falls (the run
        may end by then), from the reads made now. The reads stand while this process
        commits nothing, reads the jobs no more and is not woken by another process;
        else they are made again."""
        now = self.clock.now()
        at = self.jobs.next_tick()
        if at is None or (at - now).total_seconds() > LEAD:
            return
        if self._prepared is not None and self._prepared.at == at and self._still(self._prepared):
            return
        self._prepared = None
        if self._applied_elsewhere(self.clock.monotonic(), force=True):
            self.jobs.load(self.store, now=now)
            at = self.jobs.next_tick()  # the jobs changed: perhaps not within LEAD any more
            if at is None or (at - now).total_seconds() > LEAD:
                return
        names = self.jobs.due_by(at)
        if not names:
            return
        inputs = self.store.tick_inputs(names)
        busy = {run.job for run in inputs[2]}
        early = sorted(name for name in names if name not in busy)
        queue = self.store.queue_state(even_empty=True)
        if early:
            report = self._tick(early, at, None, inputs=inputs, made_at=now)
            self._say_ticked(report)
            queue = self._queue_with(queue, report) or self.store.queue_state(even_empty=True)
        late = frozenset(names) - set(early)
        self._prepared = _Prepared(at, late, inputs, queue, self._marker())

    def _take_prepared(self, now: datetime) -> _Prepared | None:
        """The prepared tick once it falls, if its reads still stand."""
        prepared = self._prepared
        if prepared is None or prepared.at > now:
            return None
        self._prepared = None
        return prepared if self._still(prepared) else None

    def _marker(self) -> tuple[int, int, int]:
        assert self.supervisor is not None
        return (self._commits, self.supervisor.pokes, self.jobs.loads)

    def _still(self, prepared: _Prepared) -> bool:
        """Whether nothing changed since the tick was prepared; a wake-up from another
        process that came since the loop's wait counts (the write it announces is
        done), heard now rather than at the next wait."""
        assert self.supervisor is not None
        with self._fatal_store_errors():
            self.supervisor.listen()
        return prepared.marker == self._marker()

    def _sleep_to_tick(self) -> None:
        """The loop wakes for a prepared tick up to a millisecond early (epoll rounds
        to milliseconds): the rest is slept here, exactly."""
        if self._prepared is not None:
            left = (self._prepared.at - self.clock.now()).total_seconds()
            if 0 < left <= TICK_SLEEP:
                self.clock.sleep(left)

    def _applied_elsewhere(self, mono: float, *, force: bool = False) -> bool:
        """Whether another process applied since the jobs were read: asked of the store
        when another process woke the daemon (`runner apply` does), and at least once
        a second, not on every pass (a tick's pass does not pay for it: `_prepare`
        asked just before it)."""
        assert self.supervisor is not None
        pokes = self.supervisor.pokes
        if not force and pokes == self._pokes and mono - self._generation_at < FULL_LOOK:
            return False
        self._pokes, self._generation_at = pokes, mono
        return self.store.generation() != self.jobs.generation

    def _clock_moved(self, last: datetime, now: datetime) -> None:
        """The loop passes at least every IDLE_LOOK seconds. A longer gap is a suspend
        (or a clock stepped forward): the ticks in it passed while nothing ran them, so
        catch-up decides them, not the overlap policy. A clock stepped back: each job's
        next tick is computed again from where the clock now is."""
        if now - last > timedelta(seconds=2 * IDLE_LOOK):
            self.log(
                "clock-jump",
                f"{_took((now - last).total_seconds())} passed since the last look (a "
                "suspend, or the clock stepped): the ticks missed meanwhile are caught up "
                "per each job's catchup",
            )
            self.up_since = now
        elif now < last - timedelta(seconds=1):
            self.log(
                "clock-jump",
                f"the clock stepped back {_took((last - now).total_seconds())}: next "
                "ticks computed again",
            )
            self.jobs.load(self.store, now=now)

    def _idle_for(self) -> float:
        """Seconds until the loop has something to do by the clock (a tick, a timer)."""
        assert self.supervisor is not None
        return min(self._next_wake(), self.supervisor.next_timer())

    def _timeout(self) -> float:
        wait = self._next_wake()
        if self.journal.ended_jobs:  # history left to prune: another slice soon
            wait = min(wait, TIDY_AGAIN)
        return wait

    def _next_wake(self) -> float:
        now = self.clock.now()
        wake = [IDLE_LOOK]
        if self._retry_at is not None:
            wake.append(self._retry_at - self.clock.monotonic())
        at = self.jobs.next_tick()
        if at is not None:
            wake.append(self._tick_wait(at, now))
        if self._prepared is not None:
            wake.append(self._tick_wait(self._prepared.at, now))
        if self._admit_wake is not None:
            wake.append((self._admit_wake - now).total_seconds())
        if self._reload_at is not None:
            wake.append(self._reload_at - self.clock.monotonic())
        return max(0.0, min(wake))

    def _tick_wait(self, at: datetime, now: datetime) -> float:
        """Until the tick at `at`: once prepared, until it falls, by whole milliseconds
        (`_sleep_to_tick` sleeps the rest); before, until it is LEAD away."""
        left = (at - now).total_seconds()
        if self._prepared is not None and self._prepared.at == at:
            return math.floor(left * 1000) / 1000
        return left - LEAD

    # --- configuration ---------------------------------------------------------------

    def _apply(self, origin: str) -> None:
        now = self.clock.now()
        done = apply_forked(self.config, self.store, now=now, origin=f"daemon ({origin})")
        try:
            self._applied(done, origin, now)
        finally:
            finish(done)
            self._freeze_due = True

    def _applied(self, done: Outcome, origin: str, now: datetime) -> None:
        if done.status == "busy":
            self.log("config-busy", f"{done.message}; applying again in {RETRY_PASS:g}s")
            self._reload_at = self.clock.monotonic() + RETRY_PASS
            return
        if done.status == "refused":
            self.log("config-rejected", f"{done.message}; the last applied configuration runs on")
            return
        if done.status in ("store-error", "failed"):
            raise ApplyFailed(done.status, done.message)
        for is_error, text in done.findings:
            self.log("config-error" if is_error else "config-warning", text)
        if done.skipped_files:
            self.log(
                "config-rejected",
                f"skipped {len(done.skipped_files)} file(s) with errors: "
                f"{', '.join(done.skipped_files)} (what they hold keeps its applied "
                f"revision); applied the rest: {done.counts}",
            )
        else:
            self.log(
                "config-applied",
                f"{done.counts} ({origin})",
                generation=done.generation,
                apply_peak_mb=round(done.peak_mb),
            )
        for job, run_id in done.started:
            self.log(
                "run-created",
                f"run {run_id} of {job}: runs once as it was created (status: start)",
                run=run_id,
                job=job,
            )
        if done.written:  # only what changed is read again
            self.jobs.load(self.store, now=now, names=done.names)
            _give_back_memory()

    # --- ticks and starts --------------------------------------------------------------

    def _tick(
        self,
        due: list[str],
        now: datetime,
        prepared: _Prepared | None,
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
            )
        except Exception:
            for name in due:  # decided again with the next pass
                self.jobs.set_next(name, now)
            raise
        for key, spec in report.specs.items():  # what the runs' orders are made from
            self._specs[key] = spec
        assert self.supervisor is not None
        requested = self.store.cancel_requests(report.cancelled)
        for run_id, reason in requested.items():  # ours: carried out now, not at a heartbeat
            if run_id in self.supervisor.runs:
                self.supervisor.request_cancel(run_id, reason)
        for name in due:
            self.jobs.set_next(name, report.next_by_job.get(name))
        return report

    def _say_ticked(self, report: TickReport) -> None:
        for made in report.created:
            self.log(
                "run-created",
                f"run {made.run_id} of {made.job}: {made.trigger}, due {_time(made.due)}",
                run=made.run_id,
                job=made.job,
                trigger=made.trigger,
                due=_time(made.due),
            )
        for run_id in report.cancelled:
            self.log(
                "run-cancelling",
                f"run {run_id}: a new tick cancels it (overlap: cancel-running)",
                run=run_id,
            )
        for line in report.events:
            self.log("ticks-missed", line)
        for job, reasons in report.missed.items():
            if "overlap" in reasons:
                self.log(
                    "tick-skipped",
                    f"{job}: {reasons['overlap']} tick(s) skipped: a run is active (overlap)",
                    job=job,
                )

    def _admit(self, now: datetime, known: QueueState | None = None) -> list[RunOrder]:
        """Start what may start; the runs started. `known`: the queue as it stands, when
        a prepared tick says so (else it is read)."""
        assert self.supervisor is not None
        if self._stopping is not None:
            return []
        free = self.supervisor.free_slots()
        mono = self.clock.monotonic()
        if free <= 0 and mono - self._admitted_at < FULL_LOOK:
            return []  # nothing can start: the queue is looked at again when a slot frees
        self._admitted_at = mono
        state = known or self.store.queue_state()
        self._admit_wake = None
        if not state.queued:
            return []
        admission = admit(
            state.queued,
            jobs=self.jobs.jobs,
            active=state.active,
            preceding=state.preceding,
            held=lambda job, run: self._held(job, run, state.held_jobs, now),
            free=free,
            now=now,
        )
        self._admit_wake = admission.wake_at
        for run, reason in admission.discard:
            if self.store.request_cancel(run.id, now=now, reason=reason) == "scheduled":
                self.log(
                    "run-discarded", f"run {run.id} of {run.job}: {reason}", run=run.id, job=run.job
                )
        for run_id, why in admission.waiting.items():
            if self._waiting.get(run_id) != why and not why.startswith("jitter"):
                self.log("run-waiting", f"run {run_id}: {why}", run=run_id)
        self._waiting = dict(admission.waiting)
        if not admission.start:
            return []
        orders = [self._order(r) for r in admission.start]
        for order in orders:
            self._runs[order.run_id] = (order.job, now)
        with self._fatal_store_errors():  # the start's first write takes the runs
            taken = self.supervisor.start(*orders)
        for run_id in taken:
            self._runs.pop(run_id, None)
        return [order for order in orders if order.run_id not in taken]

    def _queue_with(self, queue: QueueState, report: TickReport | None) -> QueueState | None:
        """The queue read before a prepared tick, with the runs its tick made (if it
        made any): what the store holds now, as nothing else was written since; None
        (read it) when the tick asked for cancels."""
        assert self.supervisor is not None
        if report is None:
            return queue
        if report.cancelled:
            return None
        made = report.created
        if any(c.run_id in self._runs or c.run_id in self.supervisor.runs for c in made):
            return None  # a run that existed already (ours): the store says what it is
        queued = {q.id: q for q in queue.queued}
        for c in made:
            queued.setdefault(
                c.run_id,
                QueuedRun(c.run_id, c.job, c.revision, c.trigger, c.due, 1, None, None, None, None),
            )
        ordered = sorted(queued.values(), key=lambda q: (q.due, q.id))
        return queue._replace(queued=ordered)

    def _held(
        self, job: Job, run: QueuedRun, runtime: set[str], now: datetime
    ) -> tuple[str | None, datetime | None]:
        """What holds the run's tasks, and when that hold's `until` passes."""
        if (
            not job.spec.get("holds")
            and job.name not in runtime
            and not any(hold_covers(h, job.spec) for h in self.jobs.holds.values())
        ):
            return None, None
        spec = self.store.specs([("Job", job.name)]).get(("Job", job.name)) or job.spec
        found = blocking_hold(self.store, spec, selected=run.selected, now=now)
        if found is None:
            return None, None
        hold, covered = found
        until = hold.get("until")
        at = datetime.fromisoformat(until.replace("Z", "+00:00")) if until else None
        origin = " (runtime)" if hold["origin"] == "runtime" else ""
        return (
            f"held by {hold['name']}{origin} on {', '.join(covered)} "
            f"(released {hold['releases_when']})",
            at,
        )

    def _spec(self, job: str, revision: int) -> Any:
        """A revision of a job's spec (a run keeps the revision it was made for); the
        latest ones kept, a revision never changing."""
        key = (job, revision)
        spec = self._specs.pop(key, None)
        if spec is None:
            spec = self.store.revision_spec("Job", job, revision)
        if spec is None:  # pragma: no cover - every revision is kept while a run has it
            spec = self.store.specs([("Job", job)]).get(("Job", job)) or {}
        self._specs[key] = spec
        while len(self._specs) > SPECS_KEPT:
            del self._specs[next(iter(self._specs))]
        return spec

    def _order(self, run: QueuedRun) -> RunOrder:
        job = self.jobs.jobs[run.job]
        spec = self._spec(run.job, run.revision)
        return order_from_spec(
            spec,
            run_id=run.id,
            revision=run.revision,
            trigger=run.trigger,
            due=run.due,
            source_file=job.source_file,
            selected=run.selected,
            run_env=run.env,
        )

    # --- what the executor reports -----------------------------------------------------

    def _handle_changes(self) -> None:
        while self.changes:
            change = self.changes[0]  # taken off once handled: a failure tries it again
            if isinstance(change, j.RunStarted):
                self._follow_ups(change)
            elif isinstance(change, j.AttemptEnded):
                self._attempt_ended(change)
            elif isinstance(change, j.RunEnded):
                self._run_ended(change)
            self.changes.popleft()

    def _follow_ups(self, started: j.RunStarted) -> None:
        job = self._runs.get(started.run_id, ("", started.at))[0]
        followers = self.jobs.followers.get(job) or []
        if not followers:
            return
        for run_id, name, what in create_follow_ups(
            self.store, run_id=started.run_id, job=job, followers=followers, now=started.at
        ):
            if run_id is not None:
                self.log(
                    "run-created",
                    f"run {run_id} of {name}: {what}",
                    run=run_id,
                    job=name,
                    trigger="follow-up",
                )
            else:
                self.log(
                    "follow-up-dropped",
                    f"{name}: {what} (run {started.run_id} of {job} started)",
                    job=name,
                )
        if self.supervisor is not None:  # a follower's run cancelled (cancel-running)
            with self._fatal_store_errors():
                self.supervisor.check_cancels()

    def _attempt_ended(self, ended: j.AttemptEnded) -> None:
        job = self._runs.get(ended.run_id, ("?", ended.at))[0]
        code = ""
        if ended.exit_code is not None and ended.exit_code < 0:
            code = f", killed by {_signal_name(-ended.exit_code)}"
        elif ended.exit_code and f"exit code {ended.exit_code}" not in (ended.reason or ""):
            code = f", exit code {ended.exit_code}"
        why = f": {ended.reason}" if ended.reason else ""
        self.log(
            "task-ended",
            f"run {ended.run_id} of {job}: task {ended.task} {ended.state}{code}{why}",
            run=ended.run_id,
            job=job,
            task=ended.task,
            attempt=ended.attempt,
            state=ended.state,
            exit_code=ended.exit_code,
        )

    def _run_ended(self, ended: j.RunEnded) -> None:
        _, started = self._runs.pop(ended.run_id, (ended.job, ended.at))
        took = _took((ended.at - started).total_seconds())
        why = f": {ended.reason}" if ended.reason else ""
        self.log(
            "run-ended",
            f"run {ended.run_id} of {ended.job} {ended.state} in {took}{why}",
            run=ended.run_id,
            job=ended.job,
            state=ended.state,
        )
        if ended.state == "failed":
            job = self.jobs.jobs.get(ended.job)
            if job is not None:
                reason = hold_on_failure(self.store, job=ended.job, spec=job.spec, now=ended.at)
                if reason:
                    self.log(
                        "hold-placed", f"{ended.job}: on-failure (runtime): {reason}", job=ended.job
                    )

    # --- start and stop ----------------------------------------------------------------

    def _recover(self) -> None:
        """The previous daemon's runs (SPEC 5: marked stale at start), retried when their
        tasks had retries left."""
        now = self.clock.now()
        retries: dict[int, int] = {}
        for run_id in mark_stale_runs(self.store, host=hostname(), now=now, retries=retries):
            self.log(
                "run-stale",
                f"run {run_id}: its runner died while it ran (found at start)",
                run=run_id,
            )
            retry = self.store.run(retries[run_id]) if run_id in retries else None
            if retry is not None:
                self.log(
                    "run-created",
                    f"run {retry.id} of {retry.job}: retry of stale run {run_id} (its task "
                    "had retries left)",
                    run=retry.id,
                    job=retry.job,
                    trigger="retry",
                )

    def _shut_down(self, why: str) -> None:
        assert self.supervisor is not None
        active = len(self.supervisor.runs)
        self.log(
            "daemon-stopping",
            f"{why}: no new starts; {active} run(s) running get {self.grace:g}s to end, "
            "then SIGKILL; scheduled runs stay for the next start",
        )
        with self._fatal_store_errors():
            self.supervisor.shutdown(SHUTDOWN, self.grace)
            self._handle_changes()
            while self.supervisor.runs:
                self.supervisor.poll()
                self._handle_changes()
            self.supervisor.run_until_done()
            self.journal.tidy()
        self._handle_changes()
        self.log("daemon-stopped", "stopped")

    @contextlib.contextmanager
    def _signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def stop(signum: int, _frame: FrameType | None) -> None:
            self.stop(f"{signal.Signals(signum).name} received")

        def hup(_signum: int, _frame: FrameType | None) -> None:
            self._hup = True
            if self.supervisor is not None:
                self.supervisor.wake()

        previous = {
            signal.SIGTERM: signal.signal(signal.SIGTERM, stop),
            signal.SIGINT: signal.signal(signal.SIGINT, stop),
            signal.SIGHUP: signal.signal(signal.SIGHUP, hup),
        }
        try:
            yield
        finally:
            for sig, old in previous.items():
                signal.signal(sig, old)

    def _record(self) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "host": hostname(),
            "since": _time(self.up_since),
            "home": str(self.home.resolve()),
            "config": [str(Path(p).resolve()) for p in self.config],
            "max_parallel": self.max_parallel,
        }


def _freeze() -> None:
    """What the start or an apply left (the job table, caches, which live as long as the
    daemon) is left out of the cyclic collector's later full passes, which would
    otherwise stop the loop for tens of milliseconds; reference counting still frees
    what is dropped. Collected first, so that no garbage cycle is frozen with it (the
    applier's fork lifts the freeze; this sets it again)."""
    gc.collect()
    gc.freeze()


def _give_back_memory() -> None:
    """Return freed heap to the system (glibc keeps it otherwise): the daemon's resident
    size stays what it holds, not the peak of its largest apply."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _took(seconds: float) -> str:
    return f"{seconds:.2f}s" if seconds < 60 else format_seconds(int(seconds))


def _time(at: datetime) -> str:
    return format_timestamp(at.replace(microsecond=0))
