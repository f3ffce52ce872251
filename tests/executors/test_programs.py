"""Programs found on PATH once for a burst of spawns (`Programs`), as the spawn itself
would find them, and found anew after `forget`."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest

from runner.executors.process import Programs, SpawnFailed, spawn


def tool(folder: Path, name: str) -> Path:
    path = folder / name
    path.write_text("#!/bin/sh\necho tool\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_a_program_is_found_on_the_tasks_path_once_per_burst(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    env = {"PATH": f"{first}{os.pathsep}{second}"}
    programs = Programs()
    assert programs.find("tool", env) is None
    made = tool(second, "tool")
    assert programs.find("tool", env) is None  # kept for the burst
    programs.forget()
    assert programs.find("tool", env) == str(made)
    earlier = tool(first, "tool")
    programs.forget()
    assert programs.find("tool", env) == str(earlier)  # the first folder wins, as execvp's


def test_paths_and_relative_path_folders_are_left_to_the_spawn(tmp_path: Path) -> None:
    programs = Programs()
    assert programs.find("./tool", {"PATH": "/usr/bin"}) is None
    assert programs.find("/usr/bin/env", {"PATH": "/usr/bin"}) is None
    # a relative folder is relative to the task's workdir, which the child changes to
    assert programs.find("sh", {"PATH": f"bin{os.pathsep}/usr/bin{os.pathsep}/bin"}) is None
    assert programs.find("sh", {"PATH": "/usr/bin:/bin"}) == shutil.which(
        "sh", path="/usr/bin:/bin"
    )


def test_a_spawn_runs_the_program_found_and_says_when_there_is_none(tmp_path: Path) -> None:
    folder = tmp_path / "bin"
    folder.mkdir()
    tool(folder, "tool")
    env = {"PATH": f"{folder}{os.pathsep}/usr/bin{os.pathsep}/bin"}
    log = tmp_path / "log"
    programs = Programs()
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        child = spawn(
            ["tool"], cwd=str(tmp_path), env=env, log_fd=fd, shown="tool", programs=programs
        )
        assert child.reap() == 0
        with pytest.raises(SpawnFailed) as missing:
            spawn(
                ["no-such-tool"],
                cwd=str(tmp_path),
                env=env,
                log_fd=fd,
                shown="x",
                programs=programs,
            )
    finally:
        os.close(fd)
    assert log.read_text() == "tool\n"
    assert missing.value.exit_code == 127
    assert "command not found" in missing.value.reason


def test_a_program_that_cannot_start_is_searched_for_again_as_popen_would(
    tmp_path: Path,
) -> None:
    """The first executable file on PATH without a `#!` line (or with a missing
    interpreter) fails to start; the usual search then goes on to the next folder."""
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    bad = first / "tool"
    bad.write_bytes(b"\x7fELF not really\n")  # executable, but no program the kernel runs
    bad.chmod(0o755)
    gone = first / "tool2"
    gone.write_text("#!/no/such/interpreter\n")
    gone.chmod(0o755)
    tool(second, "tool")
    tool(second, "tool2")
    env = {"PATH": f"{first}{os.pathsep}{second}{os.pathsep}/usr/bin{os.pathsep}/bin"}
    programs = Programs()
    assert programs.find("tool", env) == str(bad)
    log = tmp_path / "log"
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        for name in ("tool", "tool2"):
            child = spawn(
                [name], cwd=str(tmp_path), env=env, log_fd=fd, shown=name, programs=programs
            )
            assert child.reap() == 0
    finally:
        os.close(fd)
    assert log.read_text() == "tool\ntool\n"
