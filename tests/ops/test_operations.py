"""The operations called directly, as the CLI and the API call them: typed results, and
refusals as `RunnerError`s whose stable `code` the API maps to an HTTP status."""

from __future__ import annotations

import os
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from runner.clock import FakeClock, SystemClock
from runner.daemon.lock import HomeLock
from runner.domain import RunState
from runner.errors import ExitCode, RunnerError
from runner.ops.common import Home
from runner.ops.configuration import apply, apply_plan_file, plan
from runner.ops.jobs import jobs
from runner.ops.reading import history, logs, tasks
from runner.ops.runs import RunRequest, cancel, run
from runner.ops.status import JobStatus, Overview, RunStatus, status
from runner.ops.validation import validate
from runner.runs.cancel import cancel as cancel_run
from runner.runs.trigger import trigger
from runner.store import Store
from runner.system.procs import myself
from tests.conftest import WriteFile

JOBS = """
name: ok
tasks:
  - {name: a, run: echo hello}
  - {name: b, run: 'true', active: false}
---
name: off
disabled: true
tasks:
  - {name: a, run: 'true'}
---
name: held
tasks:
  - {name: a, run: 'true'}
holds:
  - {name: wait-for-ok, dependsOn: {job: ok}}
"""


@pytest.fixture
def where(write: WriteFile, home: Path) -> Home:
    docs = textwrap.dedent(JOBS).strip().split("\n---\n")
    write("jobs.yaml", "---\n".join(f"apiVersion: runner/v1\nkind: Job\n{d}\n" for d in docs))
    applied = apply(Home(home), ["jobs.d"])
    assert applied.result.written and applied.started == []
    return Home(home)


def code_of(call: object) -> str:
    assert callable(call)
    with pytest.raises(RunnerError) as caught:
        call()
    return caught.value.code


def test_validate_and_plan_return_what_the_cli_renders(where: Home, write: WriteFile) -> None:
    checked = validate(["jobs.d"])
    assert not checked.failed and checked.as_json()["resource_count"] == 3
    assert not plan(where, ["jobs.d"]).result.plan.has_changes
    write("broken.yaml", "apiVersion: runner/v1\nkind: Job\nname: x\n")
    checked = validate(["jobs.d"])
    assert checked.failed and checked.as_json()["invalid_files"] == ["jobs.d/broken.yaml"]
    assert plan(where, ["jobs.d"]).failed


def test_a_run_executed_here_and_read_back(where: Home) -> None:
    outcome = run(where, RunRequest(job="ok"))
    assert outcome.succeeded and outcome.daemon_pid is None and outcome.followed
    assert outcome.as_json()["state"] == "success"
    (found,) = history(where, job="ok")
    assert found.id == outcome.run.id
    assert [(t.name, t.last.state if t.last else None) for t in tasks(where, "ok")] == [
        ("a", "success"),
        ("b", "skipped"),
    ]
    (log,) = logs(where, found.id, task="a").logs
    assert log.as_json()["log"] == "hello\n"
    assert isinstance(status(where, str(found.id)), RunStatus)
    assert isinstance(status(where, "ok"), JobStatus)
    overview = status(where)
    assert isinstance(overview, Overview) and overview.daemon["running"] is False
    assert [j.name for j in jobs(where, state="success")] == ["ok"]


def test_refusals_carry_their_code(where: Home) -> None:
    assert code_of(lambda: run(where, RunRequest(job="off"))) == "job-disabled"
    assert code_of(lambda: run(where, RunRequest(job="ok", tasks=("b",)))) == "task-inactive"
    assert code_of(lambda: run(where, RunRequest(job="held"))) == "task-held"
    assert code_of(lambda: run(where, RunRequest(job="nope"))) == "not-found"
    assert code_of(lambda: run(where, RunRequest(job="ok", tasks=("x",)))) == "not-found"
    assert code_of(lambda: cancel(where, 99)) == "not-found"
    assert code_of(lambda: status(where, "nope")) == "not-found"
    assert code_of(lambda: tasks(where, "nope")) == "not-found"
    assert code_of(lambda: history(where, since="yesterday")) == "bad-time"
    # what click's choices and ranges keep from the command line, the API may send
    assert code_of(lambda: run(where, RunRequest(job="ok", overlap="never"))) == "usage"
    assert code_of(lambda: history(where, limit=0)) == "usage"


def running_run(store: Store, job: str) -> int:
    """A run of `job` that this process runs, as far as the store can tell."""
    (resource,) = store.resources("Job", names=[job])
    at = SystemClock().now()
    return store.create_run(
        job=job,
        revision=resource.revision,
        trigger="manual",
        due=at,
        now=at,
        tasks=["a"],
        state="running",
        owner=myself(),
    )


def test_refusals_of_a_job_being_deleted_and_of_a_cancel_never_answered(
    where: Home, store: Store, write: WriteFile
) -> None:
    run_id = running_run(store, "ok")
    write("jobs.yaml", "apiVersion: runner/v1\nkind: Job\nname: off\ntasks: [{name: a, run: x}]\n")
    assert apply(where, ["jobs.d"]).result.written  # ok goes once its run ends, held now
    assert code_of(lambda: run(where, RunRequest(job="ok"))) == "job-deleting"
    clock = FakeClock(datetime.now(UTC))  # its sleeps pass the 1 s at once
    cancelling = lambda: cancel_run(  # noqa: E731
        store, home=where.path, run_id=run_id, clock=clock, reason="test", wait=1.0
    )
    assert code_of(cancelling) == "cancel-timeout"


