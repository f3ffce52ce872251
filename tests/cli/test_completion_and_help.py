"""Shell completion of job names, run ids and task names from a real store in the test's
home, through click's own completion protocol (`_RUNNER_COMPLETE`); and the fixes to
`jobs --state` and to the help texts."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from runner.cli import cli, run
from tests.conftest import WriteFile

JOBS = """
apiVersion: runner/v1
kind: Job
name: export
tasks:
  - {name: extract, run: 'true'}
  - {name: load, run: 'true'}
---
apiVersion: runner/v1
kind: Job
name: heartbeat
tasks:
  - {name: beat, run: 'true'}
"""


def complete(line: str, env: dict[str, str] | None = None) -> list[str]:
    """What bash would offer for `line` (the word under the cursor is its last)."""
    words = line.split(" ")
    result = CliRunner().invoke(
        cli,
        prog_name="runner",
        env={
            "_RUNNER_COMPLETE": "bash_complete",
            "COMP_WORDS": line,
            "COMP_CWORD": str(len(words) - 1),
            **(env or {}),
        },
    )
    assert result.exit_code == 0, result.output
    return [item.partition(",")[2] for item in result.output.splitlines() if item]


@pytest.fixture
def applied(write: WriteFile) -> None:
    write("jobs.yaml", JOBS)
    assert run(["apply"]) == 0
    assert run(["run", "export"]) == 0  # run 1
    assert run(["run", "heartbeat"]) == 0  # run 2


def test_job_names_complete_from_the_applied_jobs(applied: None) -> None:
    assert complete("runner run ") == ["export", "heartbeat"]
    assert complete("runner run he") == ["heartbeat"]
    assert complete("runner tasks ex") == ["export"]
    assert complete("runner history ") == ["export", "heartbeat"]


def test_run_ids_and_task_names_complete_from_the_store(applied: None) -> None:
    assert complete("runner logs ") == ["2", "1"]  # newest first
    assert complete("runner logs 1 ") == ["extract", "load"]
    assert complete("runner logs 2 ") == ["beat"]
    assert complete("runner run export --task ") == ["extract", "load"]
    assert complete("runner run export --task l") == ["load"]
    assert complete("runner status 2") == ["2"]
    assert complete("runner status h") == ["heartbeat"]
    assert complete("runner cancel ") == []  # nothing is active to cancel


def test_no_store_completes_nothing_and_creates_none(tmp_path: Path) -> None:
    home = tmp_path / "elsewhere"
    assert complete("runner run ", {"RUNNER_HOME": str(home)}) == []
    assert complete("runner logs 1 ", {"RUNNER_HOME": str(home)}) == []
    assert not home.exists()
    unreachable = {"RUNNER_STORE": "postgresql://nobody@127.0.0.1:9/none"}
    assert complete("runner run ", unreachable) == []


def test_options_and_states_still_complete_as_click_does(applied: None) -> None:
    assert "--state" in complete("runner jobs --")
    assert complete("runner jobs --state fa") == ["failed"]


def test_jobs_state_must_be_a_run_state(applied: None, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert run(["jobs", "--state", "bogus"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    for state in ("scheduled", "running", "success", "failed", "cancelled", "discarded"):
        assert state in err
    assert run(["jobs", "--state", "success"]) == 0
    assert "heartbeat" in capsys.readouterr().out


def test_help_texts_say_what_the_commands_do(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--help"]) == 0
    (line,) = [x for x in capsys.readouterr().out.splitlines() if x.strip().startswith("run ")]
    assert "queued to the daemon" in line and "foreground" not in line
    assert run(["daemon", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "PATH" not in text
    assert "The configuration folder to apply and watch" in text
