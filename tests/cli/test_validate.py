"""`runner validate` as a user runs it: output, formats, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from runner.cli import cli, run
from tests.conftest import ROOT, WriteFile

GOOD = """
apiVersion: runner/v1
kind: Job
name: export
schedule: {cron: "0 2 * * *", timezone: Europe/Berlin}
tasks:
  - name: extract
    run: ./extract.sh
  - name: load
    run: ./load.sh
"""

BROKEN = """
apiVersion: runner/v1
kind: Job
name: export
tasks:
  - name: extract
    run: ./extract.sh
  - name: load
    run: ./load.sh
    after: [extrct]
"""


def test_valid_folder_exits_0(write: WriteFile, capsys: pytest.CaptureFixture[str]) -> None:
    write("export.yaml", GOOD)
    assert run(["validate"]) == 0
    assert capsys.readouterr().out == "jobs.d: 1 file, 1 resource: valid\n"


def test_every_error_of_every_file_with_its_line(
    write: WriteFile, capsys: pytest.CaptureFixture[str]
) -> None:
    write("export.yaml", BROKEN)
    write("sub/other.yaml", GOOD.replace("export", "other").replace("Europe/Berlin", "Mars/X"))
    write("ok.yml", GOOD.replace("export", "fine"))
    assert run(["validate", "jobs.d"]) == 1
    assert capsys.readouterr().out.splitlines() == [
        'jobs.d/export.yaml:9:13: error: tasks[1].after[0]: unknown task "extrct" '
        '(did you mean "extract"?)',
        'jobs.d/sub/other.yaml:4:41: error: schedule.timezone: unknown time zone "Mars/X"; '
        "use an IANA name such as Europe/Berlin or UTC",
        "jobs.d: 3 files, 3 resources: 2 errors; 2 files invalid",
    ]


def test_hidden_files_and_other_suffixes_are_skipped(write: WriteFile) -> None:
    write(".draft.yaml", BROKEN)
    write(".git/config.yaml", BROKEN)
    write("notes.txt", "not yaml: [")
    write("export.yaml", GOOD)
    assert run(["validate"]) == 0


def test_json_format(write: WriteFile, capsys: pytest.CaptureFixture[str]) -> None:
    write("export.yaml", BROKEN)
    assert run(["validate", "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["valid"] is False and report["error_count"] == 1
    assert report["diagnostics"] == [
        {
            "file": "jobs.d/export.yaml",
            "line": 9,
            "column": 13,
            "path": "/tasks/1/after/0",
            "severity": "error",
            "code": "unknown-task",
            "message": 'unknown task "extrct" (did you mean "extract"?)',
        }
    ]


def test_github_format(write: WriteFile, capsys: pytest.CaptureFixture[str]) -> None:
    write("export.yaml", BROKEN)
    assert run(["validate", "--format", "github"]) == 1
    first = capsys.readouterr().out.splitlines()[0]
    assert first == (
        "::error file=jobs.d/export.yaml,line=9,col=13,title=runner validate::"
        'tasks[1].after[0]: unknown task "extrct" (did you mean "extract"?)'
    )


def test_warnings_pass_unless_strict(write: WriteFile) -> None:
    write("export.yaml", GOOD)
    write(
        "freeze.yaml",
        """
        apiVersion: runner/v1
        kind: Hold
        name: freeze
        selector: {labels: {team: nobody}}
        """,
    )
    assert run(["validate"]) == 0
    assert run(["validate", "--strict"]) == 1


def test_config_option_and_env(
    write: WriteFile, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write("export.yaml", BROKEN)
    other = tmp_path / "elsewhere"
    other.mkdir()
    (other / "a.yaml").write_text(GOOD)
    assert run(["validate", "--config", str(other)]) == 0
    monkeypatch.setenv("RUNNER_CONFIG", str(other))
    assert run(["validate"]) == 0
    assert run(["validate", "jobs.d/export.yaml"]) == 1


def test_missing_folder_is_one_line_on_stderr(
    config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["validate", "nowhere"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "error: nowhere: no such file or folder; name the configuration "
        "folder (--config PATH or RUNNER_CONFIG)\n"
    )


def test_usage_error_exits_2(config_dir: Path) -> None:
    assert run(["validate", "--format", "xml"]) == 2
    assert run(["no-such-command"]) == 2


def test_schema_command_prints_the_committed_schema() -> None:
    result = CliRunner().invoke(cli, ["schema"])
    assert result.exit_code == 0
    assert result.output == (ROOT / "schemas" / "runner.schema.json").read_text()


def test_as_a_real_process(write: WriteFile, config_dir: Path) -> None:
    write("export.yaml", BROKEN)
    proc = subprocess.run(
        [sys.executable, "-m", "runner", "validate"],
        capture_output=True,
        text=True,
        cwd=config_dir.parent,
        check=False,
    )
    assert proc.returncode == 1
    assert proc.stdout.startswith("jobs.d/export.yaml:9:13: error: ")
    assert "Traceback" not in proc.stderr
