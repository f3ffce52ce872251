"""`runner schedule` (issue 16): the next fire times of a cron expression, an interval,
or an applied job's schedule, each marked where a clock change affects it. The times
are the scheduler's own ticks (`runner.spec.fire_times` only explains them)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from runner.domain.timing import timing_of
from runner.errors import RunnerError, UsageError
from runner.ops.common import Home, now, opened_store
from runner.runs.reading import parse_time
from runner.runs.trigger import applied_job
from runner.spec.durations import HELP, format_seconds, parse_seconds
from runner.spec.fire_times import FireTime, fire_times
from runner.spec.schedules import CRON_FIELDS, Timing, cron_error, cron_fields, timezone_error
from runner.spec.types import format_timestamp

DEFAULT_COUNT = 10
MAX_COUNT = 10_000
WHAT = "give a cron expression ('30 2 * * *'), --every DURATION (15m) or --job NAME"


@dataclass(frozen=True, slots=True, kw_only=True)
class PreviewRequest:
    """What to preview: a cron expression or an interval (in `timezone`), or a job."""

    cron: str | None = None
    every: str | None = None
    job: str | None = None
    timezone: str | None = None
    start: str | None = None  # a date or a time (as `history --since`); None: now
    count: int = DEFAULT_COUNT


@dataclass(frozen=True, slots=True)
class JobSchedule:
    """An applied job's normalised schedule, read here or through the API."""

    name: str
    schedule: Mapping[str, Any]
    disabled: bool


@dataclass(frozen=True, slots=True)
class SchedulePreview:
    timing: Timing  # neither cron nor every: a manual job
    start: datetime
    times: tuple[FireTime, ...] = ()
    job: str | None = None
    note: str | None = None  # why these times start no run (a manual or disabled job)

    @property
    def schedule(self) -> dict[str, Any] | None:
        """The schedule as a job file writes it, or None for a manual job."""
        if self.timing.cron:
            return {"cron": list(self.timing.cron)}
        if self.timing.every:
            return {"every": format_seconds(self.timing.every)}
        return None

    def as_json(self) -> dict[str, Any]:
        return {
            "job": self.job,
            "schedule": self.schedule,
            "timezone": self.timing.zone,
            "from": format_timestamp(self.start),
            "note": self.note,
            "times": [
                {
                    "at": format_timestamp(t.at),
                    "local": t.local.isoformat(),
                    "dst": t.dst,
                    "note": t.note,
                }
                for t in self.times
            ],
        }


def preview(request: PreviewRequest, *, read_job: Callable[[str], JobSchedule]) -> SchedulePreview:
    """The next `count` fire times at or after `start`; of `request.job`, read with
    `read_job` (from the store, or the API)."""
    _check(request)
    start = _start(request.start)
    if request.job is not None:
        return _job_preview(read_job(request.job), start, request.count)
    timing = Timing(
        cron=_cron(request.cron) if request.cron is not None else (),
        every=_every(request.every) if request.every is not None else None,
        zone=_zone("UTC" if request.timezone is None else request.timezone),
    )
    return _preview(timing, start, request.count)


def read_job(home: Home, name: str) -> JobSchedule:
    """The applied job `name`'s schedule, or the error naming the close ones."""
    with opened_store(home) as store:
        _, spec = applied_job(store, name)
    return JobSchedule(name, spec.get("schedule") or {}, bool(spec.get("disabled")))


def _check(request: PreviewRequest) -> None:
    given = [request.cron is not None, request.every is not None, request.job is not None]
    if sum(given) != 1:
        raise UsageError(
            "give only one of a cron expression, --every and --job" if any(given) else WHAT
        )
    if request.job is not None and request.timezone is not None:
        raise UsageError(
            f"--timezone: job {request.job}'s schedule runs in its own time zone; "
            "leave --timezone out"
        )
    if not 1 <= request.count <= MAX_COUNT:
        raise UsageError(f"--count {request.count}: give 1 to {MAX_COUNT}")


def _start(text: str | None) -> datetime:
    if text is None:
        return now()
    try:
        return parse_time(text, option="--from")
    except RunnerError as exc:  # a malformed option is a usage error (SPEC 6)
        raise UsageError(exc.message, code=exc.code) from None


def _cron(expression: str) -> tuple[str, ...]:
    words = cron_fields(expression)
    if words and words[0].lower() in ("every", "@every"):
        rest = " ".join(words[1:]) or "15m"
        raise UsageError(
            f'"{expression}" is not a cron expression; for an interval: --every {rest}'
        )
    if len(words) > len(CRON_FIELDS) + 1:  # 6 fields gets cron_error's own word on seconds
        raise UsageError(
            f"{len(words)} words where a cron expression has 5 fields: quote the expression "
            "('0 2 * * *'), as a shell expands a bare * to the names of files",
            code="bad-cron",
        )
    problem = cron_error(expression)
    if problem is not None:
        raise UsageError(problem, code="bad-cron")
    return (" ".join(words),)


def _every(text: str) -> int:
    seconds = parse_seconds(text.strip())
    if seconds is None:
        raise UsageError(f'--every "{text}" is not a duration; use {HELP}', code="bad-duration")
    if seconds == 0:
        raise UsageError("--every 0s: an interval must be more than 0s", code="bad-duration")
    return seconds


def _zone(name: str) -> str:
    problem = timezone_error(name)
    if problem is not None:
        raise UsageError(f"--timezone: {problem}", code="bad-timezone")
    return name


def _preview(timing: Timing, start: datetime, count: int, **about: Any) -> SchedulePreview:
    return SchedulePreview(
        timing, start, tuple(fire_times(timing, start=start, count=count)), **about
    )


def _job_preview(job: JobSchedule, start: datetime, count: int) -> SchedulePreview:
    timing = timing_of(job.schedule)
    if job.schedule.get("mode") != "auto" or not (timing.cron or timing.every):
        note = f"job {job.name} is manual: it runs only when triggered (runner run {job.name})"
        return SchedulePreview(Timing(zone=timing.zone), start, job=job.name, note=note)
    return _preview(timing, start, count, job=job.name, note=_idle(job))


def _idle(job: JobSchedule) -> str | None:
    """Why the ticks of an auto job start no run, or None when they do."""
    if job.disabled:
        return f"job {job.name} is disabled (disabled: true): none of these times starts a run"
    if not job.schedule.get("enabled", True):
        return (
            f"job {job.name}'s schedule is off (enabled: false): none of these times starts "
            f"a run; runner run {job.name} still does"
        )
    return None
