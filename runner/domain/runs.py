"""Runs as the plan and the scheduler see them: which are in progress on which
revision, and the holds placed on jobs at run time (SPEC 1.3). The store makes them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class ActiveRun:
    id: int
    job: str
    revision: int
    state: str  # a RunState: scheduled | running


@dataclass(frozen=True, slots=True, kw_only=True)
class RuntimeHold:
    job: str  # "" for a freeze by label (`runner hold --selector`)
    name: str
    reason: str | None = None
    selector: dict[str, str] | None = None  # the labels it covers, when by selector

    @property
    def target(self) -> str:
        """What it covers, as shown: the job, or the labels it selects by."""
        if self.selector is None:
            return self.job
        return ",".join(f"{k}={v}" for k, v in sorted(self.selector.items()))

    def covers(self, name: str, labels: dict[str, str]) -> bool:
        if self.selector is None:
            return self.job == name
        return all(labels.get(k) == v for k, v in self.selector.items())