def test_refusals_of_apply_carry_their_code(where: Home, write: WriteFile, tmp_path: Path) -> None:
    saved = tmp_path / "plan.json"
    assert code_of(lambda: apply_plan_file(where, saved)) == "bad-plan-file"  # no file
    saved.write_text("{}")
    assert code_of(lambda: apply_plan_file(where, saved)) == "bad-plan-file"  # not a plan
    write("more.yaml", "apiVersion: runner/v1\nkind: Job\nname: more\ntasks: [{name: a, run: x}]\n")
    plan(where, ["jobs.d"]).save(saved)
    assert apply(where, ["jobs.d"]).result.written
    assert code_of(lambda: apply_plan_file(where, saved)) == "plan-stale"
    write("broken.yaml", "apiVersion: runner/v1\nkind: Job\nname: x\n")
    assert code_of(lambda: apply(where, ["jobs.d"], atomic=True)) == "atomic-invalid"
    for name in ("jobs.yaml", "more.yaml", "broken.yaml"):
        (Path("jobs.d") / name).unlink()
    assert code_of(lambda: apply(where, ["jobs.d"])) == "mass-delete"
    plan(where, ["jobs.d"]).save(saved)
    assert code_of(lambda: apply_plan_file(where, saved)) == "mass-delete"


def test_a_second_daemon_on_a_home_is_refused(where: Home) -> None:
    first = HomeLock.acquire(where.path)
    try:
        assert code_of(lambda: HomeLock.acquire(where.path)) == "daemon-running"
    finally:
        first.release()


def test_an_active_run_refuses_a_second_by_its_overlap(where: Home, store: Store) -> None:
    waiting = trigger(store, job="ok", now=SystemClock().now())  # scheduled, nobody's
    assert code_of(lambda: run(where, RunRequest(job="ok"))) == "overlap-skip"
    queue = RunRequest(job="ok", overlap="queue")  # one may wait; one already does
    assert code_of(lambda: run(where, queue)) == "overlap-queue-full"
    discarded = cancel(where, waiting.run_id, reason="not now")
    assert (discarded.state, discarded.reason) == (RunState.DISCARDED, "not now")
    assert code_of(lambda: cancel(where, waiting.run_id)) == "run-ended"


def test_an_unknown_state_is_a_usage_error_naming_the_states(where: Home) -> None:
    with pytest.raises(RunnerError) as caught:
        jobs(where, state="bogus")
    assert (caught.value.code, caught.value.exit_code) == ("usage", ExitCode.USAGE)
    assert all(state in caught.value.message for state in RunState)
    with pytest.raises(RunnerError) as caught:
        history(where, job="nope", states=["bogus"])  # the usage error before the lookup
    assert (caught.value.code, caught.value.exit_code) == ("usage", ExitCode.USAGE)
    assert all(state in caught.value.message for state in RunState)


class CtrlCWhileWaiting(FakeClock):
    def sleep(self, seconds: float) -> None:
        raise KeyboardInterrupt


def test_a_run_queued_to_the_daemon_on_the_home(where: Home, store: Store) -> None:
    daemon = HomeLock.acquire(where.path)  # this process plays the daemon
    told: list[tuple[int, int]] = []

    def queued(run_id: int, pid: int) -> None:
        told.append((run_id, pid))

    try:
        first = run(where, RunRequest(job="ok"), on_queued=queued)
        assert (first.daemon_pid, first.followed, first.run.state) == (
            os.getpid(),
            False,
            "scheduled",
        )
        assert told == []  # told only when the command waits for it
        second = run(where, RunRequest(job="ok", overlap="cancel-running"))
        ended = store.run(first.run.id)
        assert ended is not None and ended.state == RunState.DISCARDED
        assert ended.reason == f"cancelled by run {second.run.id} (overlap: cancel-running)"
        clock = CtrlCWhileWaiting(datetime.now(UTC))
        request = RunRequest(job="ok", overlap="allow", wait=True)
        waited = run(where, request, on_queued=queued, clock=clock)
        assert waited.stopped_waiting and told == [(waited.run.id, os.getpid())]
        still = store.run(waited.run.id)
        assert still is not None and still.state == RunState.SCHEDULED  # it goes on
    finally:
        daemon.release()


def test_waiting_for_a_run_the_daemon_never_started(where: Home) -> None:
    daemon = HomeLock.acquire(where.path)

    def daemon_stops(run_id: int, pid: int) -> None:
        daemon.release()

    request = RunRequest(job="ok", wait=True)
    assert code_of(lambda: run(where, request, on_queued=daemon_stops)) == "daemon-stopped"


def test_jobs_lists_only_the_holds_still_active(where: Home) -> None:
    """The HOLDS of `runner jobs` (issue 14): a `dependsOn` hold goes once its job has
    succeeded, as SPEC 1.3 releases it; before that it is listed."""

    def listed() -> list[dict[str, str]]:
        return next(j for j in jobs(where) if j.name == "held").holds

    assert listed() == [{"name": "wait-for-ok", "origin": "config"}]
    assert run(where, RunRequest(job="ok")).succeeded
    assert listed() == []
    assert run(where, RunRequest(job="held")).succeeded  # released: the run is not refused


def test_jobs_does_not_list_a_hold_whose_until_has_passed(write: WriteFile, home: Path) -> None:
    write(
        "jobs.yaml",
        "apiVersion: runner/v1\nkind: Job\nname: j\ntasks: [{name: a, run: 'true'}]\n"
        "holds:\n  - {name: past, until: '2020-01-01T00:00:00Z'}\n"
        "  - {name: future, until: '2999-01-01T00:00:00Z'}\n",
    )
    apply(Home(home), ["jobs.d"])
    (job,) = jobs(Home(home))
    assert job.holds == [{"name": "future", "origin": "config"}]
