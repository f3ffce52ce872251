"""What happened, in order: the events `GET /v1/events` streams (runs' and tasks'
states, holds, configurations applied, ticks that made no run), by id."""

from __future__ import annotations

from runner.ops.common import Home, opened_store
from runner.store.events import PAGE, StoredEvent


def events_after(
    home: Home, after: int, *, job: str | None = None, run: int | None = None, limit: int = PAGE
) -> list[StoredEvent]:
    """The events after id `after` (of one job, or one run), oldest first."""
    with opened_store(home) as store:
        return store.events_after(after, job=job, run_id=run, limit=limit)


def newest_event(home: Home) -> int:
    """The newest event's id: a stream that starts now starts after it."""
    with opened_store(home) as store:
        return store.last_event_id()
