"""Holds on the tasks of a run under way (SPEC 1.3): a held task does not start when its
turn comes; it waits as `held`, saying what releases it, while the run's other tasks go
on, and holds no slot. The executor asks whoever drives it (`HoldsOf`) which tasks are
held: when a run starts, when told to look again (a hold placed or released, a
configuration applied, a run ended that a `dependsOn` waits for), and at the earliest
`until` of the holds on it, to the second; it never polls."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from runner.domain import TaskState
from runner.executors import journal as j
from runner.executors.order import RunOrder
from runner.executors.runstate import ActiveRun

if TYPE_CHECKING:
    from runner.executors.supervisor import Supervisor

# The tasks of a run that holds keep from starting now: why, and when the earliest
# `until` among those holds passes (None: none has one).
HoldsOf = Callable[[RunOrder], Mapping[str, tuple[str, datetime | None]]]
SOONEST = 0.01  # a look again at an `until` that has not quite passed by this clock


def look(sup: Supervisor, run: ActiveRun) -> None:
    """Which of the run's tasks are held now: those no longer held are released (they
    start as their order allows), the others say why; the next look is timed for the
    earliest `until`."""
    if sup.holds_of is None or run.ending is not None:
        return
    held = sup.holds_of(run.order)
    run.held = {name: why for name, (why, _) in held.items()}
    run_id = run.order.run_id
    for name, state in run.graph.state.items():
        if state != TaskState.HELD:
            continue
        if name not in run.held:
            run.graph.start(name, TaskState.PENDING)
            sup._buffer.append(j.TaskSet(run_id, name, TaskState.PENDING, None))
        elif run.graph.reason[name] != run.held[name]:
            run.graph.reason[name] = run.held[name]
            sup._buffer.append(j.TaskSet(run_id, name, TaskState.HELD, run.held[name]))
    if run.hold_timer is not None:
        run.hold_timer.cancel()
        run.hold_timer = None
    untils = [until for _, until in held.values() if until is not None]
    if untils:
        wait = max(SOONEST, (min(untils) - sup.clock.now()).total_seconds())
        run.hold_timer = sup._timers.after(wait, lambda: look(sup, run))


def hold_if_held(sup: Supervisor, run: ActiveRun, name: str) -> bool:
    """A task whose turn came: True, and it waits `held`, when a hold is on it."""
    why = run.held.get(name)
    if why is None:
        return False
    run.graph.start(name, TaskState.HELD)
    run.graph.reason[name] = why
    sup._buffer.append(j.TaskSet(run.order.run_id, name, TaskState.HELD, why))
    return True
