"""Configuration faults (issue 17), see tests/faults/config.py."""

from __future__ import annotations

import pytest

from tests.faults.config import hostile
from tests.faults.scenarios import FaultEnv

pytestmark = pytest.mark.faults


def test_hostile_configuration_is_named_and_the_valid_files_apply(fenv: FaultEnv) -> None:
    tally = hostile(fenv, files=1000)
    assert tally.clean, tally
