"""What a new run of a job does while a run of that job is scheduled or running
(SPEC 2.3): the one overlap rule, for live ticks, follow-ups and manual triggers alike.

`skip` drops the new run; `queue` lets one run wait behind the active ones (a second
waiting one is dropped); `cancel-running` cancels what is active and starts anew;
`allow` runs beside it. A dropped tick or follow-up is counted as missed for
"overlap"; a dropped manual trigger is refused with the outcome's `code`. Catch-up runs
do not come here: they run one after another whatever the policy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from runner.domain import RunState
from runner.domain.jobs import ScheduleView

POLICIES = ("skip", "queue", "cancel-running", "allow")
DEFAULT = "skip"
MISSED = "overlap"  # the reason a dropped tick is counted under
SKIPPED = "overlap-skip"  # codes of a dropped trigger
QUEUE_FULL = "overlap-queue-full"


class Active(Protocol):
    """An active run as the rule sees it: its state (scheduled or running)."""

    @property
    def state(self) -> str: ...


A = TypeVar("A", bound=Active)


@dataclass(frozen=True, slots=True)
class Overlap(Generic[A]):
    """The outcome for one new run, in terms of the active runs it was given."""

    policy: str
    create: bool  # False: the new run is dropped
    cancel: tuple[A, ...] = ()  # to cancel before it starts (cancel-running)
    waits_for: tuple[A, ...] = ()  # what it starts after: those it queues behind or cancels
    dropped_by: tuple[A, ...] = ()  # when dropped: the active runs that drop it
    code: str | None = None  # when dropped: SKIPPED or QUEUE_FULL


@dataclass(frozen=True, slots=True)
class Cancel:
    """An active run to cancel for a new one (cancel-running), with the reason it ends with."""

    run_id: int
    reason: str


def policy_of(schedule: ScheduleView, override: str | None = None) -> str:
    """The policy for one trigger: its override (`--overlap`), else the job's."""
    return override or schedule.overlap or DEFAULT


def decide_overlap(policy: str, active: Sequence[A]) -> Overlap[A]:
    """What a new run does about `active`, the job's runs now scheduled or running."""
    if not active or policy == "allow":
        return Overlap(policy, create=True)
    runs = tuple(active)
    if policy == "cancel-running":
        return Overlap(policy, create=True, cancel=runs, waits_for=runs)
    waiting = tuple(r for r in runs if r.state == RunState.SCHEDULED)
    if policy == "queue" and not waiting:
        return Overlap(policy, create=True, waits_for=runs)
    if policy == "queue":
        return Overlap(policy, create=False, dropped_by=waiting, code=QUEUE_FULL)
    return Overlap(policy, create=False, dropped_by=runs, code=SKIPPED)


def cancel_reason(by: str) -> str:
    """The reason an active run is cancelled with: `by` says what cancels it ("run 42",
    "the tick at ...", "a follow-up of run 41 of load")."""
    return f"cancelled by {by} (overlap: cancel-running)"


def must_wait(policy: str, *, trigger: str, running: int) -> bool:
    """Whether a scheduled run waits for the job's `running` runs to end before it
    starts: one at a time unless `allow`, and catch-up runs always one after another."""
    return running > 0 and (policy != "allow" or trigger == "catchup")
