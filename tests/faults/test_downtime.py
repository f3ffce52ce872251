"""Downtime across many ticks under each catch-up policy (SPEC 2.3): a daemon stops and
starts again N ticks later. `none` makes no catch-up run, `latest` one for the most
recent tick, `all` one for each, at most 100, run one after another, oldest first; the
ticks not run are counted as missed ("catchup"). Driven in-process on a fake clock, so
no real time passes; the tasks are real processes and the store is real."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults.scenarios import downtime, expected_catchup

pytestmark = pytest.mark.faults


@pytest.mark.parametrize(
    ("policy", "ticks"),
    [
        ("none", 30),
        ("latest", 30),
        ("all", 30),
        ("latest", 1),
        ("all", 1),
        pytest.param("all", 120, marks=pytest.mark.slow),  # 100 runs, the cap
    ],
)
def test_downtime_is_caught_up_as_the_policy_says(tmp_path: Path, policy: str, ticks: int) -> None:
    tally = downtime(tmp_path, policy, ticks)
    assert tally.clean, tally
    assert tally.runs == expected_catchup(policy, ticks), tally
