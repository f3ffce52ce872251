"""A job as the code above the language reads it: the normalised spec (plain data, as
stored) parsed once into typed views, with durations in seconds. A revision never
changes, so a view is made once per (job, revision) and kept by whoever reads it
(`JobViews`); many jobs share one schedule, and so one `ScheduleView`."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from runner.domain.timing import timing_of
from runner.spec.durations import parse_seconds
from runner.spec.env import EnvRef, env_entry
from runner.spec.schedules import Timing

_EMPTY: Mapping[str, str] = MappingProxyType({})
EnvValues = Mapping[str, str | EnvRef]  # a string, or what is read when the task starts


def schedule_digest(schedule: Mapping[str, Any]) -> str:
    """What a cursor remembers of the schedule it was handled for (a change resets it)."""
    return hashlib.sha256(json.dumps(schedule, sort_keys=True).encode()).hexdigest()


def seconds(value: Any) -> float | None:
    """A normalised duration (`30s`, `1h30m`, or a number of seconds) in seconds; None
    when unset."""
    if value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    found = parse_seconds(str(value))
    return float(found) if found is not None else None


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduleView:
    mode: str  # auto | manual
    enabled: bool
    timing: Timing  # the crons (in their time zone) or the interval its ticks come from
    overlap: str  # skip | queue | cancel-running | allow
    catchup: str  # none | latest | all
    starting_deadline: float | None  # seconds; None: no deadline
    jitter: float  # seconds
    digest: str  # schedule_digest of the stored schedule

    @property
    def auto(self) -> bool:
        return self.mode == "auto"


@dataclass(frozen=True, slots=True)
class Retries:
    limit: int = 0
    delay: float = 10.0
    backoff: float = 2.0
    max_delay: float = 600.0

    def wait(self, failed_attempt: int) -> float:
        """The wait before the attempt after `failed_attempt` (1-based):
        delay * backoff^(n-1), capped at max_delay."""
        return float(min(self.delay * self.backoff ** (failed_attempt - 1), self.max_delay))


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskView:
    name: str
    kind: str = "command"
    run: str | None = None
    argv: tuple[str, ...] | None = None
    after: tuple[str, ...] = ()
    active: bool = True
    env: EnvValues = field(default_factory=lambda: _EMPTY)
    workdir: str | None = None
    timeout: float | None = None
    retries: Retries = Retries()
    continue_on_error: bool = False
    prompt: str | None = None
    pool: str | None = None  # the Pool it takes a slot of while it runs (its job's, or its own)
    user: str | None = None  # the account it runs as (its own, or its job's)
    group: str | None = None

    @property
    def command(self) -> list[str]:
        if self.argv is not None:
            return list(self.argv)
        return ["/bin/sh", "-c", self.run or ""]

    @property
    def shown(self) -> str:
        """The command as a person would type it, for messages."""
        return self.argv[0] if self.argv else (self.run or "")


@dataclass(frozen=True, slots=True, kw_only=True)
class JobView:
    name: str
    schedule: ScheduleView
    status: str | None  # start | paused | None (a manual job that waits for a trigger)
    disabled: bool
    labels: Mapping[str, str]
    after: tuple[str, ...]  # the jobs it follows up
    holds: tuple[Mapping[str, Any], ...]  # its inline holds, as stored
    hold_on_failure: int | None
    keep_runs: int | None
    keep_days: int | None
    tasks: tuple[TaskView, ...]
    env: EnvValues
    workdir: str | None
    timeout: float | None  # seconds, for the whole run
    max_parallel: int | None = None  # its tasks at once, across its runs
    pools: frozenset[str] = frozenset()  # the Pools its tasks take slots of
    env_passthrough: tuple[str, ...] = ()  # the daemon's variables its tasks get as they are

    @property
    def has_secrets(self) -> bool:
        """Whether a run needs its file read for `{value: V, secret: true}` values."""
        envs = [self.env, *(t.env for t in self.tasks)]
        return any(isinstance(v, EnvRef) and v.source == "secret" for e in envs for v in e.values())

    @property
    def limited(self) -> bool:
        """Whether its tasks wait for slots beyond the daemon's --max-parallel."""
        return self.max_parallel is not None or bool(self.pools)

    @property
    def task_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.tasks)


