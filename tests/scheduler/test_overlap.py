"""The one overlap rule (SPEC 2.3): each policy against the job's active runs, for any new
run (a live tick, a follow-up, a manual trigger), and the admission side of it."""

from __future__ import annotations

import pytest

from runner.domain.jobs import schedule_view
from runner.domain.runs import ActiveRun
from runner.scheduler.overlap import (
    QUEUE_FULL,
    SKIPPED,
    Overlap,
    cancel_reason,
    decide_overlap,
    must_wait,
    policy_of,
)

RUNNING = ActiveRun(id=41, job="j", revision=1, state="running")
WAITING = ActiveRun(id=42, job="j", revision=1, state="scheduled")


@pytest.mark.parametrize(
    ("policy", "active", "expected"),
    [
        ("skip", [], Overlap("skip", create=True)),
        ("skip", [RUNNING], Overlap("skip", False, dropped_by=(RUNNING,), code=SKIPPED)),
        ("skip", [WAITING], Overlap("skip", False, dropped_by=(WAITING,), code=SKIPPED)),
        ("queue", [], Overlap("queue", create=True)),
        ("queue", [RUNNING], Overlap("queue", True, waits_for=(RUNNING,))),
        (
            "queue",
            [RUNNING, WAITING],
            Overlap("queue", False, dropped_by=(WAITING,), code=QUEUE_FULL),
        ),
        (
            "cancel-running",
            [RUNNING],
            Overlap("cancel-running", True, cancel=(RUNNING,), waits_for=(RUNNING,)),
        ),
        (
            "cancel-running",
            [RUNNING, WAITING],
            Overlap(
                "cancel-running", True, cancel=(RUNNING, WAITING), waits_for=(RUNNING, WAITING)
            ),
        ),
        ("allow", [RUNNING, WAITING], Overlap("allow", create=True)),
    ],
    ids=[
        "skip-idle",
        "skip-running",
        "skip-waiting",
        "queue-idle",
        "queue-one-waits",
        "queue-second-dropped",
        "cancel-running",
        "cancel-running-and-waiting",
        "allow",
    ],
)
def test_decide_overlap(policy: str, active: list[ActiveRun], expected: Overlap[ActiveRun]) -> None:
    assert decide_overlap(policy, active) == expected


@pytest.mark.parametrize(
    ("schedule", "override", "expected"),
    [
        ({}, None, "skip"),
        ({"overlap": "queue"}, None, "queue"),
        ({"overlap": "queue"}, "allow", "allow"),
        ({"overlap": None}, None, "skip"),
    ],
)
def test_policy_of_a_trigger(schedule: dict[str, str], override: str | None, expected: str) -> None:
    assert policy_of(schedule_view(schedule), override) == expected


def test_the_cancel_reason_names_what_cancels() -> None:
    assert cancel_reason("run 42") == "cancelled by run 42 (overlap: cancel-running)"


@pytest.mark.parametrize(
    ("policy", "trigger", "running", "expected"),
    [
        ("skip", "schedule", 0, False),
        ("skip", "schedule", 1, True),
        ("queue", "manual", 1, True),
        ("allow", "schedule", 2, False),
        ("allow", "catchup", 1, True),  # catch-up runs one after another, always
        ("allow", "catchup", 0, False),
    ],
)
def test_must_wait_for_the_running_run(
    policy: str, trigger: str, running: int, expected: bool
) -> None:
    assert must_wait(policy, trigger=trigger, running=running) is expected
