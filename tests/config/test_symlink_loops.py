"""Symlinks in the configuration folder (issue 17): each folder is read once. A link
back to a folder above it (a loop) is not followed and is named in one warning; a link
to a folder read already is not read again; the real files load once, not as duplicates
of themselves."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from runner.cli import run
from runner.config.loader import load_config

JOB = """\
apiVersion: runner/v1
kind: Job
name: {name}
schedule: {{mode: manual}}
tasks:
  - name: hello
    run: "true"
"""


def job(folder: Path, name: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.yaml").write_text(JOB.format(name=name))


def test_a_loop_is_named_once_and_the_real_file_loads_once(tmp_path: Path) -> None:
    root = tmp_path / "jobs.d"
    job(root / "a" / "b", "deep")
    os.symlink("../..", root / "a" / "b" / "up")  # back to jobs.d
    os.symlink("..", root / "a" / "self")  # back to jobs.d too
    config = load_config([root])
    assert config.valid and [r.name for r in config.resources] == ["deep"]
    warnings = [d for d in config.diagnostics if not d.is_error]
    assert sorted((d.file, d.code) for d in warnings) == [
        (str(root / "a" / "b" / "up"), "symlink-loop"),
        (str(root / "a" / "self"), "symlink-loop"),
    ]
    assert all("symlink loop" in d.message and str(root) in d.message for d in warnings)


def test_a_link_to_a_folder_in_the_tree_reads_it_once_where_it_is(tmp_path: Path) -> None:
    root = tmp_path / "jobs.d"
    job(root / "teams" / "data", "export")
    os.symlink("teams/data", root / "alias")  # sorts before "teams"
    config = load_config([root])
    assert config.valid
    assert [(r.name, r.file) for r in config.resources] == [
        ("export", str(root / "teams" / "data" / "export.yaml"))
    ]
    [warning] = config.diagnostics
    assert warning.file == str(root / "alias") and warning.code == "folder-read-twice"


def test_a_link_to_a_folder_outside_is_followed_once(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    job(shared, "common")
    root = tmp_path / "jobs.d"
    root.mkdir()
    os.symlink(shared, root / "one")
    os.symlink(shared, root / "two")
    config = load_config([root])
    assert config.valid and [r.name for r in config.resources] == ["common"]
    assert [d.file for d in config.diagnostics] == [str(root / "two")]


def test_validate_prints_one_warning_per_loop_and_exits_0(
    config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    job(config_dir / "sub", "a")
    os.symlink("..", config_dir / "sub" / "up")
    assert run(["validate"]) == 0
    err_out = capsys.readouterr()
    lines = (err_out.out + err_out.err).splitlines()
    warned = [line for line in lines if "warning:" in line]
    assert warned == [
        "jobs.d/sub/up:1:1: warning: folder not followed: a symlink loop: it leads back "
        "to jobs.d, a folder above it"
    ]
    assert "error" not in err_out.out + err_out.err
