"""The HTTP API under bad tokens, oversized bodies, malformed input, slow clients and
load (issue 17), see tests/faults/api.py: one round against a real daemon."""

from __future__ import annotations

import pytest

from tests.faults.api import hostile_api
from tests.faults.rawhttp import MB
from tests.faults.scenarios import FaultEnv

pytestmark = pytest.mark.faults


def test_the_api_refuses_bad_input_and_keeps_ticking_under_load(fenv: FaultEnv) -> None:
    tally = hostile_api(fenv, 1, big=30 * MB, slow_s=2, load_s=2)
    assert tally.faults > 100
    assert tally.delays["load"]["samples"] > 0, tally.delays
    assert tally.clean, tally.problems
