"""What a live tick does while a run of its job is scheduled or running (SPEC 2.3).

`skip` drops the tick; `queue` lets one run wait (a second waiting one is dropped);
`cancel-running` cancels what is active and starts anew; `allow` runs beside it. A
dropped tick is counted as missed for "overlap". Catch-up runs do not come here: they
run one after another whatever the policy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from runner.domain.runs import ActiveRun


@dataclass(frozen=True, slots=True)
class OnTick:
    create: bool  # make the tick's run (it may wait for a slot or for the active run)
    cancel: tuple[int, ...] = ()  # runs to cancel first (cancel-running)
    missed: str | None = None  # why the tick made no run


def on_tick(policy: str, active: Sequence[ActiveRun]) -> OnTick:
    if not active or policy == "allow":
        return OnTick(create=True)
    if policy == "cancel-running":
        return OnTick(create=True, cancel=tuple(r.id for r in active))
    if policy == "queue" and not any(r.state == "scheduled" for r in active):
        return OnTick(create=True)
    return OnTick(create=False, missed="overlap")
