"""The daemon's cache of job specs by revision (what the runs' orders are made from): a
revision is read from the store once while it stays among the latest used."""

from __future__ import annotations

from typing import Any

from runner.daemon.specs import SpecCache


class Revisions:
    """The one store read the cache makes, counted."""

    def __init__(self) -> None:
        self.reads: list[tuple[str, int]] = []

    def revision_spec(self, kind: str, name: str, revision: int) -> dict[str, Any]:
        assert kind == "Job"
        self.reads.append((name, revision))
        return {"name": name, "revision": revision}


def test_a_revision_is_read_once_and_a_tick_s_specs_are_not_read_again() -> None:
    store = Revisions()
    cache = SpecCache(store, kept=4)  # type: ignore[arg-type]
    assert cache.get("a", 1) == {"name": "a", "revision": 1}
    assert cache.get("a", 1) == {"name": "a", "revision": 1}
    cache.put({("b", 3): {"name": "b", "from": "the tick"}})
    assert cache.get("b", 3) == {"name": "b", "from": "the tick"}
    assert store.reads == [("a", 1)]


def test_the_least_recently_used_revision_goes_first() -> None:
    store = Revisions()
    cache = SpecCache(store, kept=2)  # type: ignore[arg-type]
    cache.get("a", 1)
    cache.get("b", 1)
    cache.get("a", 1)  # used again: b is now the oldest
    cache.get("c", 1)  # b goes
    cache.get("a", 1)
    cache.get("b", 1)
    assert store.reads == [("a", 1), ("b", 1), ("c", 1), ("b", 1)]
