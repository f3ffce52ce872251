"""The overlap policy on manual triggers (SPEC 2.3: it holds for every trigger), against a
real store: what a trigger is refused with (its code), what it queues behind, and what it
cancels first and with which reason; and a foreground run that cancels first."""

from __future__ import annotations

import contextlib
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from runner.cli import run
from runner.runs.trigger import Refused, trigger
from runner.scheduler.overlap import Cancel
from runner.store import RunRecord, Store, open_store
from tests.conftest import WriteFile
from tests.runs.conftest import execute_job

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
DEADLINE = 20.0  # seconds for a foreground run of one `true` task


@pytest.fixture
def busy(write: WriteFile, store: Store) -> tuple[Store, int]:
    """A job `gate` with overlap `queue` and one run of it running."""
    write(
        "gate.yaml",
        """
        apiVersion: runner/v1
        kind: Job
        name: gate
        schedule: {overlap: queue}
        tasks:
          - {name: a, run: "true"}
        """,
    )
    assert run(["apply"]) == 0
    first = trigger(store, job="gate", now=T0, overlap="allow").run_id
    store.set_run_state(first, "running", now=T0)
    return store, first


def test_skip_refuses_with_its_code_naming_the_active_run(busy: tuple[Store, int]) -> None:
    store, first = busy
    with pytest.raises(Refused) as refused:
        trigger(store, job="gate", now=T0, overlap="skip")
    assert refused.value.code == "overlap-skip"
    assert f"runner cancel {first}" in refused.value.message
    assert [r.id for r in store.history(job="gate")] == [first]  # nothing was created


def test_queue_waits_behind_the_running_run_then_refuses_a_second(
    busy: tuple[Store, int],
) -> None:
    store, first = busy
    queued = trigger(store, job="gate", now=T0)  # the job's own policy: queue
    assert [r.id for r in queued.waits_for] == [first] and queued.cancel == ()
    with pytest.raises(Refused) as refused:
        trigger(store, job="gate", now=T0)
    assert refused.value.code == "overlap-queue-full"
    assert f"run {queued.run_id} queued" in refused.value.message


def test_cancel_running_says_what_to_cancel_and_why(busy: tuple[Store, int]) -> None:
    store, first = busy
    waiting = trigger(store, job="gate", now=T0).run_id  # queued behind the first
    made = trigger(store, job="gate", now=T0, overlap="cancel-running")
    reason = f"cancelled by run {made.run_id} (overlap: cancel-running)"
    assert made.cancel == (Cancel(first, reason), Cancel(waiting, reason))
    assert [r.id for r in made.waits_for] == [first, waiting]


def test_allow_neither_waits_nor_cancels(busy: tuple[Store, int]) -> None:
    store, _ = busy
    made = trigger(store, job="gate", now=T0, overlap="allow")
    assert made.waits_for == () and made.cancel == ()


def test_a_foreground_run_under_cancel_running_cancels_first_then_runs(
    busy: tuple[Store, int], home: Path
) -> None:
    store, first = busy
    store.set_run_state(first, "success", now=T0)  # only a queued run is left, unowned
    waiting = trigger(store, job="gate", now=T0).run_id
    done: list[RunRecord] = []

    def foreground() -> None:  # its own store, as another process would have
        with contextlib.closing(open_store(home=home)) as mine:
            done.append(execute_job(mine, home, "gate", overlap="cancel-running"))

    thread = threading.Thread(target=foreground, daemon=True)
    thread.start()
    thread.join(DEADLINE)  # without the cancel it would wait for the queued run forever
    assert done and done[0].state == "success"
    discarded = store.run(waiting)
    assert discarded is not None
    assert (discarded.state, discarded.reason) == (
        "discarded",
        f"cancelled by run {done[0].id} (overlap: cancel-running)",
    )
