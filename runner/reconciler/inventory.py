"""What is applied, as `runner jobs` and the API list it (SPEC 6)."""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from runner.config.loader import display_path
from runner.domain.holds import hold_covers, released_by
from runner.domain.states import RunState, TaskState
from runner.domain.timing import timing_of
from runner.spec.schedules import ticks
from runner.spec.types import format_timestamp, read_timestamp
from runner.store import Store
from runner.store.interfaces import RunHistory

FINISHED = (RunState.SUCCESS, RunState.FAILED, RunState.CANCELLED, RunState.STALE)


@dataclass(frozen=True, slots=True, kw_only=True)
class JobSummary:
    name: str
    labels: Mapping[str, str]
    mode: str
    schedule: dict[str, Any]
    status: str | None  # a manual job's as written: None when its file has no status
    disabled: bool
    revision: int
    source_file: str
    source_line: int
    next_run: datetime | None
    last_run: tuple[int, str] | None
    holds: list[dict[str, Any]]
    deleting: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": "Job",
            "labels": dict(self.labels),
            "mode": self.mode,
            "schedule": self.schedule,
            "status": self.status,
            "disabled": self.disabled,
            "revision": self.revision,
            "source": {"file": self.source_file, "line": self.source_line},
            "next_run": format_timestamp(self.next_run) if self.next_run else None,
            "last_run": (
                {"id": self.last_run[0], "state": self.last_run[1]} if self.last_run else None
            ),
            "holds": self.holds,
            "deleting": self.deleting,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> JobSummary:
        """`as_json`'s answer read back (the CLI's `--server`)."""
        last = data["last_run"]
        return cls(
            name=data["name"],
            labels=data["labels"],
            mode=data["mode"],
            schedule=data["schedule"],
            status=data["status"],
            disabled=data["disabled"],
            revision=data["revision"],
            source_file=data["source"]["file"],
            source_line=data["source"]["line"],
            next_run=read_timestamp(data["next_run"]) if data["next_run"] else None,
            last_run=(last["id"], last["state"]) if last else None,
            holds=data["holds"],
            deleting=data["deleting"],
        )


def list_jobs(
    store: Store,
    *,
    now: datetime,
    labels: Mapping[str, str] | None = None,
    state: str | None = None,
    name: str | None = None,
) -> list[JobSummary]:
    """The applied jobs (or only the one named), with what `runner jobs` shows."""
    stored = store.resources("Job", names=[name] if name is not None else None)
    specs = store.current_specs(stored)
    holds_of = _Holds(store, now)
    cwd = os.getcwd()
    last = store.last_runs()
    out = []
    for s in stored:
        spec = specs.get((s.kind, s.name), {})
        if labels and any(spec.get("labels", {}).get(k) != v for k, v in labels.items()):
            continue
        if state and (last.get(s.name, (0, "never"))[1] != state):
            continue
        schedule = spec.get("schedule", {})
        out.append(
            JobSummary(
                name=s.name,
                labels=spec.get("labels", {}),
                mode=schedule.get("mode", "manual"),
                schedule=schedule,
                status=spec.get("status"),
                disabled=bool(spec.get("disabled")),
                revision=s.revision,
                source_file=_shown(s.source_file, cwd),
                source_line=s.source_line,
                next_run=next_run(spec, now, key=s.digest),
                last_run=last.get(s.name),
                holds=holds_of(s.name, spec),
                deleting=s.deleting,
            )
        )
    return out


class _Holds:
    """The holds in force on each job of a listing: its own, the Hold resources that
    cover it, the runtime ones (a dependency's last run is read once per listing)."""

    def __init__(self, store: Store, now: datetime) -> None:
        self.store, self.now = store, now
        self.specs = store.current_specs(store.resources("Hold"))
        self.runtime = store.runtime_holds()
        self.met: dict[tuple[str, str | None], bool] = {}

    def __call__(self, job: str, spec: Mapping[str, Any]) -> list[dict[str, Any]]:
        if not self.specs and not self.runtime and not spec.get("holds"):
            return []  # most jobs, most of the time: nothing to look at
        holds = [
            {"name": h["name"], "origin": "config"} for h in spec.get("holds", []) if self.active(h)
        ]
        holds += [
            {"name": name, "origin": "config"}
            for (_, name), h in self.specs.items()
            if hold_covers(h, spec) and self.active(h)
        ]
        labels = spec.get("labels") or {}
        holds += [
            {"name": h.name, "origin": "runtime"} for h in self.runtime if h.covers(job, labels)
        ]
        return holds

    def active(self, hold: Mapping[str, Any]) -> bool:
        return not released_by(hold, now=self.now, dependency_met=self._met)

    def _met(self, depends: Mapping[str, Any]) -> bool:
        key = (depends["job"], depends.get("task"))
        if key not in self.met:
            self.met[key] = dependency_met(self.store, depends)
        return self.met[key]


def next_run(spec: Mapping[str, Any], now: datetime, *, key: str = "") -> datetime | None:
    """When the schedule next ticks (ignoring holds and pauses), or None. `key`: the
    spec's digest, when known (else the schedule is the key)."""
    schedule = spec.get("schedule") or {}
    if spec.get("disabled") or schedule.get("mode") != "auto" or not schedule.get("enabled"):
        return None
    key = key or json.dumps(schedule, sort_keys=True)
    known = _NEXT.get(key)
    if known is not None and known[0] <= now < known[1]:
        return known[1]  # the same tick as last time: no cron walked again
    found = next(ticks(timing_of(schedule), after=now), None)
    if found is not None:
        if len(_NEXT) >= NEXT_KEPT:
            _NEXT.clear()
        _NEXT[key] = (now, found)
    return found


@functools.lru_cache(maxsize=4096)
def _shown(path: str, cwd: str) -> str:
    """A job's file as `runner jobs` shows it (relative to `cwd` when under it)."""
    return display_path(path, cwd)


# The next tick last found for each schedule, and when it was asked: valid until that
# tick (listing 1,000 jobs again within a minute walks no cron; the API's `GET /v1/jobs`).
_NEXT: dict[str, tuple[datetime, datetime]] = {}
NEXT_KEPT = 50_000


def dependency_met(store: RunHistory, depends: Mapping[str, Any]) -> bool:
    """A hold's `dependsOn` (SPEC 1.3): the latest finished run of the job ended
    `success` (and so did the task, when one is named)."""
    latest = store.history(job=depends["job"], states=FINISHED, limit=1)
    if not latest or latest[0].state != RunState.SUCCESS:
        return False
    task = depends.get("task")
    if not task:
        return True
    run = store.run(latest[0].id)
    return run is not None and any(
        t.name == task and t.state == TaskState.SUCCESS for t in run.tasks
    )
