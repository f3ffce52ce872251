"""The daemon's loop (SPEC 5). One thread does everything that touches the store and the
tasks; it sleeps in one selector (the executor's) until the next tick, a task's end,
a timer, a wake-up from another process, a signal or a change in the folder.

Each pass (`step`): re-apply the folder if it changed (debounced), reload the jobs if
anyone applied, tick the jobs that are due, then start what may start. The order of
events is rebuilt from the store each time, so a restart, or a crash anywhere, loses
nothing. Its parts: `Ticks` (deciding ticks, and making the next one ready), `Starts`
(admission), `EventWording` (the log's lines), `Memory` (the collector's freeze)."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import traceback
from collections import deque
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Any, Protocol

from runner.clock import Clock
from runner.daemon.applier import ApplyFailed, Outcome, apply_forked, finish
from runner.daemon.eventlog import EventLog
from runner.daemon.executor import DaemonJournal, fatal_store_errors
from runner.daemon.lateness import Lateness
from runner.daemon.lock import HomeLock
from runner.daemon.memory import FREEZE_IDLE, Memory
from runner.daemon.parts import LoopParts
from runner.daemon.specs import SpecCache
from runner.daemon.starts import Starts
from runner.daemon.storewait import journal
from runner.daemon.ticks import Ticks
from runner.daemon.watch import FolderWatch
from runner.daemon.wording import EventWording, whole_seconds
from runner.domain import RunState
from runner.executors import journal as j
from runner.executors.logcap import DEFAULT_MAX_LOG_SIZE
from runner.executors.logs import LogFiles
from runner.executors.order import RunOrder
from runner.executors.supervisor import KILL_GRACE, Supervisor
from runner.runs.afterwards import create_follow_ups, hold_on_failure
from runner.runs.stale import mark_stale_runs
from runner.scheduler.jobs import JobTable
from runner.store import Store, StoreError, StoreLost
from runner.store.daemonlock import StoreDaemonLock
from runner.system.procs import hostname
from runner.system.wakeup import Listener

GRACE = 30.0
DEBOUNCE = 0.1  # a checkout writes its files within milliseconds of each other
RETRY_PASS = 1.0
IDLE_LOOK = 30.0  # a look at the store when nothing woke the loop (a lost wake-up)
TIDY_SLICE = 0.05  # pruning when idle goes on this long at most, and only if it has time
TIDY_AGAIN = 0.1  # and goes on this much later
SHUTDOWN = "daemon shutdown"


class Service(Protocol):
    """Something that runs beside the scheduler (the HTTP API): started once the daemon
    holds its home and has applied the folder, stopped when it stops."""

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def describe(self) -> str: ...


class Daemon:
    # Made by `start`, with the executor they drive:
    journal: DaemonJournal
    starts: Starts
    ticks: Ticks

    def __init__(
        self,
        *,
        store: Store,
        home: Path,
        config: Sequence[str],
        clock: Clock,
        log: EventLog,
        max_parallel: int | None = None,
        max_log_size: int | None = DEFAULT_MAX_LOG_SIZE,
        grace: float = GRACE,
        debounce: float = DEBOUNCE,
        kill_grace: float = KILL_GRACE,
        services: Sequence[Service] = (),
    ) -> None:
        self.store = store
        self.services = list(services)
        self.home = home
        self.config = list(config)
        self.clock = clock
        self.say = EventWording(log)
        self.max_parallel = max_parallel or (os.cpu_count() or 1)
        self.max_log_size = max_log_size  # each attempt's log (None: no cap)
        self.grace = grace
        self.debounce = debounce
        self.kill_grace = kill_grace
        self.jobs = JobTable()
        self.specs = SpecCache(store)
        self.memory = Memory()
        self.changes: deque[j.Change] = deque()
        self._reload_at: float | None = None
        self._hup = False
        self._held_back = False  # a change waits for `runner resume`
        self._stopping: str | None = None
        self._retry_at: float | None = None  # after a failed pass, monotonic
        self._exit_code = 0
        self.lateness = Lateness(self.say, IDLE_LOOK)
        self.supervisor: Supervisor | None = None
        self._runs_ended = 0  # runs ended, for when to ask about holds again
        self._holds_seen: tuple[int, int] = (0, 0)  # (job loads, runs ended) when asked

    # --- from any thread or a signal handler ------------------------------------------

    def folder_changed(self) -> None:
        self._reload_at = self.clock.monotonic() + self.debounce
        if self.supervisor is not None:
            self.supervisor.wake()

    def reapply(self) -> None:
        """Apply the folder again at the next pass, whatever changed (SIGHUP)."""
        self._hup = True
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
                held = StoreDaemonLock.acquire(self.store, on_lost=self._store_taken)
                try:
                    return self._run()
                finally:
                    held.release()
            finally:
                lock.release()

    def _store_taken(self, why: str) -> None:  # from the store lock's thread
        self.say.store_taken(why)
        self._exit_code = 1
        self.stop("another daemon took the store")

    def _run(self) -> int:
        listener = Listener(self.home)
        watch: FolderWatch | None = None
        try:
            self.start(listener)
            for service in self.services:
                service.start()
                self.say.service_up(service.describe())
            watch = FolderWatch(self.config, self.folder_changed)
            watch.start()
            self.store.record_daemon(self._record())
            self.say.daemon_up(
                pid=os.getpid(),
                home=self.home,
                config=self.config,
                jobs=len(self.jobs.jobs),
                max_parallel=self.max_parallel,
            )
            while self._stopping is None:
                self.step()
                self.wait()
            self._shut_down(self._stopping)
        finally:
            for service in self.services:
                with contextlib.suppress(Exception):
                    service.stop()
            if watch is not None:
                watch.stop()
            with contextlib.suppress(Exception):
                self.store.record_daemon(None) if not self._exit_code else None
            if self.supervisor is not None:
                self.supervisor.close()
            listener.close()
        return self._exit_code

    def start(self, listener: Listener) -> None:
        """What `run` does before its loop: the executor opened (woken by other
        processes through `listener`), the last daemon's runs found stale, the folder
        applied, the jobs read."""
        supervisor = self._open_executor(listener)
        parts = LoopParts(
            store=self.store,
            clock=self.clock,
            jobs=self.jobs,
            supervisor=supervisor,
            specs=self.specs,
            say=self.say,
        )
        self.starts = Starts(parts)
        supervisor.holds_of = self.starts.holds_of
        self.ticks = Ticks(parts, starts=self.starts)
        self._recover()
        self.ticks.up_since = self.clock.now()
        self._apply_at_start()
        self.jobs.load(self.store, now=self.clock.now())
        self.store.warm_up()
        self.memory.freeze()

    def _open_executor(self, listener: Listener) -> Supervisor:
        """The executor the loop drives, and its journal."""
        logs = LogFiles(self.home, max_size=self.max_log_size)
        self.journal = journal(self.store, logs, self.clock, self.changes, self.lateness)
        self.supervisor = Supervisor(
            journal=self.journal,
            logs=logs,
            clock=self.clock,
            max_parallel=self.max_parallel,
            kill_grace=self.kill_grace,
            listener=listener,
        )
        return self.supervisor

    def step(self) -> None:
        """One pass of the loop, at the clock's time: the folder applied again if asked
        (a change settled, SIGHUP), the jobs read again if another process applied,
        the executor's reports handled, the due jobs ticked, what may start started,
        and the next tick made ready when it is near. A pass that fails (the store
        unreachable for a moment, a bug) is logged and tried again a second later; the
        runs under way go on meanwhile."""
        if self._retry_at is not None and self.clock.monotonic() < self._retry_at:
            return
        self._retry_at = None
        try:
            self._pass()
        except StoreLost:
            raise  # the executor and the store parted: the tasks are killed, we exit
        except ApplyFailed as failed:
            self._apply_failed(failed)
        except StoreError as exc:
            self.say.store_error(exc.message, again=RETRY_PASS)
            self._retry_at = self.clock.monotonic() + RETRY_PASS
        except Exception as exc:  # a bug: keep running what runs, say so loudly
            self.say.internal_error(exc, again=RETRY_PASS)
            traceback.print_exc()
            self._retry_at = self.clock.monotonic() + RETRY_PASS

    def wait(self) -> None:
        """Wait for the next event (a tick, a task's end, a timer, a wake-up, a signal);
        the executor hears what it waited for meanwhile."""
        assert self.supervisor is not None
        with fatal_store_errors(self.supervisor, self.store.where):
            self.supervisor.poll(self._timeout())

    def _apply_at_start(self) -> None:
        """The start's apply; when it fails, the last applied configuration runs, and
        the apply is tried again a second later."""
        try:
            self._apply("start")
        except ApplyFailed as failed:
            self._apply_failed(failed)
        except StoreError:
            raise  # the store cannot be reached at all: say so and exit
        except Exception as exc:  # a bug: run what was applied before, say so loudly
            traceback.print_exc()
            self._apply_failed(ApplyFailed("failed", f"{type(exc).__name__}: {exc}"))

    def _apply_failed(self, failed: ApplyFailed) -> None:
        self.say.apply_failed(failed.status, failed.message, again=RETRY_PASS)
        self._reload_at = self.clock.monotonic() + RETRY_PASS

    def _pass(self) -> None:
        self.ticks.sleep_to_tick()
        mono = self.clock.monotonic()
        self._reload_if_asked(mono)
        now = self.clock.now()
        if self.lateness.look(now, self.ticks):  # the clock stepped back
            self.jobs.load(self.store, now=now)
        if self.ticks.applied_elsewhere(mono):
            self.jobs.load(self.store, now=now)
        self._handle_changes()
        self._look_at_holds()
        started = self._tick_and_start(now)
        self._handle_changes()
        self._look_at_holds()
        if (not started and self._idle_for() > TIDY_SLICE) or self.journal.starved():  # prune
            self.journal.tidy(until=self.clock.monotonic() + TIDY_SLICE)
        if self.memory.refreeze_pending and not started and self._idle_for() > FREEZE_IDLE:
            self.memory.refreeze()
        if self._stopping is None:
            self.ticks.prepare()
        self.lateness.went_to_sleep(self.jobs.next_tick())

    def _look_at_holds(self) -> None:
        """After a configuration was read again or a run ended (a `dependsOn` may be
        met), the held tasks of the runs under way are asked about again."""
        marker = (self.jobs.loads, self._runs_ended)
        if marker == self._holds_seen or self.supervisor is None:
            return
        self._holds_seen = marker
        with fatal_store_errors(self.supervisor, self.store.where):
            self.supervisor.look_at_holds()

    def _reload_if_asked(self, mono: float) -> None:
        resumed = self._held_back and self.store.suspension() is None
        if resumed or self._hup or (self._reload_at is not None and mono >= self._reload_at):
            origin = "resume" if resumed else "SIGHUP" if self._hup else "change"
            self._hup, self._reload_at = False, None
            try:
                self._apply(origin)
            except Exception:
                self._reload_at = mono  # not lost: tried again with the next pass
                raise

    def _tick_and_start(self, now: datetime) -> list[RunOrder]:
        """The due jobs ticked (from the prepared tick's reads where they stand), then
        what may start started; the runs started."""
        prepared = self.ticks.take_prepared(now)
        due = self.jobs.due(now)
        report = self.ticks.decide(due, now, prepared) if due else None
        known = self.starts.queue_with(prepared.queue, report) if prepared is not None else None
        started: list[RunOrder] = []
        try:
            if self._stopping is None:
                started = self.starts.admit(now, known)
        finally:  # said once what was due has started: nothing delays the tasks
            if report is not None:
                self.say.ticked(report)
            for order in started:
                self.say.run_started(order)
        return started

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
        tick_wait = self.ticks.wait(now)
        if tick_wait is not None:
            wake.append(tick_wait)
        if self.starts.wake_at is not None:
            wake.append((self.starts.wake_at - now).total_seconds())
        if self._reload_at is not None:
            wake.append(self._reload_at - self.clock.monotonic())
        return max(0.0, min(wake))

    # --- configuration ---------------------------------------------------------------

    def _apply(self, origin: str) -> None:
        suspended = self.store.suspension()
        if suspended is not None:  # the configuration applied last runs on
            if not self._held_back:
                self.say.config_suspended(suspended, origin)
            self._held_back = True
            return
        self._held_back = False
        now = self.clock.now()
        done = apply_forked(self.config, self.store, now=now, origin=f"daemon ({origin})")
        try:
            self._applied(done, origin, now)
        finally:
            finish(done)
            self.memory.freeze_lifted()

    def _applied(self, done: Outcome, origin: str, now: datetime) -> None:
        if done.status == "busy":
            self.say.config_busy(done.message, again=RETRY_PASS)
            self._reload_at = self.clock.monotonic() + RETRY_PASS
            return
        if done.status == "refused":
            self.say.config_refused(done.message)
            return
        if done.status in ("store-error", "failed"):
            raise ApplyFailed(done.status, done.message)
        self.say.config_applied(done, origin)
        if done.written:  # only what changed is read again
            self.jobs.load(self.store, now=now, names=done.names)
            self.memory.give_back()

    # --- what the executor reports -----------------------------------------------------

    def _handle_changes(self) -> None:
        while self.changes:
            change = self.changes[0]  # taken off once handled: a failure tries it again
            if isinstance(change, j.RunStarted):
                self._follow_ups(change)
            elif isinstance(change, j.AttemptEnded):
                self.say.task_ended(
                    change, self.starts.runs.get(change.run_id, ("?", change.at))[0]
                )
            elif isinstance(change, j.RunEnded):
                self._run_ended(change)
            elif isinstance(change, j.TaskSet) and change.state in ("held", "waiting"):
                self.say.task_set(change, self.starts.runs.get(change.run_id, ("?", None))[0])
            self.changes.popleft()

    def _follow_ups(self, started: j.RunStarted) -> None:
        job = self.starts.runs.get(started.run_id, ("", started.at))[0]
        followers = self.jobs.followers.get(job) or []
        if not followers:
            return
        for run_id, name, what in create_follow_ups(
            self.store, run_id=started.run_id, job=job, followers=followers, now=started.at
        ):
            self.say.follow_up(
                run_id=run_id, job=name, what=what, after_run=started.run_id, after_job=job
            )
        if self.supervisor is not None:  # a follower's run cancelled (cancel-running)
            with fatal_store_errors(self.supervisor, self.store.where):
                self.supervisor.check_cancels()

    def _run_ended(self, ended: j.RunEnded) -> None:
        self._runs_ended += 1
        _, started = self.starts.runs.pop(ended.run_id, (ended.job, ended.at))
        self.say.run_ended(ended, started=started)
        if ended.state == RunState.FAILED:
            job = self.jobs.jobs.get(ended.job)
            if job is not None:
                reason = hold_on_failure(self.store, job=job.view, now=ended.at)
                if reason:
                    self.say.hold_placed(ended.job, reason)

    # --- start and stop ----------------------------------------------------------------

    def _recover(self) -> None:
        """The previous daemon's runs (SPEC 5: marked stale at start), retried when their
        tasks had retries left."""
        now = self.clock.now()
        retries: dict[int, int] = {}
        for run_id in mark_stale_runs(self.store, host=hostname(), now=now, retries=retries):
            self.say.run_stale(run_id)
            retry = self.store.run(retries[run_id]) if run_id in retries else None
            if retry is not None:
                self.say.stale_run_retried(retry.id, job=retry.job, stale=run_id)

    def _shut_down(self, why: str) -> None:
        assert self.supervisor is not None
        self.say.stopping(why, active=len(self.supervisor.runs), grace=self.grace)
        with fatal_store_errors(self.supervisor, self.store.where):
            self.supervisor.shutdown(SHUTDOWN, self.grace)
            self._handle_changes()
            while self.supervisor.runs:
                self.supervisor.poll()
                self._handle_changes()
            self.supervisor.run_until_done()
            self.journal.tidy_before_exit()
        self._handle_changes()
        self.say.stopped()

    @contextlib.contextmanager
    def _signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def stop(signum: int, _frame: FrameType | None) -> None:
            self.stop(f"{signal.Signals(signum).name} received")

        def hup(_signum: int, _frame: FrameType | None) -> None:
            self.reapply()

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
            "since": whole_seconds(self.ticks.up_since),
            "home": str(self.home.resolve()),
            "config": [str(Path(p).resolve()) for p in self.config],
            "max_parallel": self.max_parallel,
        }
