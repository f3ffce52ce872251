"""The store locked, read-only or on a full disk under a running daemon (issue 17,
defect 2), see tests/faults/away.py. Skipped, with the reason, where the fault cannot
be made (read-only needs `chattr`, a full disk a tmpfs mount: root)."""

from __future__ import annotations

import pytest

from tests.faults.away import Unavailable, away
from tests.faults.scenarios import FaultEnv

pytestmark = pytest.mark.faults

# the lock is shorter than SQLite's 30 s busy timeout: waited out, then caught up
SECONDS = {"locked": 8.0, "read-only": 3.0, "disk full": 3.0}


@pytest.mark.parametrize("fault", list(SECONDS))
def test_the_store_away_is_named_and_its_ticks_are_caught_up_once(
    fenv: FaultEnv, fault: str
) -> None:
    try:
        tally = away(fenv, fault, cycles=1, seconds=SECONDS[fault])
    except Unavailable as why:
        pytest.skip(str(why))
    assert tally.clean, tally
    assert tally.faults == 1


@pytest.mark.slow  # bench/faults.py runs `none` for every fault
def test_under_catchup_none_the_ticks_of_the_fault_are_dropped_not_overlaps(
    fenv: FaultEnv,
) -> None:
    tally = away(fenv, "read-only", cycles=1, seconds=SECONDS["read-only"], catchup="none")
    assert tally.clean, tally
