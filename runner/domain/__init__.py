"""The domain after loading: typed states and views that every layer above the language
passes around instead of plain strings and dicts."""

from __future__ import annotations

from runner.domain.states import (
    ACTIVE_RUN_STATES,
    ENDED_RUN_STATES,
    ENDED_TASK_STATES,
    MAX_ID,
    RunState,
    TaskState,
)

__all__ = [
    "ACTIVE_RUN_STATES",
    "ENDED_RUN_STATES",
    "ENDED_TASK_STATES",
    "MAX_ID",
    "RunState",
    "TaskState",
]
