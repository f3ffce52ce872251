"""Each overlap policy, for a live tick, against the job's active runs (SPEC 2.3)."""

from __future__ import annotations

import pytest

from runner.domain.runs import ActiveRun
from runner.scheduler.overlap import OnTick, on_tick

RUNNING = ActiveRun(id=41, job="j", revision=1, state="running")
WAITING = ActiveRun(id=42, job="j", revision=1, state="scheduled")


@pytest.mark.parametrize(
    ("policy", "active", "expected"),
    [
        ("skip", [], OnTick(create=True)),
        ("skip", [RUNNING], OnTick(create=False, missed="overlap")),
        ("skip", [WAITING], OnTick(create=False, missed="overlap")),
        ("queue", [RUNNING], OnTick(create=True)),
        ("queue", [RUNNING, WAITING], OnTick(create=False, missed="overlap")),
        ("cancel-running", [RUNNING], OnTick(create=True, cancel=(41,))),
        ("cancel-running", [RUNNING, WAITING], OnTick(create=True, cancel=(41, 42))),
        ("allow", [RUNNING, WAITING], OnTick(create=True)),
    ],
    ids=[
        "skip-idle",
        "skip-running",
        "skip-waiting",
        "queue-one-waits",
        "queue-second-dropped",
        "cancel-running",
        "cancel-running-and-waiting",
        "allow",
    ],
)
def test_on_tick(policy: str, active: list[ActiveRun], expected: OnTick) -> None:
    assert on_tick(policy, active) == expected
