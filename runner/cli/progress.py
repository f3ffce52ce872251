"""What `runner run` shows while a run goes on.

On a terminal: a line per task that ends, under a status line redrawn in place (the
tasks running, elapsed time, done/total). Otherwise (a pipe, a CI log): plain lines,
one per event, with the time, and nothing redrawn.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Sequence
from typing import TextIO

from runner.domain import TaskState
from runner.executors import journal as j

MARKS: dict[str, str] = {
    TaskState.SUCCESS: "ok",
    TaskState.FAILED: "FAILED",
    TaskState.CANCELLED: "cancelled",
    TaskState.SKIPPED: "skipped",
}


class Progress:
    def __init__(self, *, job: str, run_id: int, total: int, out: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self.live = self.out.isatty()
        self.job = job
        self.run_id = run_id
        self.total = total
        self.done = 0
        self.running: dict[str, float] = {}
        self.begun = time.monotonic()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def __enter__(self) -> Progress:
        if self.live:
            self._ticker = threading.Thread(target=self._tick, daemon=True)
            self._ticker.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
        with self._lock:
            self._clear()

    def note(self, text: str) -> None:
        with self._lock:
            self._print(text)

    def __call__(self, changes: Sequence[j.Change]) -> None:
        with self._lock:
            for change in changes:
                self._on(change)
            self._draw()

    def _on(self, c: j.Change) -> None:
        match c:
            case j.RunStarted():
                self._print(f"run {self.run_id} of {self.job} started")
            case j.AttemptStarted():
                self.running[c.task] = time.monotonic()
                if not self.live:
                    attempt = f" (attempt {c.attempt})" if c.attempt > 1 else ""
                    self._print(f"{c.task} started{attempt}")
            case j.AttemptEnded():
                began = self.running.pop(c.task, time.monotonic())
                took = _elapsed(time.monotonic() - began)
                if c.task_state == TaskState.PENDING:
                    self._print(f"{c.task} failed ({took}): {c.reason}")
                    return
                self.done += 1
                why = f": {c.reason}" if c.reason else ""
                self._print(f"{c.task} {MARKS.get(c.state, c.state)} ({took}){why}")
            case j.TaskSet():
                if c.state == TaskState.WAITING:
                    self._print(
                        f"{c.task} waits for someone: {c.reason} "
                        f"(finishing it by command comes in a later release; "
                        f"runner cancel {self.run_id} stops the run)"
                    )
                    return
                self.done += 1
                if c.state != TaskState.SKIPPED or c.reason not in ("not selected",):
                    self._print(f"{c.task} {c.state}: {c.reason}")
            case j.RunEnded():
                took = _elapsed(time.monotonic() - self.begun)
                why = f": {c.reason}" if c.reason else ""
                self._print(f"run {self.run_id} {c.state} in {took}{why}")

    def _print(self, text: str) -> None:
        self._clear()
        stamp = "" if self.live else time.strftime("%H:%M:%S ")
        self.out.write(f"{stamp}{text}\n")
        self.out.flush()

    def _draw(self) -> None:
        if not self.live or not self.running:
            return
        names = ", ".join(self.running)
        if len(names) > 50:
            names = f"{len(self.running)} tasks"
        line = (
            f"  running {names}  {_elapsed(time.monotonic() - self.begun)}  "
            f"{self.done}/{self.total} done"
        )
        self.out.write("\r\033[K" + line)
        self.out.flush()

    def _clear(self) -> None:
        if self.live:
            self.out.write("\r\033[K")

    def _tick(self) -> None:
        while not self._stop.wait(0.5):
            with self._lock:
                self._draw()


def _elapsed(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


class NotesOnly(Progress):
    """`run --json` on a pipe: the run's JSON is what it prints; what the run waits for
    still goes to stderr, its task-by-task changes do not."""

    def __call__(self, changes: Sequence[j.Change]) -> None:
        pass
