"""Configuration faults around a running run (issue 17), see tests/faults/jobs.py: a job
deleted or held while it runs, symlink loops in the folder."""

from __future__ import annotations

import pytest

from tests.faults.jobs import deleted_while_running, held_while_running, symlink_loops
from tests.faults.scenarios import FaultEnv

pytestmark = pytest.mark.faults


def test_a_job_deleted_while_its_run_runs_goes_once_the_run_ends(fenv: FaultEnv) -> None:
    tally = deleted_while_running(fenv, cycles=1)
    assert tally.clean, tally
    assert (tally.faults, tally.runs) == (1, 1)


@pytest.mark.parametrize("how", ["runtime", "config"])
def test_a_hold_placed_while_a_job_runs_applies_from_its_next_task(
    fenv: FaultEnv, how: str
) -> None:
    tally = held_while_running(fenv, cycles=1, how=how)
    assert tally.clean, tally
    assert (tally.faults, tally.runs) == (1, 1)


def test_symlink_loops_are_named_once_and_the_real_files_applied_once(fenv: FaultEnv) -> None:
    tally = symlink_loops(fenv)
    assert tally.clean, tally
