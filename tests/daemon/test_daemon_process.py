"""`runner daemon` as an operator runs it: a real process on a folder of YAML and a home,
watched through its stderr, the store and the other commands; stopped with signals,
killed with `kill -9`, started again. Time passes only by waiting on conditions, with a
deadline; the jobs tick every second and their tasks are short."""

from __future__ import annotations

import itertools
import json
import re
import signal
import subprocess
import time
from collections import Counter
from datetime import timedelta

from runner.domain import RunState
from runner.store import RunRecord, opened
from tests.daemon.conftest import Env
from tests.waiting import live_in_group, wait_for


def job(name: str, schedule: str, run: str = "echo hi", extra: str = "") -> str:
    """A one-task job's YAML; `extra`: more top-level lines."""
    lines = [
        "apiVersion: runner/v1",
        "kind: Job",
        f"name: {name}",
        f"schedule: {schedule}",
        *extra.strip().splitlines(),
        "tasks:",
        "  - name: work",
        f"    run: {run}",
    ]
    return "\n".join(lines) + "\n"


EVERY_1S = "{every: 1s}"
MANUAL = "{mode: manual}"
ONCE = "status: start"  # a new manual job runs once only when its file says so


def running_with_pid(r: RunRecord) -> bool:
    return r.state == "running" and any(t.pid for t in r.tasks if t.state == "running")


def task_pgid(env: Env, run_id: int) -> int:
    """The process group of the run's running task (its leader's pid)."""
    pid = next(t.pid for t in env.run(run_id).tasks if t.state == "running" and t.pid)
    assert pid is not None
    return pid


# --- scheduling -------------------------------------------------------------------------


def test_an_every_1s_job_runs_three_times_within_4s_of_the_start(env: Env) -> None:
    env.write("tick.yaml", job("tick", EVERY_1S))
    daemon = env.start()
    daemon.wait_up()  # from here: the interpreter's start-up is not the daemon's doing
    runs = env.wait_runs(
        "3 successful runs of tick within 4s",
        lambda r: r.state == "success",
        count=3,
        job="tick",
        timeout=4.0,
    )
    assert {r.trigger for r in runs} == {"schedule"}
    dues = [r.due for r in runs]
    assert len(set(dues)) == len(dues), dues
    assert all(d.microsecond == 0 for d in dues), dues  # every: 1s ticks on whole seconds
    assert all(b - a == timedelta(seconds=1) for a, b in itertools.pairwise(dues)), dues
    assert all(r.started is not None and r.started >= r.due for r in runs)


def test_an_edited_job_file_changes_the_schedule_without_a_restart(env: Env) -> None:
    path = env.write("tick.yaml", job("tick", "{every: 1h}"))
    daemon = env.start()
    daemon.wait_up()

    path.write_text(job("tick", EVERY_1S))  # an edit in place
    daemon.wait_event("config-applied", "1 changed")
    env.wait_runs(
        "a run of revision 2 (every: 1s)",
        lambda r: r.revision == 2 and r.trigger == "schedule" and r.state == "success",
        job="tick",
    )

    # A save by atomic rename, as editors and `git checkout` do.
    env.replace("tick.yaml", job("tick", EVERY_1S, run="echo v3"))
    env.wait_runs(
        "a run of revision 3 (saved by rename)",
        lambda r: r.revision == 3 and r.trigger == "schedule" and r.state == "success",
        job="tick",
    )
    assert len(daemon.events("config-applied")) == 3  # the start and the two edits
    assert daemon.proc.poll() is None


