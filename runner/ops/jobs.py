"""jobs (SPEC 6): the applied jobs, as `runner jobs` lists them and the API will."""

from __future__ import annotations

from collections.abc import Mapping

from runner.domain import RunState
from runner.ops.common import Home, now, opened_store
from runner.reconciler.inventory import JobSummary, list_jobs


def jobs(
    home: Home, *, labels: Mapping[str, str] | None = None, state: str | None = None
) -> list[JobSummary]:
    """The applied jobs; with `labels`, those carrying all of them; with `state`, those
    whose last run is in that state (an unknown state is a usage error)."""
    if state is not None and state not in set(RunState):
        from runner.runs.reading import unknown_state  # only here: `jobs` is read often

        raise unknown_state(state)
    with opened_store(home) as store:
        return list_jobs(store, now=now(), labels=dict(labels or {}), state=state)
