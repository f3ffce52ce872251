"""The daemon's view of the applied jobs: their specs and when each one's next tick
falls, so that a tick looks only at the jobs that are due. A cache of the store,
rebuilt whenever the store's configuration generation moves; the store stays the
truth (SPEC 9): the tick itself reads each due job's cursor from it."""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from runner.runs.afterwards import followers_of
from runner.scheduler.decide import ticks
from runner.scheduler.tick import schedule_digest
from runner.store import Store


@dataclass(frozen=True, slots=True)
class Job:
    name: str
    revision: int
    spec: Mapping[str, Any]
    source_file: str
    deleting: bool

    @property
    def schedule(self) -> Mapping[str, Any]:
        return self.spec.get("schedule") or {}

    @property
    def auto(self) -> bool:
        return self.schedule.get("mode") == "auto" and not self.deleting


class JobTable:
    def __init__(self) -> None:
        self.jobs: dict[str, Job] = {}
        self.followers: dict[str, list[str]] = {}
        self.holds: dict[str, Mapping[str, Any]] = {}  # the Hold resources, by name
        self.generation = -1
        self._next: dict[str, datetime] = {}
        self._heap: list[tuple[datetime, str]] = []

    def load(self, store: Store, *, now: datetime) -> None:
        """Read every applied job; a job whose cursor is behind (or new, or whose
        schedule changed) is due now, so that the tick decides its catch-up."""
        self.generation = store.generation()
        everything = store.resources()
        found = [r for r in everything if r.kind == "Job"]
        holds = [("Hold", r.name) for r in everything if r.kind == "Hold" and not r.deleting]
        self.holds = {name: spec for (_, name), spec in store.specs(holds).items()}
        specs = store.specs(("Job", r.name) for r in found)
        self.jobs = {
            r.name: Job(
                r.name, r.revision, specs.get(("Job", r.name)) or {}, r.source_file, r.deleting
            )
            for r in found
        }
        self.followers = followers_of(j.spec for j in self.jobs.values() if not j.deleting)
        cursors = store.cursors()
        self._next = {}
        for job in self.jobs.values():
            if not job.auto:
                continue
            cursor = cursors.get(job.name)
            if cursor is None or cursor.schedule_digest != schedule_digest(dict(job.schedule)):
                self._next[job.name] = now
                continue
            following = next(ticks(job.schedule, after=min(cursor.cursor, now)), None)
            if following is not None:
                self._next[job.name] = following
        self._heap = [(due, name) for name, due in self._next.items()]
        heapq.heapify(self._heap)

    def due(self, now: datetime) -> list[str]:
        """The jobs whose next tick has come."""
        out = []
        while self._heap and self._heap[0][0] <= now:
            due, name = heapq.heappop(self._heap)
            if self._next.get(name) == due:
                out.append(name)
                del self._next[name]
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
