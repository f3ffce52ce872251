"""Slots beyond the executor's `max_parallel`: a job's `maxParallel` (its tasks at once,
across its runs) and named Pools, whose slots the tasks of every job that names one
share (a database that takes four loads at a time). A task whose turn came but finds
no slot stays `pending`, saying for which, and starts when one is given back."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from runner.executors.order import RunOrder, TaskSpec


class Slots:
    def __init__(self) -> None:
        self.pools: Mapping[str, int] = {}  # each Pool's slots, by name
        self.by_job: Counter[str] = Counter()  # tasks running, of each job
        self.by_pool: Counter[str] = Counter()  # ... and holding a slot of each pool

    def wait_for(
        self, order: RunOrder, task: TaskSpec, taken: Counter[str] | None = None
    ) -> str | None:
        """Why the task cannot start now for want of a slot (None: it can). `taken`:
        slots counted as taken beyond the running tasks (`job:NAME`, `pool:NAME`)."""
        extra = taken or Counter()
        limit = order.max_parallel
        if limit is not None and self.by_job[order.job] + extra[f"job:{order.job}"] >= limit:
            return f"waiting for a slot: job {order.job} runs at most {limit} task(s) at once"
        pool = task.pool
        size = self.pools.get(pool) if pool is not None else None
        if pool is not None and size is not None:
            used = self.by_pool[pool] + extra[f"pool:{pool}"]
            if used >= size:
                return f"waiting for a slot in pool {pool} ({used} of {size} in use)"
        return None

    def take(self, order: RunOrder, task: TaskSpec) -> None:
        self.by_job[order.job] += 1
        if task.pool is not None:
            self.by_pool[task.pool] += 1

    def give_back(self, order: RunOrder, task: TaskSpec) -> None:
        self.by_job[order.job] -= 1
        if self.by_job[order.job] <= 0:
            del self.by_job[order.job]
        if task.pool is not None:
            self.by_pool[task.pool] -= 1
            if self.by_pool[task.pool] <= 0:
                del self.by_pool[task.pool]
