"""A full disk (issue 17): said as "disk full" with the file and where to free space,
never SQLite's "disk I/O error"; nothing half-written, and the store works again once
there is room. On a 2 MB tmpfs, which needs root to mount (skipped otherwise)."""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.cli import run

JOB = """\
apiVersion: runner/v1
kind: Job
name: job-{n}
description: "{pad}"
schedule: {{mode: manual}}
tasks:
  - name: hello
    run: "true"
"""


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip("cannot mount a size-limited tmpfs here (needs root)")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(folder: Path) -> Path:
    """A file that takes every free byte of `folder`'s file system."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (65536, 4096, 1):  # to the last byte
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\0" * size)
    finally:
        os.close(fd)
    return filler


def jobs(write: object, count: int) -> None:
    for n in range(count):
        write(f"job-{n}.yaml", JOB.format(n=n, pad="x" * 1000))  # type: ignore[operator]


def test_a_full_disk_is_said_as_such_and_the_store_recovers(
    small_disk: Path,
    write: object,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    home = small_disk / "home"
    monkeypatch.setenv("RUNNER_HOME", str(home))
    jobs(write, 1)
    assert run(["apply"]) == 0
    capsys.readouterr()
    filler = fill(small_disk)
    jobs(write, 100)
    assert run(["apply"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: disk full")
    assert str(home / "state.db") in err and str(small_disk) in err
    assert "I/O error" not in err

    backup = small_disk / "state.bak"
    assert run(["store", "backup", str(backup)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: disk full") and err.count("\n") == 1
    assert sorted(p.name for p in small_disk.iterdir() if "bak" in p.name) == []

    filler.unlink()  # room again: the store is whole and takes the writes
    assert run(["store", "check"]) == 0
    assert run(["apply"]) == 0
    capsys.readouterr()
    assert run(["jobs", "--json"]) == 0
    assert '"job-99"' in capsys.readouterr().out


def test_enospc_is_a_full_disk() -> None:
    from runner.store.database import is_disk_full

    assert is_disk_full(OSError(errno.ENOSPC, "No space left on device"), "sqlite:///x.db")
    assert not is_disk_full(OSError(errno.EACCES, "Permission denied"), "sqlite:///x.db")
