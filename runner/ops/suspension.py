"""suspend and resume (issue 16): stop and restart applying new configurations (the
daemon's applies of what changed, `runner apply`, and later git sync), with a reason.
Runs go on. A suspension lives in the store, so it survives restarts and every daemon
on the store sees it; `status`, `plan` and the API show it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runner.clock import Clock, SystemClock
from runner.errors import UsageError
from runner.ops.audit import record
from runner.ops.common import Home, opened_store, wake_daemon
from runner.ops.identity import Actor, local_actor
from runner.spec.types import format_timestamp


@dataclass(frozen=True, slots=True)
class Suspension:
    """What suspend or resume did: the suspension now (None: applying goes on) and the
    one before."""

    now: dict[str, Any] | None
    before: dict[str, Any] | None

    def as_json(self) -> dict[str, Any]:
        return {"suspended": self.now, "before": self.before}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Suspension:
        return cls(data.get("suspended"), data.get("before"))


def suspend(
    home: Home, reason: str, *, actor: Actor | None = None, clock: Clock | None = None
) -> Suspension:
    """Suspend applying, saying why (a second suspend replaces the reason)."""
    if not reason.strip():
        raise UsageError('suspend needs a reason: --reason "..." (shown with the suspension)')
    clock, actor = clock or SystemClock(), actor or local_actor()
    info = {"reason": reason, "by": actor.who, "at": format_timestamp(clock.now())}
    with opened_store(home) as store:
        before = store.set_suspension(info, now=clock.now(), by=actor.who)
        record(store, actor, "suspend", status="ok", clock=clock, detail=reason)
    return Suspension(info, before)


def resume(home: Home, *, actor: Actor | None = None, clock: Clock | None = None) -> Suspension:
    """Resume applying; a daemon on the home applies what changed meanwhile at once."""
    clock, actor = clock or SystemClock(), actor or local_actor()
    with opened_store(home) as store:
        before = store.set_suspension(None, now=clock.now(), by=actor.who)
        record(store, actor, "resume", status="ok", clock=clock, detail=None)
    wake_daemon(home.path)
    return Suspension(None, before)


def describe(info: Mapping[str, Any]) -> str:
    """`suspended by ana at 2026-12-05T12:00:00Z: REASON`."""
    return f"suspended by {info.get('by')} at {info.get('at')}: {info.get('reason')}"