def test_an_invalid_edit_keeps_the_old_schedule_and_is_shown_with_its_file(env: Env) -> None:
    path = env.write("tick.yaml", job("tick", EVERY_1S))
    daemon = env.start()
    env.wait_runs("a run of tick", lambda r: r.state == "success", job="tick")

    path.write_text(job("tick", '{cron: "61 * * * *"}'))
    rejected = daemon.wait_event("config-rejected", "jobs.d/tick.yaml")
    assert "last applied" in rejected or "applied revision" in rejected, rejected
    (error,) = daemon.events("config-error")
    assert "jobs.d/tick.yaml:4:" in error and "schedule.cron" in error, error

    before = max(r.id for r in env.runs("tick"))
    env.wait_runs(
        "a run after the rejected edit, on the old schedule",
        lambda r: r.id > before and r.revision == 1 and r.state == "success",
        job="tick",
    )

    done = env.runner("status")
    assert done.returncode == 0, done.stderr
    assert re.search(r"^\s*jobs\.d/tick\.yaml:4:\d+: error: schedule\.cron", done.stdout, re.M), (
        done.stdout
    )
    data = env.runner_json("status")
    last = data["configuration"]["last_reconcile"]
    assert last["summary"]["skipped_files"] == ["jobs.d/tick.yaml"]
    assert any("jobs.d/tick.yaml:4:" in e for e in last["errors"]), last


def test_sighup_re_applies_the_folder(env: Env) -> None:
    path = env.write("tick.yaml", job("tick", "{every: 1h}"))
    daemon = env.start(debounce="60s")  # the watch alone would not apply within the test
    daemon.wait_up()
    path.write_text(job("tick", EVERY_1S))
    with opened(home=env.home) as store:
        (applied_job,) = store.resources("Job", names=["tick"])
    assert applied_job.revision == 1  # not applied by the watch (and no run of every: 1h)

    daemon.send(signal.SIGHUP)
    applied = daemon.wait_event("config-applied", "(SIGHUP)")
    assert "1 changed" in applied, applied
    env.wait_runs(
        "a run of the re-applied schedule",
        lambda r: r.revision == 2 and r.state == "success",
        job="tick",
    )
    assert not daemon.events("config-applied")[2:]  # the start and the SIGHUP, no other
    assert daemon.proc.poll() is None


# --- crashes, signals, the home lock ------------------------------------------------------


SLOW_FIRST_TRY = "'if [ \"$RUNNER_TRIGGER\" = retry ]; then echo again; else sleep 30; fi'"


def test_kill_9_then_a_restart_marks_the_run_stale_kills_its_task_and_retries_it(
    env: Env,
) -> None:
    env.write(
        "slow.yaml",
        job("slow", MANUAL, SLOW_FIRST_TRY, f"retries: {{limit: 1, delay: 0s}}\n{ONCE}"),
    )
    env.write("tick.yaml", job("tick", EVERY_1S))
    first = env.start()
    (running,) = env.wait_runs("slow's task running", running_with_pid, job="slow")
    env.wait_runs("a run of tick", lambda r: r.state == "success", job="tick")
    pgid = task_pgid(env, running.id)

    first.proc.kill()
    first.proc.wait()
    assert live_in_group(pgid), "the task outlives its daemon until someone notices"
    assert env.run(running.id).state == "running"
    ticks_before = max(r.id for r in env.runs("tick"))

    second = env.start()
    second.wait_up()
    stale = env.run(running.id)
    assert stale.state == "stale"
    assert stale.reason is not None, stale
    assert f"pid {first.pid} " in stale.reason and "died while it ran" in stale.reason, stale.reason
    assert f"run {running.id}: its runner died" in second.wait_event("run-stale")
    wait_for("the stale run's task to be killed", lambda: not live_in_group(pgid))

    (retry,) = env.wait_runs(
        "the retry of the stale run to succeed",
        lambda r: r.trigger == "retry" and r.state == "success",
        job="slow",
    )
    assert retry.id > running.id and retry.attempt == 2
    assert retry.owner is not None and retry.owner.pid == second.pid
    assert [r.id for r in env.runs("slow")] == [running.id, retry.id]

    env.wait_runs(
        "a tick run by the second daemon",
        lambda r: r.id > ticks_before and r.state == "success",
        job="tick",
    )
    ticks = [r for r in env.runs() if r.trigger in ("schedule", "catchup")]
    twice = [key for key, n in Counter((r.job, r.due) for r in ticks).items() if n > 1]
    assert not twice, f"ticks with two runs: {twice}"


