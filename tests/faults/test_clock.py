"""Clock faults (issue 17): the wall clock stepped forward and back by an hour and by a
day while the daemon runs. See tests/faults/clock.py for what is counted."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults.clock import STEPS, sigstop, wall_step
from tests.faults.scenarios import FaultEnv

pytestmark = pytest.mark.faults


def _cases() -> list[object]:
    cases: list[object] = []
    for policy in ("none", "all"):  # bench/faults.py adds `latest`
        for step in STEPS:
            if policy == "all" and step == "+1d":
                continue  # 100 catch-up runs, the cap: test_downtime has it; the bench runs it
            cases.append(pytest.param(policy, step, id=f"{policy}{step}"))
    return cases


@pytest.mark.parametrize(("policy", "step"), _cases())
def test_a_wall_clock_step_neither_doubles_nor_bursts_nor_stops_the_daemon(
    tmp_path: Path, policy: str, step: str
) -> None:
    tally = wall_step(tmp_path, step, policy)
    assert tally.clean, tally


def test_a_daemon_stopped_with_sigstop_goes_on_and_catches_the_stop_up(fenv: FaultEnv) -> None:
    """SIGSTOP for 5 s with a job every second: no exit, each tick of the stop run
    once (`catchup: all`)."""
    tally = sigstop(fenv, 1, seconds=5.0)
    assert tally.clean, tally
