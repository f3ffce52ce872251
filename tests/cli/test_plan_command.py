"""`runner plan`, `jobs` and `status` on a folder: tasks named in the diff, next runs to
the second where the schedule has seconds."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from runner.cli import run
from runner.clock import FakeClock
from tests.conftest import WriteFile

NOW = datetime(2026, 11, 23, 15, 42, 50, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    """The operations read the time through `runner.ops.common.now`, on this clock."""
    monkeypatch.setattr("runner.ops.common.SystemClock", lambda: FakeClock(NOW))


def job(tasks: str, schedule: str = 'cron: "0 2 * * *"') -> str:
    return f"""
apiVersion: runner/v1
kind: Job
name: export
schedule: {{{schedule}}}
tasks:
{tasks}
"""


CHAIN = """\
  - {name: extract, run: ./extract.sh}
  - {name: load, run: ./load.sh}
"""
SWAPPED = """\
  - {name: load, run: ./load.sh}
  - {name: extract, run: ./extract.sh}
"""


def output(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = run(list(args))
    return code, capsys.readouterr().out


def test_a_reorder_names_the_tasks_and_its_saved_plan_applies(
    write: WriteFile, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write("export.yaml", job(CHAIN))
    assert run(["apply"]) == 0
    write("export.yaml", job(SWAPPED))
    capsys.readouterr()
    code, text = output(capsys, "plan")
    assert code == 0
    assert text.splitlines()[1:4] == [
        '      ~ tasks[load].after: ["extract"] -> []',
        '      ~ tasks[extract].after: [] -> ["load"]',
        "      ~ tasks order: extract, load -> load, extract",
    ]
    code, text = output(capsys, "plan", "--format", "json")
    (change,) = json.loads(text)["changes"]
    assert [(f["path"], f["op"], f["before"], f["after"]) for f in change["fields"]] == [
        ("tasks[load].after", "~", ["extract"], []),
        ("tasks[extract].after", "~", [], ["load"]),
        ("tasks order", "~", ["extract", "load"], ["load", "extract"]),
    ]
    saved = tmp_path / "plan.json"
    assert run(["plan", "--out", str(saved)]) == 0
    assert run(["apply", "--plan", str(saved)]) == 0
    capsys.readouterr()
    code, text = output(capsys, "status", "export", "--json")
    assert json.loads(text)["tasks"] == ["load", "extract"]


def test_a_task_added_and_one_removed_are_named(
    write: WriteFile, capsys: pytest.CaptureFixture[str]
) -> None:
    write("export.yaml", job(CHAIN))
    assert run(["apply"]) == 0
    write(
        "export.yaml",
        job("  - {name: extract, run: ./extract.sh}\n  - {name: check, run: ./check.sh}\n"),
    )
    capsys.readouterr()
    assert output(capsys, "plan")[1].splitlines()[1:3] == [
        '      + tasks[check]: run "./check.sh"',
        '      - tasks[load]: run "./load.sh"',
    ]


def test_next_runs_show_seconds_where_the_schedule_has_them(
    write: WriteFile, capsys: pytest.CaptureFixture[str]
) -> None:
    write("export.yaml", job(CHAIN, schedule="every: 30s"))
    code, text = output(capsys, "plan")
    assert code == 0
    assert text.splitlines()[1] == (
        "      next runs: 2026-11-23 15:43:00 UTC, 2026-11-23 15:43:30 UTC, 2026-11-23 15:44:00 UTC"
    )
    assert run(["apply"]) == 0
    capsys.readouterr()
    assert "2026-11-23 15:43:00 UTC" in output(capsys, "jobs")[1].splitlines()[1]
    status = output(capsys, "status", "export")[1].splitlines()
    assert status[2] == (
        "  next runs  2026-11-23 15:43:00 UTC, 2026-11-23 15:43:30 UTC, 2026-11-23 15:44:00 UTC"
    )


def test_next_runs_of_a_cron_stay_to_the_minute(
    write: WriteFile, capsys: pytest.CaptureFixture[str]
) -> None:
    write("export.yaml", job(CHAIN, schedule='cron: "*/20 * * * *"'))
    assert output(capsys, "plan")[1].splitlines()[1] == (
        "      next runs: 2026-11-23 16:00 UTC, 2026-11-23 16:20 UTC, 2026-11-23 16:40 UTC"
    )
    assert run(["apply"]) == 0
    capsys.readouterr()
    assert "2026-11-23 16:00 UTC " in output(capsys, "jobs")[1].splitlines()[1]