def test_sigterm_cancels_running_runs_after_the_grace_and_keeps_scheduled_ones(env: Env) -> None:
    env.write(
        "slow.yaml", job("slow", "{every: 1s, overlap: queue}", "sleep 30")
    )  # a tick while it runs: one run waits
    env.write("stubborn.yaml", job("stubborn", MANUAL, "'trap \"\" TERM; sleep 30'", ONCE))
    daemon = env.start("--max-parallel", "4", grace="2s")
    (slow,) = env.wait_runs("slow's task running", running_with_pid, job="slow")
    (stubborn,) = env.wait_runs("stubborn's task running", running_with_pid, job="stubborn")
    (queued,) = env.wait_runs("a run of slow queued", lambda r: r.state == "scheduled", job="slow")
    groups = [task_pgid(env, slow.id), task_pgid(env, stubborn.id)]

    began = time.monotonic()
    daemon.send(signal.SIGTERM)
    code = daemon.wait_exit(timeout=6.0)
    took = time.monotonic() - began
    assert code == 0, daemon.log()
    assert 1.5 <= took < 4.0, f"exited {took:.2f}s after SIGTERM with --grace 2s"

    for run_id in (slow.id, stubborn.id):
        record = env.run(run_id)
        assert record.state == "cancelled", record
        assert record.reason is not None and "daemon shutdown" in record.reason, record.reason
    for pgid in groups:
        assert not live_in_group(pgid)
    left = env.run(queued.id)
    assert (left.state, left.started) == ("scheduled", None)
    assert daemon.events("daemon-stopped")
    assert not daemon.events("run-started")[2:]  # nothing started once it was told to stop


def test_a_second_daemon_on_the_same_home_exits_at_once_naming_the_first(env: Env) -> None:
    env.write("tick.yaml", job("tick", EVERY_1S))
    first = env.start()
    first.wait_up()

    second = env.start()
    code = second.wait_exit(timeout=5.0)
    assert code != 0
    text = second.log()
    assert f"pid {first.pid}" in text, text
    assert "Traceback" not in text, text
    assert first.proc.poll() is None
    before = max((r.id for r in env.runs("tick")), default=0)
    env.wait_runs("the first daemon to go on", lambda r: r.id > before, job="tick")


# --- what follows from runs ----------------------------------------------------------------


def test_a_follow_up_runs_after_a_success_and_is_discarded_after_a_failure(env: Env) -> None:
    env.write("a-ok.yaml", job("a-ok", EVERY_1S, "echo ok"))
    env.write("b-ok.yaml", job("b-ok", MANUAL, "echo following", "after: [a-ok]"))
    env.write("a-bad.yaml", job("a-bad", EVERY_1S, "exit 1"))
    env.write("b-bad.yaml", job("b-bad", MANUAL, "echo never", "after: [a-bad]"))
    daemon = env.start("--max-parallel", "4")

    (good,) = env.wait_runs(
        "a follow-up of a-ok to succeed",
        lambda r: r.trigger == "follow-up" and r.state == "success",
        job="b-ok",
    )
    created = daemon.wait_event("run-created", f"run {good.id} of b-ok")
    preceding = int(re.search(r"follows run (\d+) of a-ok", created).group(1))  # type: ignore[union-attr]
    before = env.run(preceding)
    assert (before.job, before.state) == ("a-ok", "success")
    assert before.ended is not None and good.started is not None and good.started >= before.ended

    (dropped,) = env.wait_runs(
        "a follow-up of a-bad to be discarded",
        lambda r: r.trigger == "follow-up" and r.state == "discarded",
        job="b-bad",
    )
    assert dropped.started is None
    match = re.fullmatch(r"preceding run (\d+) failed", dropped.reason or "")
    assert match, dropped.reason
    failed = env.run(int(match.group(1)))
    assert (failed.job, failed.state) == ("a-bad", "failed")
    assert not [r for r in env.runs("b-bad") if r.trigger == "follow-up" and r.started]


