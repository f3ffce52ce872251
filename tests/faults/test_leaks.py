"""Task faults at volume (issue 17), the quick form: a task writing 256 MiB under a
1 MiB log cap; 1,000 runs through one daemon, its descriptors, threads and zombie
children counted; a task's pid taken by an unrelated process after a kill -9.
See tests/faults/leaks.py and reuse.py for what is counted; bench/faults.py runs them at scale."""

from __future__ import annotations

import pytest

from tests.faults.leaks import MiB, big_output, many_runs
from tests.faults.reuse import can_choose_pids, pid_reuse
from tests.faults.scenarios import FaultEnv

pytestmark = pytest.mark.faults


def test_a_task_writing_far_past_its_log_cap_leaves_a_capped_log_and_the_daemon_bounded(
    fenv: FaultEnv,
) -> None:
    tally = big_output(fenv, 256 * MiB, cap="1MiB")
    assert tally.clean, tally
    assert tally.figures["log_bytes"] <= MiB


def test_a_thousand_runs_leak_no_descriptor_thread_or_zombie(fenv: FaultEnv) -> None:
    tally = many_runs(fenv, 1000, jobs=200, limit_s=60.0)
    assert tally.runs >= 1000
    assert tally.clean, tally


@pytest.mark.skipif(not can_choose_pids(), reason="cannot write /proc/sys/kernel/ns_last_pid")
def test_a_stale_run_leaves_alone_the_process_that_took_its_tasks_pid(fenv: FaultEnv) -> None:
    """The process that took the pid carries the dead run's id and task name, as another
    home's task would (another job, another due time): killed before the marks named
    the job and the due time. bench/faults.py also runs it with no marks at all."""
    tally = pid_reuse(fenv, 1, marked=True)
    assert tally.faults == 1, tally
    assert tally.clean, tally


@pytest.mark.slow  # 90 s: a job's history is kept 30 s whatever keepRuns says
def test_a_daemon_never_idle_still_prunes_its_history(fenv: FaultEnv) -> None:
    """200 jobs every second keep the daemon from ever being idle, where it prunes: it
    must prune anyway (log files within keepRuns plus the 30 s kept for reports)."""
    tally = many_runs(fenv, 1_000_000, jobs=200, limit_s=90.0)
    tally.problems = [p for p in tally.problems if " within " not in p]  # runs: as many as fit
    assert tally.clean, tally
