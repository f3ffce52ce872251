"""A shutdown's grace bounds what it waits for (SPEC 5: running tasks get up to --grace
to end, then are killed), leftovers of tasks that ended before it included (issue 17)."""

from __future__ import annotations

from runner.clock import FakeClock
from tests.executors.test_supervisor import DUE, Make, order
from tests.waiting import pid_in, process_gone

# the leader waits until its child ignores SIGTERM, then ends, leaving it behind
LEAVES = (
    "  - name: t\n"
    "    run: (trap '' TERM; touch ready; sleep 300) & echo $! > child.pid;"
    " while [ ! -e ready ]; do sleep 0.01; done\n"
)


def test_a_shutdown_kills_an_earlier_leftover_after_its_grace_not_the_kill_grace(
    make: Make,
) -> None:
    clock = FakeClock(DUE)
    h = make(clock=clock, kill_grace=600.0)
    h.supervisor.start(order(h.folder, LEAVES))
    h.until(lambda: not h.supervisor.runs, "the run to end")
    assert h.journal.ended().state == "success"
    child = pid_in(h.folder / "child.pid")
    assert not process_gone(child, within=0)  # SIGTERM ignored, SIGKILL 600 s away
    h.supervisor.shutdown("daemon shutdown", 1.0)
    h.supervisor.poll(0)
    assert not process_gone(child, within=0)  # the grace has not passed
    clock.advance(1.0)
    h.until(lambda: process_gone(child, within=0), "the leftover's SIGKILL")


def test_a_shutdown_kills_a_task_cancelled_before_it_after_its_grace(make: Make) -> None:
    clock = FakeClock(DUE)
    h = make(clock=clock, kill_grace=600.0)
    tasks = "  - name: t\n    run: trap '' TERM; touch ready; sleep 300\n"
    h.supervisor.start(order(h.folder, tasks))
    h.until(lambda: (h.folder / "ready").exists(), "the task to ignore SIGTERM")
    h.supervisor.request_cancel(1, "cancelled by a test")
    h.supervisor.poll(0)
    h.supervisor.shutdown("daemon shutdown", 1.0)
    h.supervisor.poll(0)
    assert h.supervisor.runs  # SIGTERM ignored; the cancel's SIGKILL is 600 s away
    clock.advance(1.0)
    h.until(lambda: not h.supervisor.runs, "the task's SIGKILL")
    assert h.journal.ended().state == "cancelled"
