"""The daemon's memory housekeeping. What lives as long as the daemon (the job table,
caches) is frozen out of the cyclic collector's full passes, which would otherwise stop
the loop for tens of milliseconds; and the heap an apply freed is given back to the
system, so that the resident size is what the daemon holds, not its largest apply."""

from __future__ import annotations

import contextlib
import ctypes
import gc

FREEZE_IDLE = 0.5  # the collection before a freeze waits until the loop has this long


class Memory:
    def __init__(self) -> None:
        self.refreeze_pending = False  # an apply lifted the freeze: set it again when idle

    def freeze(self) -> None:
        """Leave what exists now out of the collector's later full passes; reference
        counting still frees what is dropped. Collected first, so that no garbage cycle
        is frozen with it (a full collection: 0.1 s with 10,000 jobs)."""
        gc.collect()
        gc.freeze()

    def refreeze(self) -> None:
        """The freeze an apply lifted, set again (the loop has the time)."""
        self.refreeze_pending = False
        self.freeze()

    def freeze_lifted(self) -> None:
        """An apply ran (its fork lifts the freeze): freeze again once the loop has
        FREEZE_IDLE with nothing to do."""
        self.refreeze_pending = True

    def give_back(self) -> None:
        """Return freed heap to the system (glibc keeps it otherwise)."""
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6").malloc_trim(0)
