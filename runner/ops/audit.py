"""`runner audit` (SPEC 3.1): who did what, when and from where."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from runner.clock import Clock
from runner.ops.common import Home, now, opened_store
from runner.ops.identity import Actor
from runner.runs.reading import parse_time
from runner.spec.durations import parse_seconds
from runner.spec.types import format_timestamp
from runner.store.actions import AuditEntry
from runner.store.interfaces import Actions


def audit(
    home: Home, *, since: str | None = None, who: str | None = None, limit: int = 200
) -> list[dict[str, Any]]:
    """The recorded actions, oldest first (the newest `limit`); `since`: a date, a time,
    or a duration back from now (`2h`, `7d`)."""
    start = None
    if since is not None:
        seconds = parse_seconds(since)
        if seconds is None:
            start = parse_time(since, option="--since")
        else:
            try:
                start = now() - timedelta(seconds=seconds)
            except OverflowError:  # further back than any date: everything
                start = None
    with opened_store(home) as store:
        entries = store.audit(since=start, who=who, limit=limit)
    return [{**e, "time": format_timestamp(e["time"])} for e in entries]


def record(
    store: Actions, actor: Actor, action: str, *, status: str, clock: Clock, **what: Any
) -> None:
    """Record one action, done (`ok`) or `refused`, with who asked and from where;
    `what`: `entry`'s job, run_id, target and detail."""
    store.record_audit(**entry(actor, action, status=status, clock=clock, **what))


def entry(
    actor: Actor,
    action: str,
    *,
    status: str,
    clock: Clock,
    job: str | None = None,
    run_id: int | None = None,
    target: str | None = None,
    detail: str | None = None,
) -> AuditEntry:
    """An audit entry (a row of the audit table), to record with what it tells of."""
    return {
        "time": clock.now(),
        "who": actor.who,
        "origin": actor.origin,
        "action": action,
        "status": status,
        "job": job,
        "run_id": run_id,
        "target": target or None,
        "detail": detail,
    }
