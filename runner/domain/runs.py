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
    job: str
    name: str
    reason: str | None = None