def job_view(spec: Mapping[str, Any]) -> JobView:
    """The view of a job's normalised spec."""
    history = spec.get("history") or {}
    limit = spec.get("holdOnFailure")
    return JobView(
        name=str(spec.get("name") or ""),
        schedule=schedule_view(spec.get("schedule")),
        status=spec.get("status"),
        disabled=bool(spec.get("disabled")),
        labels=_strings(spec.get("labels")),
        after=tuple(str(a) for a in spec.get("after") or ()),
        holds=tuple(MappingProxyType(dict(h)) for h in spec.get("holds") or ()),
        hold_on_failure=limit if isinstance(limit, int) and limit > 0 else None,
        keep_runs=history.get("keepRuns"),
        keep_days=history.get("keepDays"),
        tasks=tuple(task_view(t) for t in spec.get("tasks") or ()),
        env=_env(spec.get("env")),
        workdir=spec.get("workdir"),
        timeout=seconds(spec.get("timeout")),
        max_parallel=spec.get("maxParallel"),
        env_passthrough=tuple(spec.get("envPassthrough") or ()),
        pools=frozenset(t["pool"] for t in spec.get("tasks") or () if t.get("pool")),
    )


def schedule_view(schedule: Mapping[str, Any] | None) -> ScheduleView:
    """The view of a normalised schedule (or none: a manual job's)."""
    return _schedule(json.dumps(schedule or {}, sort_keys=True))


@lru_cache(maxsize=4096)
def _schedule(text: str) -> ScheduleView:
    data = json.loads(text)
    return ScheduleView(
        mode=data.get("mode") or "manual",
        enabled=data.get("enabled", True) is not False,
        timing=timing_of(data),
        overlap=data.get("overlap") or "skip",
        catchup=data.get("catchup") or "latest",
        starting_deadline=seconds(data.get("startingDeadline")),
        jitter=seconds(data.get("jitter")) or 0.0,
        digest=hashlib.sha256(text.encode()).hexdigest(),
    )


def task_view(data: Mapping[str, Any]) -> TaskView:
    """The view of one normalised task; the same task in many jobs is one view."""
    return _task(json.dumps(data, sort_keys=True))


@lru_cache(maxsize=4096)
def _task(text: str) -> TaskView:
    data = json.loads(text)
    return TaskView(
        name=data["name"],
        kind=data.get("kind") or "command",
        run=data.get("run"),
        argv=tuple(data["argv"]) if data.get("argv") else None,
        after=tuple(data.get("after") or ()),
        active=data.get("active", True) is not False,
        env=_env(data.get("env")),
        workdir=data.get("workdir"),
        timeout=seconds(data.get("timeout")),
        retries=_retries(data.get("retries") or {}),
        continue_on_error=bool(data.get("continueOnError")),
        prompt=data.get("prompt"),
        pool=data.get("pool"),
        user=data.get("user"),
        group=data.get("group"),
    )


def _retries(data: Mapping[str, Any]) -> Retries:
    return _retries_of(
        int(data.get("limit") or 0),
        seconds(data.get("delay")) or 0.0,
        float(data.get("backoff") or 1.0),
        seconds(data.get("maxDelay")) or 0.0,
    )


@lru_cache(maxsize=256)
def _retries_of(limit: int, delay: float, backoff: float, max_delay: float) -> Retries:
    return Retries(limit=limit, delay=delay, backoff=backoff, max_delay=max_delay)


def _strings(values: Mapping[str, Any] | None) -> Mapping[str, str]:
    """Labels; the same ones in many jobs are one mapping."""
    if not values:
        return _EMPTY
    return _mapping(tuple((k, str(v)) for k, v in values.items()))


def _env(values: Mapping[str, Any] | None) -> EnvValues:
    """An env: strings, and the values read when the task starts (`EnvRef`)."""
    if not values:
        return _EMPTY
    return _mapping(tuple((k, env_entry(v)) for k, v in values.items()))


@lru_cache(maxsize=4096)
def _mapping(items: tuple[tuple[str, Any], ...]) -> Mapping[str, Any]:
    return MappingProxyType(dict(items))


class JobViews:
    """The views of the latest revision seen of each job, made once per revision."""

    def __init__(self) -> None:
        self._views: dict[str, tuple[int, JobView]] = {}

    def kept(self, name: str, revision: int) -> JobView | None:
        """The view of that revision, if it is kept."""
        kept = self._views.get(name)
        return kept[1] if kept is not None and kept[0] == revision else None

    def of(self, name: str, revision: int, spec: Mapping[str, Any] | None) -> JobView:
        """The view of `spec`, revision `revision` of job `name` (None: a kept one)."""
        view = self.kept(name, revision)
        if view is not None:
            return view
        if spec is None:
            raise LookupError(f"no view of revision {revision} of job {name} is kept")
        view = job_view(spec)
        self._views[name] = (revision, view)
        return view

    def forget(self, keep: set[str]) -> None:
        """Drop the views of the jobs not in `keep` (deleted)."""
        self._views = {name: kept for name, kept in self._views.items() if name in keep}
