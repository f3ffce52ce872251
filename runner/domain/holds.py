"""Which jobs a `Hold` resource covers (SPEC 1.3): one rule for the plan's "covers"
note, `runner jobs`, `runner status` and the daemon."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
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


def parse_until(until: str) -> datetime:
    """A hold's `until` (an ISO 8601 time, `Z` for UTC) as a datetime."""
    return datetime.fromisoformat(until.replace("Z", "+00:00"))


def released_by(
    hold: Mapping[str, Any],
    *,
    now: datetime,
    dependency_met: Callable[[Mapping[str, Any]], bool],
) -> list[str]:
    """What has released a hold (SPEC 1.3): its `until` passed, its `dependsOn` met;
    empty while it is active. `dependency_met` reads the runs only when asked."""
    until = hold.get("until")
    depends = hold.get("dependsOn")
    released = []
    if until and parse_until(until) <= now:
        released.append(f"until {until} has passed")
    if depends and dependency_met(depends):
        released.append(f"{dependency(depends)} succeeded")
    return released


def dependency(depends: Mapping[str, Any]) -> str:
    task = depends.get("task")
    return f"task {task} of {depends['job']}" if task else f"job {depends['job']}"
