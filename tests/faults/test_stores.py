"""Store faults (issue 17), see tests/faults/stores.py. Two daemons on one store: the
quick form is tests/daemon/test_store_lock.py; bench/faults.py loops it."""

from __future__ import annotations

import pytest

from tests.faults.scenarios import FaultEnv
from tests.faults.stores import DAMAGE, damaged

pytestmark = pytest.mark.faults


@pytest.mark.parametrize("how", list(DAMAGE))
def test_a_damaged_store_is_refused_in_one_line_and_left_as_it_was(
    fenv: FaultEnv, how: str
) -> None:
    tally = damaged(fenv, how)
    assert tally.clean, tally