def test_hold_on_failure_holds_the_job_after_n_failed_runs(env: Env) -> None:
    env.write("fragile.yaml", job("fragile", EVERY_1S, "exit 1", "holdOnFailure: 2"))
    daemon = env.start()
    placed = daemon.wait_event("hold-placed", "fragile")
    assert "on-failure" in placed, placed

    (waiting,) = env.wait_runs(
        "a run of fragile waiting", lambda r: r.state == "scheduled", job="fragile"
    )
    daemon.wait_event("run-waiting", f"run {waiting.id}: held by on-failure")
    daemon.wait_event("tick-skipped", "fragile")  # a later tick came; the run still waits

    states = [r.state for r in env.runs("fragile")]
    assert states == ["failed", "failed", "scheduled"], states
    assert env.run(waiting.id).started is None

    status = env.runner_json("status", "fragile")
    holds = [(h["name"], h["origin"], h["active"]) for h in status["holds"]]
    assert ("on-failure", "runtime", True) in holds, status["holds"]


def test_a_new_manual_job_runs_once_and_not_again_after_a_restart(env: Env) -> None:
    env.write("once.yaml", job("once", MANUAL, "echo once", ONCE))
    env.write("tick.yaml", job("tick", EVERY_1S))
    first = env.start()
    (ran,) = env.wait_runs("once's run to succeed", lambda r: r.state == "success", job="once")
    assert ran.trigger == "manual"
    assert first.stop() == 0
    ticks_before = max((r.id for r in env.runs("tick")), default=0)

    second = env.start()
    second.wait_up()
    env.wait_runs(
        "a tick of the second daemon",
        lambda r: r.id > ticks_before and r.state == "success",
        job="tick",
    )
    assert [r.id for r in env.runs("once")] == [ran.id]
    assert not [line for line in second.events("run-created") if " of once" in line]


def test_apply_without_a_daemon_queues_the_run_of_status_start_and_a_daemon_runs_it_once(
    env: Env,
) -> None:
    env.write("restore.yaml", job("restore", MANUAL, "echo restored", ONCE))
    env.write("db.yaml", job("restore-database", MANUAL, "echo never"))  # no status: waits
    env.write("tick.yaml", job("tick", EVERY_1S))
    done = env.runner("apply")
    assert done.returncode == 0, done.stderr
    (queued,) = env.runner_json("history", "restore")
    assert (queued["state"], queued["trigger"]) == (RunState.SCHEDULED, "manual")
    assert (
        f"run {queued['id']} of restore queued: status: start runs it once; no daemon runs "
        "on this home: `runner daemon` on this store starts it"
    ) in done.stdout, done.stdout
    again = env.runner("apply")
    assert again.returncode == 0 and "queued" not in again.stdout, again.stdout

    daemon = env.start()
    env.wait_runs("restore's run to succeed", lambda r: r.state == RunState.SUCCESS, job="restore")
    ticks = len(env.runs("tick"))
    env.wait_runs(
        "a later tick", lambda r: r.state == RunState.SUCCESS, count=ticks + 1, job="tick"
    )
    assert [r.id for r in env.runs("restore")] == [queued["id"]]  # the daemon's apply made none
    assert env.runs("restore-database") == []
    assert not [line for line in daemon.events("run-created") if " of restore" in line]


def test_apply_beside_a_daemon_queues_the_run_and_wakes_the_daemon(env: Env) -> None:
    env.write("tick.yaml", job("tick", EVERY_1S))
    daemon = env.start(debounce="1h")  # its own watcher would apply the new file much later
    daemon.wait_up()
    env.write("restore.yaml", job("restore", MANUAL, "echo restored", ONCE))
    done = env.runner("apply")
    assert done.returncode == 0, done.stderr
    (run,) = env.wait_runs(
        "restore's run to succeed", lambda r: r.state == RunState.SUCCESS, job="restore"
    )
    assert (
        f"run {run.id} of restore queued: status: start runs it once; the daemon on this "
        f"home (pid {daemon.pid}) starts it now"
    ) in done.stdout, done.stdout
    assert run.owner is not None and run.owner.pid == daemon.pid


# --- the log ---------------------------------------------------------------------------


