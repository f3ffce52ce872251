"""The order of a run's tasks (SPEC 1.2), as a pure state machine.

A task is ready when every task in its `after` is satisfied: succeeded, skipped, or
failed with `continueOnError`. A task whose predecessor failed otherwise (or was
cancelled) is skipped, and so on down the graph. Inactive tasks and, with
`runner run --task`, tasks not selected are skipped from the start and satisfy their
followers, so the selected tasks run in their written order.
"""

from __future__ import annotations

from collections.abc import Sequence

from runner.executors.order import TaskSpec

ENDED = frozenset({"success", "failed", "cancelled", "skipped"})


class TaskGraph:
    def __init__(self, tasks: Sequence[TaskSpec], selected: frozenset[str] | None) -> None:
        self.tasks = {t.name: t for t in tasks}
        self._ended = 0
        self.order = [t.name for t in tasks]
        self.position = {name: i for i, name in enumerate(self.order)}
        self.state: dict[str, str] = dict.fromkeys(self.order, "pending")
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
        self._ready: set[str] = {n for n in self.order if self.waiting_on[n] == 0}
        for t in tasks:
            if not t.active:
                self._end(t.name, "skipped", "inactive (active: false)")
            elif selected is not None and t.name not in selected:
                self._end(t.name, "skipped", "not selected")

    def initially_skipped(self) -> list[tuple[str, str]]:
        return [(n, self.reason[n] or "") for n in self.order if self.state[n] == "skipped"]

    def ready(self) -> list[str]:
        """Pending tasks whose predecessors are all satisfied, in written order."""
        found = [n for n in self._ready if self.state[n] == "pending"]
        return sorted(found, key=self.position.__getitem__)

    def start(self, name: str, state: str = "running") -> None:
        """A task leaves `pending` (running, waiting, retrying), or comes back to it."""
        self.state[name] = state
        self.reason[name] = None
        if state == "pending" and self.waiting_on[name] == 0:
            self._ready.add(name)
        else:
            self._ready.discard(name)

    def finish(self, name: str, state: str, reason: str | None = None) -> list[tuple[str, str]]:
        """Record that a task ended; return the tasks now skipped because of it."""
        self._end(name, state, reason)
        if self._satisfied(name):
            return []
        skipped: list[tuple[str, str]] = []
        blocked = [name]
        while blocked:  # `after` may name a task written below, so follow the edges
            pred = blocked.pop(0)
            for n in self.followers[pred]:
                if self.state[n] == "pending":
                    self._end(n, "skipped", f"preceding task {pred} {self.state[pred]}")
                    skipped.append((n, self.reason[n] or ""))
                    blocked.append(n)
        return sorted(skipped, key=lambda s: self.position[s[0]])

    def cancel_pending(self, state: str, reason: str) -> list[str]:
        """Every task not running now (pending, waiting, or waiting to retry) becomes
        `state`: cancelled by a cancel, skipped when the run timed out."""
        names = [n for n in self.order if self.state[n] in ("pending", "waiting", "retrying")]
        for n in names:
            self._end(n, state, reason)
        return names

    def done(self) -> bool:
        return self._ended == len(self.order)

    def failures(self) -> list[str]:
        return [n for n in self.order if self.state[n] == "failed"]

    def _satisfied(self, name: str) -> bool:
        state = self.state[name]
        return state in ("success", "skipped") or (
            state == "failed" and self.tasks[name].continue_on_error
        )

    def _end(self, name: str, state: str, reason: str | None) -> None:
        if self.state[name] not in ENDED:
            self._ended += 1
        self.state[name] = state
        self.reason[name] = reason
        self._ready.discard(name)
        if self._satisfied(name):
            for n in self.followers[name]:
                self.waiting_on[n] -= 1
                if self.waiting_on[n] == 0:
                    self._ready.add(n)
