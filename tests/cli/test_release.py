"""`runner release` (SPEC 3.1, issue 14): runtime holds ended by hand, refusals in one
line with exit 1, and a deleted job's runtime holds gone with it."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime

import pytest

from runner.cli import run
from runner.domain.jobs import job_view
from runner.runs.afterwards import hold_on_failure
from runner.store import opened
from tests.conftest import WriteFile

FRAGILE = """
apiVersion: runner/v1
kind: Job
name: fragile
holdOnFailure: 1
tasks:
  - {name: a, run: exit 1}
"""
GATED = """
apiVersion: runner/v1
kind: Job
name: gated
tasks:
  - {name: a, run: "true"}
holds:
  - {name: gate, reason: until someone removes it}
"""
NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def call(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = run(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_error(result: tuple[int, str, str], code: int = 1) -> str:
    got, out, err = result
    assert (got, out) == (code, "")
    assert err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err
    return err


def place_on_failure_hold(capsys: pytest.CaptureFixture[str]) -> str:
    """A failed run, then what the daemon does after `holdOnFailure` failed runs in a row."""
    assert run(["run", "fragile"]) == 1
    capsys.readouterr()
    with opened(home=os.environ["RUNNER_HOME"]) as store:
        spec = store.specs([("Job", "fragile")])[("Job", "fragile")]
        reason = hold_on_failure(store, job=job_view(spec), now=NOW)
    assert reason is not None
    return reason


def runtime_holds(job: str) -> list[str]:
    with opened(home=os.environ["RUNNER_HOME"]) as store:
        return [row["name"] for row in store.runtime_hold_rows(job)]


@pytest.fixture
def applied(write: WriteFile, capsys: pytest.CaptureFixture[str]) -> WriteFile:
    write("jobs.yaml", FRAGILE + "---" + GATED)
    assert run(["apply"]) == 0
    capsys.readouterr()
    return write


def test_the_on_failure_hold_says_how_to_release_it_and_release_ends_it(
    applied: WriteFile, capsys: pytest.CaptureFixture[str]
) -> None:
    reason = place_on_failure_hold(capsys)
    assert "`runner release fragile on-failure`" in reason
    assert "runner release fragile on-failure" in one_error(call(capsys, "run", "fragile"))
    code, out, _ = call(capsys, "jobs")
    assert code == 0 and "on-failure (runtime)" in out
    assert call(capsys, "release", "fragile", "on-failure") == (
        0,
        "released on-failure (runtime) on fragile\n",
        "",
    )
    assert runtime_holds("fragile") == []
    assert call(capsys, "run", "fragile")[0] == 1  # it runs again (and fails again)
    err = one_error(call(capsys, "release", "fragile"))
    assert "no runtime hold on fragile" in err


def test_release_json_and_by_name(applied: WriteFile, capsys: pytest.CaptureFixture[str]) -> None:
    place_on_failure_hold(capsys)
    code, out, _ = call(capsys, "release", "--name", "on-failure", "--json")
    assert code == 0
    assert json.loads(out)["results"] == [
        {"hold": "on-failure", "job": "fragile", "status": "ok", "detail": None}
    ]
    assert "no runtime hold named on-failure" in one_error(
        call(capsys, "release", "--name", "on-failure")
    )


def test_release_refusals(applied: WriteFile, capsys: pytest.CaptureFixture[str]) -> None:
    err = one_error(call(capsys, "release", "gated", "gate"))
    assert "hold gate on gated is defined in the configuration" in err
    assert "jobs.d/jobs.yaml" in err
    err = one_error(call(capsys, "release", "--name", "gate"))
    assert "hold gate on gated is defined in the configuration" in err
    assert "no job nope" in one_error(call(capsys, "release", "nope"))
    one_error(call(capsys, "release"), code=2)
    one_error(call(capsys, "release", "fragile", "--name", "x"), code=2)


def test_a_job_deleted_and_added_again_starts_without_its_runtime_holds(
    applied: WriteFile, capsys: pytest.CaptureFixture[str]
) -> None:
    place_on_failure_hold(capsys)
    assert runtime_holds("fragile") == ["on-failure"]
    applied("jobs.yaml", GATED)
    assert call(capsys, "apply")[0] == 0
    applied("jobs.yaml", FRAGILE + "---" + GATED)
    assert call(capsys, "apply")[0] == 0
    assert runtime_holds("fragile") == []
