"""status (SPEC 6): a run's tasks and progress, a job's schedule, holds and active runs,
or (of nothing named) the daemon's health, the last reconcile and the runs under way."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.daemon.lock import holder
from runner.ops.common import Home, now, opened_store
from runner.runs.cancel import find_run
from runner.runs.reading import JobStatus, is_run_id, job_status, overview
from runner.runs.views import run_from_json, run_json
from runner.store import RunRecord, Store
from runner.store.daemonlock import daemon_on_store


@dataclass(frozen=True, slots=True)
class Overview:
    daemon: dict[str, Any]  # {"running": true, pid, host, since, ...} or {"running": false, last}
    configuration: dict[str, Any]  # the digests and the last reconcile, with its errors
    runs: dict[str, list[int]]  # {"running": [...], "queued": [...]}

    def as_json(self) -> dict[str, Any]:
        return {"daemon": self.daemon, "configuration": self.configuration, "runs": self.runs}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Overview:
        """`as_json`'s answer read back (the CLI's `--server`)."""
        return cls(daemon=data["daemon"], configuration=data["configuration"], runs=data["runs"])


@dataclass(frozen=True, slots=True)
class RunStatus:
    run: RunRecord

    def as_json(self) -> dict[str, Any]:
        return run_json(self.run, attempts=True)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunStatus:
        return cls(run_from_json(data))


__all__ = ["JobStatus", "Overview", "RunStatus", "Status", "status"]

Status = Overview | RunStatus | JobStatus


def status(home: Home, target: str | None = None) -> Status:
    """Of nothing: the overview; of a number that is a run's id, that run; else the job
    of that name."""
    with opened_store(home) as store:
        if target is None:
            return Overview(daemon=_daemon(home.path, store), **overview(store))
        if is_run_id(store, target):
            return RunStatus(find_run(store, int(target)))
        return job_status(store, target, now=now())


def _daemon(home: Path, store: Store) -> dict[str, Any]:
    """Whether a daemon runs on this home (it holds the home's lock), and what it said
    about itself when it started."""
    held = holder(home)
    record = store.daemon_record() or {}
    if held is not None:
        return {"running": True, **record, **held}
    if record and daemon_on_store(store):  # from another home, on one PostgreSQL store
        return {"running": True, **record}
    return {"running": False, "last": record or None}