def test_log_format_json_writes_one_json_object_per_line(env: Env) -> None:
    env.write("tick.yaml", job("tick", EVERY_1S))
    daemon = env.start("--log-format", "json")
    env.wait_runs("a run of tick", lambda r: r.state == "success", job="tick")
    assert daemon.stop() == 0

    lines = daemon.lines()
    assert lines
    events = []
    for line in lines:
        data = json.loads(line)
        assert isinstance(data, dict), line
        assert {"time", "event", "message"} <= set(data), line
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", data["time"]), line
        events.append(data["event"])
    for wanted in ("config-applied", "daemon-up", "run-created", "run-started", "run-ended"):
        assert wanted in events, events
    assert events[-1] == "daemon-stopped", events


# --- runner run with a daemon ----------------------------------------------------------


def test_runner_run_queues_to_the_running_daemon(env: Env) -> None:
    env.write("m.yaml", job("m", MANUAL, 'echo manual; exit "${FAIL:-0}"', ONCE))
    daemon = env.start()
    env.wait_runs("m's first run (status: start)", lambda r: r.state == "success", job="m")

    done = env.runner("run", "m")
    assert done.returncode == 0, done.stderr
    assert f"queued to the daemon (pid {daemon.pid})" in done.stdout, done.stdout
    queued = env.wait_runs(
        "the queued run to start", lambda r: r.started is not None, job="m", count=2
    )[1]
    assert queued.trigger == "manual"
    assert queued.owner is not None and queued.owner.pid == daemon.pid
    assert queued.started is not None
    assert (queued.started - queued.created).total_seconds() < 1.0

    done = env.runner("run", "m", "--wait")
    assert done.returncode == 0, done.stderr
    last = env.runs("m")[-1]
    assert last.id > queued.id and last.state == "success"
    assert last.owner is not None and last.owner.pid == daemon.pid
    assert done.stdout.splitlines()[-1] == f"run {last.id} success", done.stdout

    done = env.runner("run", "m", "--wait", "--env", "FAIL=3")
    assert done.returncode == 1, done.stdout
    failed = env.runs("m")[-1]
    assert failed.state == "failed" and failed.owner is not None
    assert failed.owner.pid == daemon.pid


# --- found by these tests, and fixed ----------------------------------------------------


def test_runner_run_wait_notices_a_daemon_killed_under_it(env: Env) -> None:
    env.write("nap.yaml", job("nap", MANUAL, 'sleep "${NAP:-0}"', ONCE))
    daemon = env.start()
    env.wait_runs("nap's first run (status: start)", lambda r: r.state == "success", job="nap")
    waiting = env.spawn("run", "nap", "--wait", "--env", "NAP=30")
    (running,) = env.wait_runs("the queued run's task running", running_with_pid, job="nap")
    pgid = task_pgid(env, running.id)

    daemon.proc.kill()
    daemon.proc.wait()
    try:
        code = waiting.wait(timeout=3.0)
    except subprocess.TimeoutExpired:
        raise AssertionError(
            f"runner run --wait still waits 3s after its daemon died; run {running.id} is "
            f"{env.run(running.id).state} in the store"
        ) from None
    assert code == 1
    assert env.run(running.id).state == "stale"
    wait_for("the dead daemon's task to be killed", lambda: not live_in_group(pgid))


def test_the_retry_of_a_stale_run_is_logged_as_created(env: Env) -> None:
    env.write(
        "slow.yaml",
        job("slow", MANUAL, SLOW_FIRST_TRY, f"retries: {{limit: 1, delay: 0s}}\n{ONCE}"),
    )
    first = env.start()
    (running,) = env.wait_runs("slow's task running", running_with_pid, job="slow")
    first.proc.kill()
    first.proc.wait()

    second = env.start()
    (retry,) = env.wait_runs(
        "the retry to succeed", lambda r: r.trigger == "retry" and r.state == "success", job="slow"
    )
    second.wait_event("run-started", f"run {retry.id} of slow")
    created = [line for line in second.events("run-created") if f"run {retry.id} " in line]
    assert created, second.log()
    assert f"run {running.id}" in created[0], created
