"""Starting scheduled runs, on every pass of the loop: the queue read (or known from a
prepared tick), `admit` deciding from it, the runs it discards cancelled, what waits
said once, and the runs it lets start handed to the executor."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime

from runner.config.secrets import job_secrets
from runner.daemon.executor import fatal_store_errors
from runner.daemon.parts import LoopPart, LoopParts
from runner.domain import RunState
from runner.domain.jobs import JobView, job_view
from runner.executors.graph import TaskGraph
from runner.executors.order import RunOrder, order_from_view
from runner.executors.slots import Slots
from runner.runs.holds import held_tasks, run_held
from runner.runs.retry import retry_order
from runner.scheduler.admit import FREE_SLOT, admit
from runner.scheduler.jobs import Job
from runner.scheduler.tick import TickReport
from runner.store import QueuedRun
from runner.store.queue import QueueState

FULL_LOOK = 1.0  # the store's generation and the queue are read at least this often


class SlotGate:
    """Admission's question for a job with `maxParallel` or pools: whether a queued run
    could start a first task now, counting the slots the runs admitted before it in this
    pass will take. A run that could not waits `scheduled`, saying for which slot."""

    def __init__(self, slots: Slots, order_of: Callable[[QueuedRun], RunOrder]) -> None:
        self.slots = slots
        self.order_of = order_of
        self.taken: Counter[str] = Counter()

    def __call__(self, job: Job, run: QueuedRun) -> str | None:
        if not job.view.limited:
            return None
        order = self.order_of(run)
        first = TaskGraph(order.tasks, order.selected, order.kept).ready()
        tasks = {t.name: t for t in order.tasks}
        waits = []
        for name in first:
            task = tasks[name]
            wait = None if task.kind == "manual" else self.slots.wait_for(order, task, self.taken)
            if wait is None:
                self.taken[f"job:{order.job}"] += 1
                if task.pool is not None:
                    self.taken[f"pool:{task.pool}"] += 1
            waits.append(wait)
        return waits[0] if waits and all(w is not None for w in waits) else None


class Starts(LoopPart):
    def __init__(self, parts: LoopParts) -> None:
        super().__init__(parts)
        self.runs: dict[int, tuple[str, datetime]] = {}  # run id -> (job, started)
        self.wake_at: datetime | None = None  # when a waiting run may start (a hold, jitter)
        self._waiting: dict[int, str] = {}  # what each waiting run was last logged waiting for
        self._admitted_at = float("-inf")  # when the queue was last read (monotonic)
        self.runtime: set[str] = set()  # the jobs with a runtime hold ("": a freeze)
        self._runtime_pokes = -1  # the executor's wake-ups when `runtime` was read

    def admit(self, now: datetime, known: QueueState | None = None) -> list[RunOrder]:
        """Start what may start; the runs started. `known`: the queue as it stands, when
        a prepared tick says so (else it is read)."""
        free = self.supervisor.free_slots()
        mono = self.clock.monotonic()
        if free <= 0 and mono - self._admitted_at < FULL_LOOK:
            return []  # nothing can start: the queue is looked at again when a slot frees
        self._admitted_at = mono
        state = known or self.store.queue_state()
        self.wake_at = None
        if state.queued:
            self.runtime, self._runtime_pokes = state.held_jobs, self.supervisor.pokes
        if not state.queued:
            return []
        self.supervisor.slots.pools = self.jobs.pools
        admission = admit(
            state.queued,
            jobs=self.jobs.jobs,
            active=state.active,
            preceding=state.preceding,
            held=lambda job, run: self._held(job, run, state.held_jobs, now),
            free=free,
            now=now,
            slots=SlotGate(self.supervisor.slots, self._order),
        )
        self.wake_at = admission.wake_at
        for run, reason in admission.discard:
            if self.store.request_cancel(run.id, now=now, reason=reason) == RunState.SCHEDULED:
                self.say.run_discarded(run.id, job=run.job, reason=reason)
        changed = {
            run_id: why
            for run_id, why in admission.waiting.items()
            if self._waiting.get(run_id) != why and not why.startswith("jitter")
        }
        for run_id, why in changed.items():
            self.say.run_waiting(run_id, why)
        # said in the run too (`status`), but for a wait for --max-parallel, which passes
        # as soon as tasks end and, for a thousand runs due at once, would be a thousand
        # writes
        self.store.note_waiting({i: w for i, w in changed.items() if w != FREE_SLOT})
        self._waiting = dict(admission.waiting)
        if not admission.start:
            return []
        return self._start([self._order(r) for r in admission.start], now)

    def _start(self, orders: list[RunOrder], now: datetime) -> list[RunOrder]:
        for order in orders:
            self.runs[order.run_id] = (order.job, now)
        # the start's first write takes the runs
        with fatal_store_errors(self.supervisor, self.store.where):
            taken = self.supervisor.start(*orders)
        for run_id in taken:
            self.runs.pop(run_id, None)
        return [order for order in orders if order.run_id not in taken]

    def queue_with(self, queue: QueueState, report: TickReport | None) -> QueueState | None:
        """The queue read before a prepared tick, with the runs its tick made (if it
        made any): what the store holds now, as nothing else was written since; None
        (read it) when the tick asked for cancels."""
        if report is None:
            return queue
        if report.cancelled:
            return None
        made = report.created
        if any(c.run_id in self.runs or c.run_id in self.supervisor.runs for c in made):
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
        return run_held(
            self.store,
            job=job.view,
            holds=self.jobs.holds.values(),
            runtime=runtime,
            selected=run.selected,
            now=now,
        )

    def held_whole(self, job: JobView, now: datetime) -> bool:
        """Whether a hold keeps every run of `job` from starting now (a freeze, a hold on
        the job): asked by a tick with missed ticks to catch up, so the holds are read."""
        self.runtime = {h.job for h in self.store.runtime_holds()}
        self._runtime_pokes = self.supervisor.pokes
        reason, _ = run_held(
            self.store,
            job=job,
            holds=self.jobs.holds.values(),
            runtime=self.runtime,
            selected=None,
            now=now,
        )
        return reason is not None

    def holds_of(self, order: RunOrder) -> dict[str, tuple[str, datetime | None]]:
        """The executor's question: which tasks of a run holds keep from starting now.
        The runtime holds are read again once another process has woken the daemon
        (`runner hold`, `runner release`) since they were last read."""
        job = self.jobs.jobs.get(order.job)
        if job is None:
            return {}
        if self._runtime_pokes != self.supervisor.pokes:
            self.runtime = {h.job for h in self.store.runtime_holds()}
            self._runtime_pokes = self.supervisor.pokes
        held = held_tasks(
            self.store,
            job=job.view,
            holds=self.jobs.holds.values(),
            runtime=self.runtime,
            selected=order.selected,
            now=self.clock.now(),
        )
        return {name: (h.reason, h.until) for name, h in held.items()}

    def _order(self, run: QueuedRun) -> RunOrder:
        job = self.jobs.jobs[run.job]
        if run.retried is not None:  # it goes on: the tasks that ended stay so
            record = self.store.run(run.id)
            order = record and retry_order(self.store, record, source_file=job.source_file)
            if order:
                return order
        view = job.view if job.revision == run.revision else self._view(run)
        return order_from_view(
            view,
            run_id=run.id,
            revision=run.revision,
            trigger=run.trigger,
            due=run.due,
            source_file=job.source_file,
            selected=run.selected,
            run_env=run.env,
            secrets=job_secrets(view, job.source_file),
        )

    def _view(self, run: QueuedRun) -> JobView:
        """The view of the revision a run was made for, when the job was applied again
        since (rare): made from the spec the cache keeps of that revision."""
        return job_view(self.specs.get(run.job, run.revision))
