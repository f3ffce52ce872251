"""The plan: the pure diff of the normalised specs in the folder against what the store
last applied (`diff`), as typed changes with their effects. Side effects live in the
reconciler; the text and JSON forms live with the CLI and the operations."""

from __future__ import annotations

from runner.plan.diff import (
    Action,
    Applied,
    Change,
    Desired,
    FieldChange,
    Note,
    Plan,
    PlanContext,
    SkippedFile,
    diff,
    field_changes,
)

__all__ = [
    "Action",
    "Applied",
    "Change",
    "Desired",
    "FieldChange",
    "Note",
    "Plan",
    "PlanContext",
    "SkippedFile",
    "diff",
    "field_changes",
]
