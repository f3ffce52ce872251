"""A `runner daemon` as a real process: started in a temporary folder with its own config
folder and home, its stderr in a file the test reads, and always stopped at the end
(SIGTERM, a wait, then SIGKILL), its tasks with it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from runner.clock import FakeClock, SystemClock
from runner.store import RunRecord, opened
from tests.daemon.harness import START, Harness
from tests.waiting import DEADLINE, wait_for

STOP_WAIT = 10.0


class DaemonProcess:
    """One `runner daemon` process and what it wrote on stderr."""

    def __init__(self, proc: subprocess.Popen[bytes], stderr: Path, started: float) -> None:
        self.proc = proc
        self.stderr = stderr
        self.started = started  # time.monotonic() just before it was spawned

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        return self.stderr.read_text(errors="replace")

    def lines(self) -> list[str]:
        return self.log().splitlines()

    def events(self, event: str) -> list[str]:
        """The text lines of one event (`2026-...Z config-applied  ...`)."""
        return [line for line in self.lines() if line.split()[1:2] == [event]]

    def wait_event(self, event: str, containing: str = "", timeout: float = DEADLINE) -> str:
        found: list[str] = []

        def seen() -> bool:
            found[:] = [line for line in self.events(event) if containing in line]
            return bool(found) or self._died()

        wait_for(f"event {event} {containing!r} in the daemon's log", seen, timeout)
        if not found:
            raise AssertionError(f"the daemon exited ({self.proc.returncode}):\n{self.log()}")
        return found[0]

    def wait_up(self) -> None:
        self.wait_event("daemon-up")

    def _died(self) -> bool:
        return self.proc.poll() is not None

    def send(self, sig: signal.Signals) -> None:
        self.proc.send_signal(sig)

    def wait_exit(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"the daemon still runs {timeout:g}s later; its log:\n{self.log()}"
            ) from None

    def stop(self) -> int:
        """SIGTERM, then wait for it to exit; SIGKILL if it does not."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_WAIT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


class Env:
    """The test's folder: `jobs.d/` and `home/` under it, and daemons started there."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.config = root / "jobs.d"
        self.config.mkdir()
        self.home = root / "home"
        self.daemons: list[DaemonProcess] = []
        self.spawned: list[subprocess.Popen[str]] = []

    # --- files ---------------------------------------------------------------------

    def write(self, name: str, text: str) -> Path:
        path = self.config / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
        return path

    def replace(self, name: str, text: str) -> Path:
        """Save `name` as editors do: a temporary file in the folder, renamed onto it."""
        path = self.config / name
        temp = self.config / f".{name}.swp"
        temp.write_text(textwrap.dedent(text).lstrip("\n"))
        os.replace(temp, path)
        return path

    # --- processes -----------------------------------------------------------------

    def start(self, *args: str, grace: str = "1s", debounce: str = "100ms") -> DaemonProcess:
        """`runner daemon --config jobs.d --home home ARGS...`, cwd the test's folder."""
        index = len(self.daemons)
        stderr = self.root / f"daemon-{index}.stderr"
        command = [
            sys.executable,
            "-m",
            "runner",
            "daemon",
            "--config",
            "jobs.d",
            "--home",
            "home",
            "--grace",
            grace,
            "--debounce",
            debounce,
            *args,
        ]
        with stderr.open("wb") as err:
            began = time.monotonic()
            proc = subprocess.Popen(
                command,
                cwd=self.root,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
            )
        daemon = DaemonProcess(proc, stderr, began)
        self.daemons.append(daemon)
        return daemon

    def runner(self, *args: str, timeout: float = DEADLINE) -> subprocess.CompletedProcess[str]:
        """`runner ARGS... --home home` as another process, to its end."""
        return subprocess.run(
            [sys.executable, "-m", "runner", *args, "--home", "home"],
            cwd=self.root,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def spawn(self, *args: str) -> subprocess.Popen[str]:
        """`runner ARGS... --home home` started as another process (killed at the end if
        it still runs)."""
        proc = subprocess.Popen(
            [sys.executable, "-m", "runner", *args, "--home", "home"],
            cwd=self.root,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.spawned.append(proc)
        return proc

    def runner_json(self, *args: str) -> Any:
        done = self.runner(*args, "--json")
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    # --- the store -------------------------------------------------------------------

    def runs(self, job: str | None = None) -> list[RunRecord]:
        """The runs (of `job`), oldest first, read from the store without acting on
        them (a command would mark a dead daemon's runs stale)."""
        with opened(home=self.home) as store:
            return list(reversed(store.history(job=job, limit=10_000)))

    def run(self, run_id: int) -> RunRecord:
        with opened(home=self.home) as store:
            found = store.run(run_id)
        assert found is not None, f"no run {run_id}"
        return found

    def wait_runs(
        self,
        what: str,
        select: Callable[[RunRecord], bool],
        *,
        count: int = 1,
        job: str | None = None,
        timeout: float = DEADLINE,
    ) -> list[RunRecord]:
        """Wait until at least `count` runs (of `job`) satisfy `select`; they, oldest first."""
        found: list[RunRecord] = []

        def enough() -> bool:
            found[:] = [r for r in self.runs(job) if select(r)] if self.home.exists() else []
            return len(found) >= count

        wait_for(what, enough, timeout)
        return found

    def stop_all(self) -> None:
        for proc in self.spawned:
            if proc.poll() is None:
                proc.kill()
            proc.communicate()
        codes = [daemon.stop() for daemon in self.daemons]
        if any(code < 0 for code in codes) and (self.home / "state.db").exists():
            # A daemon killed by a signal leaves its runs running and its tasks alive: a
            # command marks them stale and kills what they left (pid and start time).
            self.runner("history")


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    env = Env(tmp_path)
    try:
        yield env
    finally:
        env.stop_all()


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[Harness]:
    h = Harness(tmp_path, FakeClock(START))
    try:
        yield h
    finally:
        h.close()


@pytest.fixture
def real(tmp_path: Path) -> Iterator[Harness]:
    h = Harness(tmp_path, SystemClock())
    try:
        yield h
    finally:
        h.close()
