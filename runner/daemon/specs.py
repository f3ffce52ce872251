"""The specs the runs' orders are made from, by job and revision. A run keeps the revision
it was made for, and a revision never changes: the latest ones used are kept."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runner.store import Store

SPECS_KEPT = 1024


class SpecCache:
    def __init__(self, store: Store, *, kept: int = SPECS_KEPT) -> None:
        self.store = store
        self.kept = kept
        self._specs: dict[tuple[str, int], Any] = {}  # (job, revision) -> spec, oldest first

    def put(self, specs: Mapping[tuple[str, int], Any]) -> None:
        """Specs read anyway (by a tick), kept for the starts that follow."""
        for key, spec in specs.items():
            self._specs[key] = spec

    def get(self, job: str, revision: int) -> Any:
        """A revision of a job's spec: kept, or read from the store (and kept)."""
        key = (job, revision)
        spec = self._specs.pop(key, None)
        if spec is None:
            spec = self.store.revision_spec("Job", job, revision)
        if spec is None:  # pragma: no cover - every revision is kept while a run has it
            spec = self.store.specs([("Job", job)]).get(("Job", job)) or {}
        self._specs[key] = spec
        while len(self._specs) > self.kept:
            del self._specs[next(iter(self._specs))]
        return spec
