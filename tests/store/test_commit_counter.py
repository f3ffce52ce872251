"""`Store.commit_counter`: what the daemon counts to know that its reads made ahead of a
tick still stand (nothing written by this process since)."""

from __future__ import annotations

from datetime import UTC, datetime

from runner.store import Store

AT = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)


def test_a_write_moves_the_count_and_a_read_does_not(store: Store) -> None:
    committed = store.commit_counter()
    before = committed()
    store.generation()
    store.queue_state(even_empty=True)
    assert committed() == before
    store.record_event(kind="note", at=AT, message="written")
    assert committed() > before


def test_each_counter_counts_from_when_it_was_asked_for(store: Store) -> None:
    store.record_event(kind="note", at=AT, message="before")
    committed = store.commit_counter()
    assert committed() == 0
    store.record_event(kind="note", at=AT, message="after")
    assert committed() == 1
