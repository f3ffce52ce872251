"""The cap on a task's log (issue 17, defect 9): past it the log keeps its head and its
tail, says how many bytes were dropped, and the run is not failed for it. Real
processes writing real files; `runner run --max-log-size` through the command line."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.clock import SystemClock
from runner.executors.logcap import parse_size
from runner.executors.logs import LogFiles
from runner.executors.supervisor import Supervisor
from tests.executors.test_supervisor import Harness, MemoryJournal, order

DEADLINE = 10.0
MiB = 1024 * 1024
# FIRST, then 300,000 numbered lines of 100 bytes (30 MB), then LAST; then, given a
# path, it waits for that file and writes END
BIG = """
import os, sys, time
w = sys.stdout.write
w("FIRST\\n")
for i in range(300000):
    w("%099d\\n" % i)
w("LAST\\n")
sys.stdout.flush()
while len(sys.argv) > 1 and not os.path.exists(sys.argv[1]):
    time.sleep(0.02)
if len(sys.argv) > 1:
    w("END\\n")
"""
BIG_SIZE = len("FIRST\n") + 300_000 * 100 + len("LAST\n")


def big(folder: Path, *args: str) -> str:
    """A task running BIG (with `args`), as YAML."""
    script = folder / "big.py"
    script.write_text(BIG)
    argv = ", ".join(f'"{a}"' for a in (sys.executable, str(script), *args))
    return f"  - name: t\n    argv: [{argv}]\n"


@pytest.fixture
def capped(tmp_path: Path) -> Iterator[Harness]:
    """The executor harness with logs capped at 1 MiB."""
    journal = MemoryJournal()
    logs = LogFiles(tmp_path / "home", max_size=MiB)
    supervisor = Supervisor(journal=journal, logs=logs, clock=SystemClock(), kill_grace=1.0)
    yield Harness(supervisor, journal, logs, tmp_path)
    supervisor.kill_everything()
    supervisor.close()


def log_bytes(h: Harness, task: str = "t") -> bytes:
    return h.logs.path(h.logs.key("job", 1, task, 1)).read_bytes()


def test_a_log_past_its_cap_keeps_head_and_tail_and_says_what_was_dropped(
    capped: Harness,
) -> None:
    assert capped.run(order(capped.folder, big(capped.folder))).state == "success"
    log = log_bytes(capped)
    assert 0.9 * MiB < len(log) <= MiB
    lines = log.splitlines()
    assert lines[0] == b"FIRST" and lines[-1] == b"LAST"
    notes = [line for line in lines if line.startswith(b"[runner: ")]
    assert len(notes) == 2  # where it was cut, then how much was dropped
    said = re.search(rb"(\d+) bytes dropped.* first (\d+) and the last (\d+) bytes", notes[1])
    assert said is not None
    dropped, head, tail = (int(n) for n in said.groups())
    assert dropped + head + tail == BIG_SIZE and head + tail <= len(log)
    assert b"%099d\n" % 299_999 in log  # the last numbered line, in the tail


def test_a_log_under_its_cap_is_exactly_what_the_task_wrote(capped: Harness) -> None:
    tasks = "  - name: t\n    run: printf 'one\\ntwo' ; printf ' three' >&2\n"
    assert capped.run(order(capped.folder, tasks)).state == "success"
    assert log_bytes(capped) == b"one\ntwo three"


def test_the_head_of_a_capped_log_can_be_followed_while_the_task_runs(
    capped: Harness, tmp_path: Path
) -> None:
    """The log only grows: what a reader saw while the task ran is where the final log
    starts (what `runner logs --follow` relies on)."""
    go = tmp_path / "go"
    capped.supervisor.start(order(capped.folder, big(capped.folder, str(go))))
    key = capped.logs.key("job", 1, "t", 1)
    seen = b""

    def cut() -> bool:
        nonlocal seen
        seen = b"".join(capped.logs.read_chunks(key))
        return b"its middle is dropped" in seen

    capped.until(cut, "the log to reach its cap")
    assert capped.supervisor.runs  # the task still runs, held by `go`
    go.touch()
    capped.until(lambda: not capped.supervisor.runs, "the run to end")
    final = log_bytes(capped)
    assert final.startswith(seen) and final.endswith(b"LAST\nEND\n")
    assert capped.journal.ended().state == "success"


def test_a_task_that_cannot_start_says_why_in_its_capped_log(capped: Harness) -> None:
    tasks = "  - name: t\n    argv: [/no/such/program]\n"
    assert capped.run(order(capped.folder, tasks)).state == "failed"
    assert b"command not found" in log_bytes(capped)


def test_without_a_cap_the_log_keeps_everything(tmp_path: Path) -> None:
    journal = MemoryJournal()
    logs = LogFiles(tmp_path / "home", max_size=None)
    supervisor = Supervisor(journal=journal, logs=logs, clock=SystemClock(), kill_grace=1.0)
    try:
        h = Harness(supervisor, journal, logs, tmp_path)
        assert h.run(order(tmp_path, big(tmp_path))).state == "success"
        assert len(log_bytes(h)) == BIG_SIZE
    finally:
        supervisor.close()


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("100MB", 100_000_000),
        ("100MiB", 100 * MiB),
        ("1GiB", 1024 * MiB),
        ("512k", 512 * 1024),
        ("1.5MB", 1_500_000),
        ("65536", 65536),
        ("unlimited", None),
    ],
)
def test_sizes_are_read_as_people_write_them(text: str, size: int | None) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "ten MB", "10 parsecs", "-5MB", "100"])
def test_a_size_that_cannot_be_a_cap_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"size|small"):
        parse_size(text)


def runner(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runner", *args, "--home", "home"],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_runner_run_takes_its_cap_from_the_option_or_the_environment(tmp_path: Path) -> None:
    (tmp_path / "jobs.d").mkdir()
    head = "apiVersion: runner/v1\nkind: Job\nname: big\nschedule: {mode: manual}\ntasks:\n"
    job = head + big(tmp_path)
    (tmp_path / "jobs.d" / "big.yaml").write_text(job)
    assert runner(tmp_path, "apply", "jobs.d").returncode == 0
    done = runner(tmp_path, "run", "big", "--max-log-size", "64KiB")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "home/logs/big/1/t.1.log").stat().st_size <= 64 * 1024
    refused = runner(tmp_path, "run", "big", "--max-log-size", "lots")
    assert refused.returncode == 2 and "--max-log-size" in refused.stderr
    done = subprocess.run(
        [sys.executable, "-m", "runner", "run", "big", "--home", "home"],
        cwd=tmp_path,
        env={**os.environ, "RUNNER_MAX_LOG_SIZE": "128KiB"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert 64 * 1024 < (tmp_path / "home/logs/big/2/t.1.log").stat().st_size <= 128 * 1024
