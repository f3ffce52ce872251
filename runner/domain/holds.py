"""Which jobs a `Hold` resource covers (SPEC 1.3): one rule for the plan's "covers"
note, `runner jobs`, `runner status` and the daemon."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runner.spec.references import labels_match


def hold_covers(hold: Mapping[str, Any], job: Mapping[str, Any]) -> bool:
    """Whether a (normalised) Hold resource covers a (normalised) job: by name in its
    `jobs`, or by its label selector."""
    return covers(hold, name=job.get("name"), labels=job.get("labels") or {})


def covers(hold: Mapping[str, Any], *, name: str | None, labels: Mapping[str, str]) -> bool:
    """Whether a (normalised) Hold resource covers the job `name` with these labels."""
    if name in (hold.get("jobs") or []):
        return True
    return labels_match((hold.get("selector") or {}).get("labels"), labels)
