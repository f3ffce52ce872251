"""The executor: runs the task graphs of any number of runs on one thread.

One selector waits on every running task (a pidfd each), on wake-ups from other
threads, signal handlers and processes, and on the nearest timer (a task's timeout, a
retry's backoff, a kill's grace, the heartbeat). Each pass records the changes it saw
in one durable journal write, then acts: starts the tasks that became ready, as many
as the free slots allow, writing each start before spawning it.

Call `start` and `poll` from one thread; `request_cancel` and `wake` from anywhere.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

from runner.clock import Clock
from runner.domain import RunState, TaskState
from runner.executors import actions, holding
from runner.executors import journal as j
from runner.executors.graph import RETRYING, TaskGraph
from runner.executors.logs import LogFiles
from runner.executors.order import RunOrder
from runner.executors.process import Programs, SpawnFailed, spawn
from runner.executors.refusals import of, without
from runner.executors.runstate import ActiveRun, Attempt, finished, outcome, seconds, verdict
from runner.executors.slots import Slots
from runner.executors.timers import Timers
from runner.system.failpoints import failpoint
from runner.system.procs import ProcessId, group_alive, kill_group, myself

KILL_GRACE = 10.0
LINGER_AFTER_KILL = 2.0  # how long a SIGKILLed group may take to be gone
HEARTBEAT = 5.0  # also how often the store is asked for cancels, should a wake-up be lost


class Supervisor:
    def __init__(
        self,
        *,
        journal: j.Journal,
        logs: LogFiles,
        clock: Clock,
        max_parallel: int | None = None,
        kill_grace: float = KILL_GRACE,
        heartbeat: float = HEARTBEAT,
        base_env: Mapping[str, str] | None = None,
        owner: ProcessId | None = None,
        listener: Any = None,
        observer: Callable[[Sequence[j.Change]], None] | None = None,
        holds_of: holding.HoldsOf | None = None,
    ) -> None:
        self.journal = journal
        self.logs = logs
        self.clock = clock
        self.max_parallel = max_parallel or (os.cpu_count() or 1)
        self.kill_grace = kill_grace
        self.heartbeat = heartbeat
        self.base_env = dict(os.environ if base_env is None else base_env)
        self.owner = owner or myself()
        self.observer = observer
        self.holds_of = holds_of  # which tasks of a run holds keep from starting
        self.slots = Slots()  # jobs' maxParallel and Pools (set `slots.pools`)
        self.runs: dict[int, ActiveRun] = {}
        self._taken: set[int] = set()  # runs `start` was given that were not to be taken
        self._buffer: list[j.Change] = []
        self._attempts: dict[int, Attempt] = {}  # by pidfd
        self._programs = Programs()  # found once for a pass's spawns
        self._leftovers: set[int] = set()  # groups of ended tasks, sent SIGTERM
        self._killed: dict[int, float] = {}  # ... and when they were sent SIGKILL
        self._timers = Timers(clock)
        self._requests: deque[tuple[int, str]] = deque()
        self._answering: set[int] = set()  # task actions answered once carried out
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._selector.register(self._wake_r, selectors.EVENT_READ, self._drain_wake)
        self._listener = listener
        self.pokes = 0  # wake-ups from other processes (their changes are in the store)
        if listener is not None:
            self._selector.register(listener, selectors.EVENT_READ, self._external_wake)
        self._timers.after(heartbeat, self._heartbeat)

    # --- from any thread ------------------------------------------------------------

    def wake(self) -> None:
        with contextlib.suppress(BlockingIOError):  # full: a wake-up is already pending
            os.write(self._wake_w, b"!")

    def request_cancel(self, run_id: int, reason: str) -> None:
        """Cancel a run (safe from a signal handler or another thread)."""
        self._requests.append((run_id, reason))
        self.wake()

    # --- from the loop's thread -------------------------------------------------------

    def start(self, *orders: RunOrder) -> set[int]:
        """Start runs: their first tasks' starts are written in one journal write, which
        also takes them; the ids of those that were not to be taken (cancelled, or
        another runner's since they were read), which do not start."""
        self._taken = set()
        for order in orders:
            graph = TaskGraph(order.tasks, order.selected, order.kept)
            run = ActiveRun(
                order=order, graph=graph, attempts=dict(order.attempts), limited=order.limited
            )
            self.runs[order.run_id] = run
            self._buffer.append(j.RunStarted(order.run_id, self.clock.now(), self.owner))
            for name, reason in run.graph.initially_skipped():
                self._buffer.append(j.TaskSet(order.run_id, name, TaskState.SKIPPED, reason))
            if order.timeout:
                run.timers.append(self._timers.after(order.timeout, self._time_out_later(run)))
            holding.look(self, run)
        self._settle()
        return self._taken

    def listen(self) -> None:
        """Hear the wake-ups from other processes that came since the last wait, as
        the wait would have (they count in `pokes`; a cancel they ask for is done)."""
        if self._listener is not None and (heard := self._listener.drain()):
            self.pokes += heard
            self.check_cancels()
            self.look_at_holds()

    def check_cancels(self) -> None:
        """Look in the journal for cancels and task actions asked for by others, and
        carry them out."""
        self._look_for_requests()
        self._handle_requests()
        self._settle()

    def look_at_holds(self) -> None:
        """Holds were placed or released (a configuration applied, a run ended that a
        `dependsOn` may wait for): which tasks are held is asked again for every run."""
        for run in list(self.runs.values()):
            holding.look(self, run)
        self._settle()

    def free_slots(self) -> int:
        """Tasks that could start now under `max_parallel`."""
        return self.max_parallel - len(self._attempts)

    def shutdown(self, reason: str, grace: float) -> None:
        """Stop every run (a daemon's SIGTERM): nothing new starts, running tasks get
        SIGTERM and, `grace` seconds later, SIGKILL; the runs end `cancelled`."""
        self.kill_grace = grace
        for pid in self._leftovers:  # their kill grace may outlast the daemon's
            self._timers.after(grace, partial(self._kill_leftovers, pid))
        for attempt in self._attempts.values():  # stopping already (a cancel): the same
            if attempt.stopping and attempt.child is not None:
                kill = partial(kill_group, attempt.child.pid, signal.SIGKILL)
                attempt.timers.append(self._timers.after(grace, kill))
        for run in list(self.runs.values()):
            self._cancel(run, reason)
        self._settle()

    def poll(self, timeout: float | None = None) -> None:
        """Wait for something to happen (at most `timeout` seconds), then handle it."""
        wait = self._timers.until_next()
        if timeout is not None:
            wait = timeout if wait is None else min(wait, timeout)
        for key, _ in self._selector.select(wait):
            key.data(key)
        self._timers.fire()
        self._handle_requests()
        self._settle()

    def run_until_done(
        self, poll: float = 0.05, on_linger: Callable[[int], None] | None = None
    ) -> None:
        """Run until every run has ended and what their tasks left behind is gone (or
        got its SIGKILL after the grace), so that a foreground runner leaves nothing.
        `on_linger` hears how many process groups it is still waiting for."""
        while self.runs:
            self.poll()
        self._leftovers = {p for p in self._leftovers if group_alive(p)}
        if self._leftovers and on_linger is not None:
            on_linger(len(self._leftovers))
        while self._leftovers:
            self.poll(poll)
            now = self.clock.monotonic()
            self._leftovers = {
                p
                for p in self._leftovers
                if group_alive(p) and now - self._killed.get(p, now) < LINGER_AFTER_KILL
            }

    def kill_everything(self) -> None:
        """Last resort (a second Ctrl-C, a store gone): SIGKILL every task's group."""
        for attempt in self._attempts.values():
            if attempt.child is not None:
                kill_group(attempt.child.pid, signal.SIGKILL)
        for pid in self._leftovers:
            self._kill_leftovers(pid)

    def close(self) -> None:
        self._selector.close()
        os.close(self._wake_r)
        os.close(self._wake_w)

    # --- the pass: record, then act ----------------------------------------------------

    def _settle(self) -> None:
        """Write what happened, then start what became ready, until nothing changes."""
        while True:
            self._end_finished_runs()
            launches = self._launches()
            if not launches:
                self._flush()
                return
            for attempt in launches:
                self._buffer.append(
                    j.AttemptStarted(
                        attempt.run.order.run_id,
                        attempt.task.name,
                        attempt.number,
                        self.clock.now(),
                        attempt.log,
                    )
                )
            self._flush()
            failpoint("run-started")
            for attempt in launches:
                if attempt.run.order.run_id in self._taken:  # never started
                    self.slots.give_back(attempt.run.order, attempt.task)
            launches = [a for a in launches if a.run.order.run_id not in self._taken]
            self._programs.forget()
            for attempt in launches:
                self._spawn(attempt)
            for attempt in launches:  # their start times once all started (`read_started`)
                if attempt.child is not None:
                    self._buffer.append(
                        j.AttemptSpawned(
                            attempt.run.order.run_id,
                            attempt.task.name,
                            attempt.number,
                            attempt.child.pid,
                            attempt.child.read_started(),
                        )
                    )

    def _flush(self) -> None:
        if not self._buffer:
            return
        changes, self._buffer = self._buffer, []
        try:
            self.journal.write(changes)
        except j.RunsTaken as refused:  # not ours: forget them, write the rest
            self._forget(refused.run_ids)
            self._buffer = [without(c, refused.run_ids) for c in changes if not of(c, refused)]
            self._flush()
            return
        if self.observer is not None:
            try:
                self.observer(changes)
            except Exception:  # a closed stdout, say: watching must not break the run
                self.observer = None

    def _forget(self, run_ids: frozenset[int]) -> None:
        """Runs about to start that were not ours to start: nothing of them ran."""
        self._taken.update(run_ids)
        for run_id in run_ids:
            run = self.runs.pop(run_id, None)
            if run is not None:
                run.cancel_timers()

    def _launches(self) -> list[Attempt]:
        free = self.max_parallel - len(self._attempts)
        out: list[Attempt] = []
        for run in list(self.runs.values()):
            if run.ending:
                continue
            for name in run.graph.ready():
                task = run.graph.tasks[name]
                if holding.hold_if_held(self, run, name):
                    continue
                if task.kind == "manual":
                    run.graph.start(name, TaskState.WAITING)
                    self._buffer.append(
                        j.TaskSet(
                            run.order.run_id,
                            name,
                            TaskState.WAITING,
                            task.prompt or "waiting for finish",
                        )
                    )
                    continue
                if free <= 0:
                    continue
                wait = self.slots.wait_for(run.order, task) if run.limited else None
                if wait is not None:
                    if run.graph.reason[name] != wait:  # said once
                        run.graph.reason[name] = wait
                        self._buffer.append(
                            j.TaskSet(run.order.run_id, name, TaskState.PENDING, wait)
                        )
                    continue
                free -= 1
                self.slots.take(run.order, task)
                number = run.attempts.get(name, 0) + 1
                run.attempts[name] = number
                run.graph.start(name)
                key = self.logs.key(run.order.job, run.order.run_id, name, number)
                attempt = Attempt(run=run, task=task, number=number, log=key)
                run.running[name] = attempt
                out.append(attempt)
        return out

    def _spawn(self, attempt: Attempt) -> None:
        order, task = attempt.run.order, attempt.task
        try:
            log_fd = self.logs.open_for_attempt(attempt.log)
        except OSError as exc:
            reason = f"cannot open its log {self.logs.path(attempt.log)}: {exc.strerror or exc}"
            self._attempt_over(attempt, 126, reason)
            return
        try:
            child = spawn(
                task.command,
                cwd=order.task_workdir(task),
                env=order.task_env(task, attempt=attempt.number, base=self.base_env),
                log_fd=log_fd,
                shown=task.shown,
                programs=self._programs,
                user=task.user,
                group=task.group,
            )
        except SpawnFailed as failed:
            os.write(log_fd, f"runner: {failed.reason}\n".encode())
            self._attempt_over(attempt, failed.exit_code, failed.reason)
            return
        finally:
            os.close(log_fd)
        attempt.child = child
        self._attempts[child.pidfd] = attempt
        self._selector.register(child.pidfd, selectors.EVENT_READ, self._child_ended)
        if task.timeout:
            attempt.timers.append(
                self._timers.after(task.timeout, lambda: self._stop(attempt, "timeout"))
            )

    # --- ends -----------------------------------------------------------------------

    def _child_ended(self, key: selectors.SelectorKey) -> None:
        attempt = self._attempts.pop(key.fd)
        self._selector.unregister(key.fd)
        assert attempt.child is not None
        pid = attempt.child.pid
        code = attempt.child.reap()
        failpoint("task-ended")
        if group_alive(pid):  # what the task left running goes with it
            kill_group(pid, signal.SIGTERM)
            self._leftovers.add(pid)
            self._timers.after(self.kill_grace, lambda: self._kill_leftovers(pid))
        self._attempt_over(attempt, code, None)

    def _kill_leftovers(self, pid: int) -> None:
        kill_group(pid, signal.SIGKILL)
        self._killed[pid] = self.clock.monotonic()

    def _attempt_over(self, attempt: Attempt, code: int, failure: str | None) -> None:
        self.logs.settle(attempt.log)  # its output is in the file before its end is written
        run, task = attempt.run, attempt.task
        for timer in attempt.timers:
            timer.cancel()
        run.running.pop(task.name, None)
        self.slots.give_back(run.order, task)
        state, reason = outcome(attempt, code, failure)
        retry_in = None
        limit = task.retries.limit
        if state == TaskState.FAILED and run.ending is None and attempt.number <= limit:
            retry_in = task.retries.wait(attempt.number)
            reason = f"{reason}; retry {attempt.number} of {limit} in {seconds(retry_in)}"
            run.graph.start(task.name, RETRYING)
            run.retries[task.name] = self._timers.after(
                retry_in, lambda: self._retry(run, task.name)
            )
        self._buffer.append(
            j.AttemptEnded(
                run.order.run_id,
                task.name,
                attempt.number,
                self.clock.now(),
                None if failure is not None else code,
                reason,
                state,
                TaskState.PENDING if retry_in is not None else state,
                retry_in,
            )
        )
        if state == TaskState.STOPPED:
            actions.stopped(self, run, task.name, attempt.answer, reason or "")
        elif retry_in is None:
            for name, why in run.graph.finish(task.name, state, reason):
                self._buffer.append(j.TaskSet(run.order.run_id, name, TaskState.SKIPPED, why))

    def _retry(self, run: ActiveRun, name: str) -> None:
        run.retries.pop(name, None)
        if run.ending is None:
            run.graph.start(name, TaskState.PENDING)

    def _end_finished_runs(self) -> None:
        for run_id, run in list(self.runs.items()):
            if run.running or run.retries or not run.graph.done():
                continue
            run.cancel_timers()
            del self.runs[run_id]
            state, reason = run.ending or verdict(run.graph)
            self._buffer.append(j.RunEnded(run_id, run.order.job, state, reason, self.clock.now()))

    # --- cancel and timeouts --------------------------------------------------------

    def _handle_requests(self) -> None:
        while self._requests:
            run_id, reason = self._requests.popleft()
            run = self.runs.get(run_id)
            if run is not None:
                self._cancel(run, reason)

    def _cancel(self, run: ActiveRun, reason: str) -> None:
        """End a run `cancelled` unless it is already ending or every task has ended."""
        if run.ending is None and not finished(run):
            self._end_early(
                run, RunState.CANCELLED, reason, pending_become=TaskState.CANCELLED, why="cancel"
            )

    def _time_out_later(self, run: ActiveRun) -> Callable[[], None]:
        return lambda: self._time_out_run(run)

    def _time_out_run(self, run: ActiveRun) -> None:
        if run.ending is None and run.order.run_id in self.runs and not finished(run):
            reason = f"run timed out after {seconds(run.order.timeout or 0)}"
            self._end_early(
                run, RunState.FAILED, reason, pending_become=TaskState.SKIPPED, why="run-timeout"
            )

    def _end_early(
        self, run: ActiveRun, state: str, reason: str, *, pending_become: str, why: str
    ) -> None:
        run.ending = (state, reason)
        for timer in run.retries.values():
            timer.cancel()
        run.retries.clear()
        for name in run.graph.cancel_pending(pending_become, reason):
            self._buffer.append(j.TaskSet(run.order.run_id, name, pending_become, reason))
        self._flush()  # the states are written before the tasks are killed
        for attempt in list(run.running.values()):
            self._stop(attempt, why)

    def _stop(self, attempt: Attempt, why: str) -> None:
        """SIGTERM the task's group; SIGKILL it if it is still there after the grace."""
        if attempt.child is None or attempt.stopping:
            return
        attempt.stopping = why
        pid = attempt.child.pid
        kill_group(pid, signal.SIGTERM)
        attempt.timers.append(
            self._timers.after(self.kill_grace, lambda: kill_group(pid, signal.SIGKILL))
        )

    # --- wake-ups, heartbeat and timers ----------------------------------------------

    def _drain_wake(self, key: selectors.SelectorKey) -> None:
        with contextlib.suppress(BlockingIOError):
            while os.read(self._wake_r, 4096):
                pass

    def _external_wake(self, key: selectors.SelectorKey) -> None:
        self.pokes += self._listener.drain()
        self._look_for_requests()
        for run in list(self.runs.values()):  # a hold placed or released, maybe
            holding.look(self, run)

    def _look_for_requests(self) -> None:
        """Cancels asked for by others (carried out with the next requests handled), and
        task actions, carried out now."""
        ids = [i for i, r in self.runs.items() if r.ending is None]
        for run_id, reason in self.journal.cancel_requests(ids).items():
            self._requests.append((run_id, reason))
        for request in self.journal.task_requests(list(self.runs)):
            if request.id not in self._answering:
                actions.carry_out(self, request)

    def _heartbeat(self) -> None:
        if self.runs:
            self._buffer.append(j.Heartbeat(tuple(self.runs), self.clock.now()))
            self._look_for_requests()
        self._timers.after(self.heartbeat, self._heartbeat)

    def next_timer(self) -> float:
        """Seconds until the nearest timer (a timeout, a retry, the heartbeat)."""
        wait = self._timers.until_next()
        return float("inf") if wait is None else wait
