"""What is left of a journal write's changes once the store refused some runs (taken
by another runner): the refused runs' changes are dropped, their ids taken out of a
heartbeat."""

from __future__ import annotations

from runner.executors import journal as j


def of(change: j.Change, refused: j.RunsTaken) -> bool:
    return getattr(change, "run_id", None) in refused.run_ids


def without(change: j.Change, run_ids: frozenset[int]) -> j.Change:
    if isinstance(change, j.Heartbeat):
        return j.Heartbeat(tuple(i for i in change.run_ids if i not in run_ids), change.at)
    return change
