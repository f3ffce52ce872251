"""The daemon's log lines, word for word: the README's example session, and what a user
greps for (`run-ended ... failed in 1m9s: ...`). A change here is a change for users."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from runner.clock import FakeClock
from runner.daemon.applier import Outcome
from runner.daemon.eventlog import EventLog
from runner.daemon.wording import EventWording
from runner.executors import journal as j
from runner.executors.order import RunOrder
from runner.scheduler.tick import Created, TickReport

AT = datetime(2026, 11, 23, 16, 33, 0, 4000, tzinfo=UTC)
DUE = datetime(2026, 11, 23, 16, 33, tzinfo=UTC)


def wording(fmt: str = "text") -> tuple[EventWording, io.StringIO]:
    out = io.StringIO()
    return EventWording(EventLog(FakeClock(AT), fmt=fmt, stream=out)), out


def test_the_readme_session_word_for_word() -> None:
    say, out = wording()
    say.config_applied(Outcome("applied", added=8, started=[("deploy-docs", 1)]), "start")
    say.daemon_up(pid=24407, home=Path(".runner"), config=["jobs.d"], jobs=7, max_parallel=2)
    say.ticked(TickReport(created=[Created(3, "heartbeat", DUE, "schedule", 1)]))
    say.run_started(
        RunOrder(run_id=3, job="heartbeat", revision=1, trigger="schedule", due=DUE, tasks=())
    )
    say.task_ended(j.AttemptEnded(3, "beat", 1, AT, 0, None, "success", "success"), "heartbeat")
    say.run_ended(j.RunEnded(3, "heartbeat", "success", None, AT), started=AT - timedelta(0, 0.02))
    say.stopping("SIGINT received", active=1, grace=30.0)
    say.run_ended(
        j.RunEnded(1, "deploy-docs", "cancelled", "daemon shutdown", AT),
        started=AT - timedelta(seconds=69),
    )
    say.stopped()
    stamp = "2026-11-23T16:33:00.004Z"
    assert out.getvalue().splitlines() == [
        f"{stamp} config-applied  8 added, 0 changed, 0 deleted, 0 unchanged (start)",
        f"{stamp} run-created     run 1 of deploy-docs: runs once as it was created "
        "(status: start)",
        f"{stamp} daemon-up       pid 24407, home .runner, config jobs.d, 7 jobs, max-parallel 2",
        f"{stamp} run-created     run 3 of heartbeat: schedule, due 2026-11-23T16:33:00Z",
        f"{stamp} run-started     run 3 of heartbeat (schedule, due 2026-11-23T16:33:00Z)",
        f"{stamp} task-ended      run 3 of heartbeat: task beat success",
        f"{stamp} run-ended       run 3 of heartbeat success in 0.02s",
        f"{stamp} daemon-stopping SIGINT received: no new starts; 1 run(s) running get 30s to "
        "end, then SIGKILL; scheduled runs stay for the next start",
        f"{stamp} run-ended       run 1 of deploy-docs cancelled in 1m9s: daemon shutdown",
        f"{stamp} daemon-stopped  stopped",
    ]


@pytest.mark.parametrize(
    ("exit_code", "reason", "said"),
    [
        (-9, "timed out after 5s", "task a failed, killed by SIGKILL: timed out after 5s"),
        (-99, None, "task a failed, killed by signal 99"),
        (3, None, "task a failed, exit code 3"),
        (3, "exit code 3", "task a failed: exit code 3"),  # not said twice
    ],
)
def test_how_a_task_ended_is_said_once(exit_code: int, reason: str | None, said: str) -> None:
    say, out = wording()
    say.task_ended(j.AttemptEnded(7, "a", 1, AT, exit_code, reason, "failed", "failed"), "etl")
    assert out.getvalue().split(maxsplit=2)[2] == f"run 7 of etl: {said}\n"


def test_json_lines_carry_the_fields() -> None:
    say, out = wording("json")
    say.ticked(
        TickReport(
            created=[Created(3, "heartbeat", DUE, "schedule", 1)],
            cancelled=[2],
            missed={"heartbeat": {"overlap": 2}},
        )
    )
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(d["event"], d.get("run"), d.get("job")) for d in lines] == [
        ("run-created", 3, "heartbeat"),
        ("run-cancelling", 2, None),
        ("tick-skipped", None, "heartbeat"),
    ]
    assert lines[0]["due"] == "2026-11-23T16:33:00Z"
    assert lines[2]["message"] == "heartbeat: 2 tick(s) skipped: a run is active (overlap)"


def test_a_clock_jump_says_how_far() -> None:
    say, out = wording()
    say.clock_jumped(seconds=3 * 3600)
    say.clock_stepped_back(seconds=3600.5)
    assert [line.split(maxsplit=2)[2] for line in out.getvalue().splitlines()] == [
        "3h passed since the last look (a suspend, or the clock stepped): the ticks missed "
        "meanwhile are caught up per each job's catchup",
        "the clock stepped back 1h: next ticks computed again",
    ]
