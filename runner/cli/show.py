"""How runs and tasks read in tables: times in UTC, durations short."""

from __future__ import annotations

import signal
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runner.store import RunRecord, TaskRecord


def stamp(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%SZ") if value else "-"


def took(started: datetime | None, ended: datetime | None, now: datetime) -> str:
    if started is None:
        return "-"
    seconds = ((ended or now) - started).total_seconds()
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def run_row(run: RunRecord, now: datetime) -> list[str]:
    return [
        str(run.id),
        run.job,
        run.state,
        run.trigger,
        stamp(run.due),
        took(run.started, run.ended, now),
        _short(run.reason),
    ]


RUN_HEADERS = ["RUN", "JOB", "STATE", "TRIGGER", "DUE", "TOOK", "REASON"]
TASK_HEADERS = ["TASK", "STATE", "ATTEMPT", "STARTED", "TOOK", "EXIT", "REASON"]


def task_row(task: TaskRecord, now: datetime) -> list[str]:
    return [
        task.name,
        task.state,
        str(task.attempt) if task.attempt else "-",
        stamp(task.started),
        took(task.started, task.ended, now),
        exit_text(task.exit_code),
        _short(task.reason),
    ]


def exit_text(code: int | None) -> str:
    """An exit code as people read it: `0`, `3`, or `SIGTERM` for a killed process."""
    if code is None:
        return "-"
    if code < 0:
        try:
            return signal.Signals(-code).name
        except ValueError:
            return f"signal {-code}"
    return str(code)


def _short(text: str | None, width: int = 70) -> str:
    if not text:
        return "-"
    return text if len(text) <= width else text[: width - 3] + "..."
