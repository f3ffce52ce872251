"""history, tasks and logs (SPEC 6): what ran, read from the store. (`jobs` and
`status` have modules of their own, so that each command loads only what it needs.)"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from runner.clock import Clock, SystemClock
from runner.errors import UsageError
from runner.executors.logs import LogFiles
from runner.ops.common import Home, opened_store
from runner.runs.reading import (
    LogRef,
    follow,
    log_refs,
    parse_time,
    task_last_runs,
)
from runner.runs.reading import history as run_history
from runner.runs.views import task_from_json, task_json
from runner.store import RunRecord, TaskRecord


def history(
    home: Home,
    *,
    job: str | None = None,
    since: str | None = None,
    until: str | None = None,
    states: Sequence[str] = (),
    limit: int = 50,
) -> list[RunRecord]:
    """Runs, newest first: of `job` or of all, due within [since, until) (a date or a
    time; a date as `until` is up to the end of that day)."""
    if limit < 1:
        raise UsageError(f"--limit {limit}: give at least 1")
    start = parse_time(since, option="--since") if since else None
    end = parse_time(until, option="--until", end=True) if until else None
    with opened_store(home) as store:
        return run_history(store, job=job, since=start, until=end, states=states, limit=limit)


@dataclass(frozen=True, slots=True)
class TaskLastRun:
    name: str
    last: TaskRecord | None  # its row in the newest run where it started; None: never

    def as_json(self) -> dict[str, Any]:
        if self.last is None:
            return {"name": self.name, "run": None, "state": None}
        return {"name": self.name, "run": self.last.run_id, **task_json(self.last)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TaskLastRun:
        """`as_json`'s answer read back (the CLI's `--server`)."""
        run = data["run"]
        return cls(data["name"], None if run is None else task_from_json(data, run_id=run))


def tasks(home: Home, job: str) -> list[TaskLastRun]:
    """Every task of `job` as applied, with its last run."""
    with opened_store(home) as store:
        return [TaskLastRun(name, last) for name, last in task_last_runs(store, job)]


class TaskLog(Protocol):
    """One attempt's output: a file here (`Log`), or a text the API answered (`LogText`)."""

    @property
    def ref(self) -> LogRef: ...
    @property
    def path(self) -> Path: ...
    @property
    def exists(self) -> bool: ...
    def chunks(self) -> Iterator[bytes]: ...
    def as_json(self) -> dict[str, Any]: ...


def log_json(ref: LogRef, text: bytes) -> dict[str, Any]:
    return {"task": ref.task, "attempt": ref.attempt, "log": text.decode(errors="replace")}


@dataclass(frozen=True, slots=True)
class Log:
    """One attempt's output, read from its file when asked."""

    ref: LogRef
    files: LogFiles

    @property
    def path(self) -> Path:
        return self.files.path(self.ref.key)

    @property
    def exists(self) -> bool:
        return self.files.exists(self.ref.key)

    def chunks(self) -> Iterator[bytes]:
        return self.files.read_chunks(self.ref.key)

    def as_json(self) -> dict[str, Any]:
        return log_json(self.ref, b"".join(self.chunks()))


@dataclass(frozen=True, slots=True)
class LogText:
    """One attempt's output, read already (the API's answer, for the CLI's `--server`)."""

    ref: LogRef
    text: bytes

    @property
    def path(self) -> Path:
        return Path(self.ref.key)

    @property
    def exists(self) -> bool:
        return True

    def chunks(self) -> Iterator[bytes]:
        yield self.text

    def as_json(self) -> dict[str, Any]:
        return log_json(self.ref, self.text)


@dataclass(frozen=True, slots=True)
class Logs:
    run: RunRecord
    logs: Sequence[TaskLog]  # of one task, or of every task that started, in task order


def logs(home: Home, run_id: int, *, task: str | None = None, attempt: int | None = None) -> Logs:
    """A run's logs: of `task` (its latest attempt, or `attempt`), or of every task."""
    files = LogFiles(home.path)
    with opened_store(home) as store:
        run, refs = log_refs(store, run_id, task, attempt)
    return Logs(run, [Log(ref, files) for ref in refs])


def follow_logs(
    home: Home,
    run_id: int,
    *,
    task: str | None = None,
    attempt: int | None = None,
    clock: Clock | None = None,
) -> Iterator[tuple[LogRef, bytes]]:
    """The output as it is written, until the run has ended and all of it is read;
    attempts that start meanwhile (a retry, the next task) are followed too."""
    files = LogFiles(home.path)
    with opened_store(home) as store:
        yield from follow(store, files, run_id, task, attempt, clock=clock or SystemClock())
