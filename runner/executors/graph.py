"""The order of a run's tasks (SPEC 1.2), as a pure state machine.

A task is ready when every task in its `after` is satisfied: succeeded, skipped, or
failed with `continueOnError`. A task whose predecessor failed otherwise (or was
cancelled) is skipped, and so on down the graph. Inactive tasks and, with
`runner run --task`, tasks not selected are skipped from the start but stay in the
graph as pass-throughs: each is satisfied once its own predecessors are, so the tasks
around it keep their order (`a -> b (inactive) -> c` runs c after a), and a failure
before it still stops what follows it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from runner.domain import ENDED_TASK_STATES, TaskState
from runner.executors.order import TaskSpec

# The states as module names: the executor asks the graph on every pass, and reading a
# member off its enum class costs about 0.25 µs on Python 3.11 (a name, nothing).
PENDING, RUNNING, SKIPPED = TaskState.PENDING, TaskState.RUNNING, TaskState.SKIPPED
SUCCESS, FAILED = TaskState.SUCCESS, TaskState.FAILED
RETRYING = "retrying"  # the graph's own: waiting out a retry's backoff (the store: pending)
# Not running and not ended: what a cancel ends (a stopped task waits, SPEC 3.1).
NOT_STARTED = frozenset({PENDING, TaskState.HELD, TaskState.WAITING, RETRYING, TaskState.STOPPED})


class TaskGraph:
    def __init__(
        self,
        tasks: Sequence[TaskSpec],
        selected: frozenset[str] | None,
        kept: Mapping[str, tuple[str, str | None]] | None = None,
    ) -> None:
        """`kept`: tasks that already ended in an earlier go of the run (`runner
        retry`), with their state and reason: they stay so, and satisfy their
        followers as they did."""
        self.tasks = {t.name: t for t in tasks}
        self.order = [t.name for t in tasks]
        self.position = {name: i for i, name in enumerate(self.order)}
        self.state: dict[str, str] = dict.fromkeys(self.order, PENDING)
        self.reason: dict[str, str | None] = dict.fromkeys(self.order)
        # Kept as the graph changes, so that finding ready tasks costs nothing per pass:
        # how many predecessors each task still waits on, and who follows whom.
        self.followers: dict[str, list[str]] = {name: [] for name in self.order}
        self.waiting_on: dict[str, int] = {}
        for t in tasks:
            preds = [a for a in dict.fromkeys(t.after) if a in self.tasks]
            self.waiting_on[t.name] = len(preds)
            for a in preds:
                self.followers[a].append(t.name)
        self._ended = 0
        self._ready: set[str] = set()
        self._passing: set[str] = set()  # pass-throughs not yet satisfied
        self._blocked: set[str] = set()  # pass-throughs behind a failure
        for t in tasks:
            if not t.active:
                self._skip_from_start(t.name, "inactive (active: false)")
            elif selected is not None and t.name not in selected:
                self._skip_from_start(t.name, "not selected")
        # (an inactive or unselected task is the graph's own pass-through, as before)
        kept = {n: how for n, how in (kept or {}).items() if n in self.tasks}
        kept = {n: how for n, how in kept.items() if n not in self._passing}
        for name, (state, reason) in kept.items():
            self._end(name, state, reason)
        for name in self.order:
            if self.waiting_on[name] == 0:
                self._unblocked(name)
        for name in kept:
            if self._satisfied(name):
                self._release_followers(name)

    def initially_skipped(self) -> list[tuple[str, str]]:
        return [(n, self.reason[n] or "") for n in self.order if self.state[n] == SKIPPED]

    def ready(self) -> list[str]:
        """Pending tasks whose predecessors are all satisfied, in written order."""
        found = [n for n in self._ready if self.state[n] == PENDING]
        return sorted(found, key=self.position.__getitem__)

    def start(self, name: str, state: str = RUNNING) -> None:
        """A task leaves `pending` (running, waiting, retrying), or comes back to it."""
        self.state[name] = state
        self.reason[name] = None
        if state == PENDING and self.waiting_on[name] == 0:
            self._ready.add(name)
        else:
            self._ready.discard(name)

    def finish(self, name: str, state: str, reason: str | None = None) -> list[tuple[str, str]]:
        """Record that a task ended; return the tasks now skipped because of it."""
        self._end(name, state, reason)
        if self._satisfied(name):
            self._release_followers(name)
            return []
        skipped: list[tuple[str, str]] = []
        why = f"preceding task {name} {state}"  # the cause, all the way down
        blocked = [name]
        while blocked:  # `after` may name a task written below, so follow the edges
            pred = blocked.pop(0)
            for n in self.followers[pred]:
                if n in self._passing:
                    self._passing.discard(n)
                    self._blocked.add(n)
                    blocked.append(n)
                elif self.state[n] == PENDING:
                    self._end(n, SKIPPED, why)
                    skipped.append((n, self.reason[n] or ""))
                    blocked.append(n)
        return sorted(skipped, key=lambda s: self.position[s[0]])

    def cancel_pending(self, state: str, reason: str) -> list[str]:
        """Every task not running now (pending, held, waiting, stopped, or waiting to
        retry) becomes `state`: cancelled by a cancel, skipped when the run timed out."""
        names = [n for n in self.order if self.state[n] in NOT_STARTED]
        for n in names:
            self._end(n, state, reason)
        return names

    def done(self) -> bool:
        return self._ended == len(self.order)

    def failures(self) -> list[str]:
        return [n for n in self.order if self.state[n] == FAILED]

    def _satisfied(self, name: str) -> bool:
        state = self.state[name]
        if state == SKIPPED:
            return name not in self._passing and name not in self._blocked
        return state == SUCCESS or (state == FAILED and self.tasks[name].continue_on_error)

    def _skip_from_start(self, name: str, reason: str) -> None:
        self._end(name, SKIPPED, reason)
        self._passing.add(name)

    def _end(self, name: str, state: str, reason: str | None) -> None:
        if self.state[name] not in ENDED_TASK_STATES:
            self._ended += 1
        self.state[name] = state
        self.reason[name] = reason
        self._ready.discard(name)

    def _release_followers(self, name: str) -> None:
        for n in self.followers[name]:
            self.waiting_on[n] -= 1
            if self.waiting_on[n] == 0:
                self._unblocked(n)

    def _unblocked(self, name: str) -> None:
        """Every predecessor of `name` is satisfied: it is ready, or, a pass-through,
        satisfied itself."""
        if name in self._passing:
            self._passing.discard(name)
            self._release_followers(name)
        elif self.state[name] == PENDING:
            self._ready.add(name)
