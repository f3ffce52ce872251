"""The daemon's view of the applied jobs: their specs and when each one's next tick
falls, so that a tick looks only at the jobs that are due. A cache of the store,
rebuilt whenever the store's configuration generation moves; the store stays the
truth (SPEC 9): the tick itself reads each due job's cursor from it."""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from runner.domain.jobs import JobView, JobViews, ScheduleView
from runner.scheduler.decide import ticks
from runner.store import Cursor, Store, StoredResource


def followers_of(specs: Iterable[Mapping[str, Any]]) -> dict[str, list[str]]:
    """job -> the jobs that name it in their `after`, in name order."""
    return _followers((spec["name"], spec.get("after") or ()) for spec in specs)


def _followers(jobs: Iterable[tuple[str, Iterable[str]]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, after in jobs:
        for before in after:
            out.setdefault(str(before), []).append(name)
    return {job: sorted(names) for job, names in out.items()}


def _chunks(items: list[StoredResource], size: int) -> Iterator[list[StoredResource]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass(frozen=True, slots=True)
class Job:
    """An applied job: its view (made once per revision) and where it stands."""

    name: str
    revision: int
    view: JobView
    source_file: str
    deleting: bool

    @property
    def schedule(self) -> ScheduleView:
        return self.view.schedule

    @property
    def auto(self) -> bool:
        return self.view.schedule.auto and not self.deleting


class JobTable:
    def __init__(self) -> None:
        self.jobs: dict[str, Job] = {}
        self.followers: dict[str, list[str]] = {}
        self.holds: dict[str, Mapping[str, Any]] = {}  # the Hold resources, by name
        self.pools: dict[str, int] = {}  # the Pool resources' slots, by name
        self.views = JobViews()  # each job's view, made once per revision
        self.generation = -1
        self.loads = 0  # how many times it was read: what a reader of it before can compare
        self._next: dict[str, datetime] = {}
        self._heap: list[tuple[datetime, str]] = []

    def load(self, store: Store, *, now: datetime, names: Sequence[str] | None = None) -> None:
        """Read the applied jobs (all of them, or those named: what an apply changed),
        with each one's next tick: from its cursor, or (new, or its schedule changed)
        from when it was applied; one that has passed makes the job due now, so that
        the tick decides its catch-up."""
        self.loads += 1
        self.generation = store.generation()
        everything = store.resources(names=names)
        found = [r for r in everything if r.kind == "Job"]
        if names is None or any(r.kind == "Hold" for r in everything):
            holds = [("Hold", r.name) for r in store.resources("Hold") if not r.deleting]
            self.holds = {name: spec for (_, name), spec in store.specs(holds).items()}
        if names is None or any(r.kind == "Pool" for r in everything):
            pools = [("Pool", r.name) for r in store.resources("Pool") if not r.deleting]
            self.pools = {name: int(s["slots"]) for (_, name), s in store.specs(pools).items()}
        if names is None:
            self.jobs = {}
        else:
            for name in names:
                self.jobs.pop(name, None)
                self._next.pop(name, None)
        cursors = store.cursors([r.name for r in found] if names is not None else None)
        for chunk in _chunks(found, 500):  # never every spec in memory at once
            unseen = [("Job", r.name) for r in chunk if self.views.kept(r.name, r.revision) is None]
            specs = store.specs(unseen) if unseen else {}  # only the revisions not viewed yet
            fresh = []  # new jobs, changed schedules: their ticks start when applied
            for r in chunk:
                view = self.views.of(r.name, r.revision, specs.get(("Job", r.name)) or {})
                job = Job(r.name, r.revision, view, r.source_file, r.deleting)
                self.jobs[r.name] = job
                cursor = cursors.get(r.name)
                if job.auto and (cursor is None or cursor.schedule_digest != job.schedule.digest):
                    fresh.append(job)
                else:
                    self._first_tick(job, cursor, now)
            applied = store.applied_at([j.name for j in fresh]) if fresh else {}
            for job in fresh:
                self._first_tick_since(job, applied.get(job.name), now)
        self.followers = _followers(
            (j.name, j.view.after) for j in self.jobs.values() if not j.deleting
        )
        self.views.forget(set(self.jobs))  # the deleted jobs'
        self._heap = [(due, name) for name, due in self._next.items()]
        heapq.heapify(self._heap)

    def _first_tick(self, job: Job, cursor: Cursor | None, now: datetime) -> None:
        if not job.auto or cursor is None:
            return
        following = next(ticks(job.schedule, after=min(cursor.cursor, now)), None)
        if following is not None:
            self._next[job.name] = following

    def _first_tick_since(self, job: Job, applied: datetime | None, now: datetime) -> None:
        """A job with no cursor for its schedule: its ticks count from when it was
        applied (what the tick takes as its cursor). One that passed already is due now,
        for the tick to decide its catch-up; otherwise nothing is written until then
        (a start on 10,000 new jobs ticks none of them)."""
        since = min(applied or now, now)
        following = next(ticks(job.schedule, after=since), None)
        if following is not None:
            self._next[job.name] = now if following <= now else following

    def due(self, now: datetime) -> list[str]:
        """The jobs whose next tick has come."""
        out = []
        while self._heap and self._heap[0][0] <= now:
            due, name = heapq.heappop(self._heap)
            if self._next.get(name) == due:
                out.append(name)
                del self._next[name]
        return out

    def due_by(self, at: datetime) -> list[str]:
        """The jobs whose next tick falls by `at`, left in place (`due` takes them)."""
        out, heap, stack = [], self._heap, [0]
        while stack:  # the heap's nodes by `at`: a node's children fall no earlier
            i = stack.pop()
            if i < len(heap) and heap[i][0] <= at:
                due, name = heap[i]
                if self._next.get(name) == due:
                    out.append(name)
                stack += (2 * i + 1, 2 * i + 2)
        return out

    def set_next(self, name: str, due: datetime | None) -> None:
        if due is None or name not in self.jobs or not self.jobs[name].auto:
            self._next.pop(name, None)
            return
        self._next[name] = due
        heapq.heappush(self._heap, (due, name))

    def next_tick(self) -> datetime | None:
        while self._heap and self._next.get(self._heap[0][1]) != self._heap[0][0]:
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None
