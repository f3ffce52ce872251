"""What the daemon's loop hands to each of its parts (`Ticks`, `Starts`): the store, the
clock, the job table, the executor, the specs kept for the runs' orders, the wording of
the event log."""

from __future__ import annotations

from dataclasses import dataclass

from runner.clock import Clock
from runner.daemon.specs import SpecCache
from runner.daemon.wording import EventWording
from runner.executors.supervisor import Supervisor
from runner.scheduler.jobs import JobTable
from runner.store import Store


@dataclass(frozen=True, slots=True, kw_only=True)
class LoopParts:
    store: Store
    clock: Clock
    jobs: JobTable
    supervisor: Supervisor
    specs: SpecCache
    say: EventWording


class LoopPart:
    """A part of the loop, with what the loop shares with it as its own attributes
    (read on the hot path: one lookup each)."""

    def __init__(self, parts: LoopParts) -> None:
        self.store = parts.store
        self.clock = parts.clock
        self.jobs = parts.jobs
        self.supervisor = parts.supervisor
        self.specs = parts.specs
        self.say = parts.say
