"""A systemd timer and its service as one job.

`OnCalendar=` becomes `cron` (see `calendar`), `OnUnitActiveSec=` becomes `every`,
`Persistent=true` catch-up `latest` (systemd runs one missed activation), else `none`;
`RandomizedDelaySec=` is `jitter`; overlap is `skip`, as systemd does not start a
service that is still active. Whatever changes when the job runs and cron or `every`
cannot say is refused with its line; settings without a counterpart are reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, NoReturn

from runner.errors import UsageError
from runner.importing.calendar import CalendarRefused, calendar_cron
from runner.importing.names import slug
from runner.importing.result import Imported, ImportedJob, ImportRefused, Skipped
from runner.importing.service import UnitName, is_quiet, is_true, read_service
from runner.importing.timespan import span_seconds
from runner.importing.unitfile import Setting, last, read_unit, values
from runner.spec.durations import format_seconds
from runner.spec.models import API_VERSION
from runner.spec.schedules import timezone_error

_BOOT = ("OnBootSec", "OnStartupSec", "OnActiveSec")
_QUIET_TIMER = {"AccuracySec", "RemainAfterElapse", "Unit"}  # nothing to carry over
_HANDLED_TIMER = {
    "OnCalendar", "OnUnitActiveSec", "OnUnitInactiveSec", "Persistent", "RandomizedDelaySec",
    *_BOOT, *_QUIET_TIMER,
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class UnitText:
    """A unit file's text and the name it is reported under."""

    source: str
    text: str

    @property
    def name(self) -> str:
        return PurePosixPath(self.source).name


def service_name(timer: UnitText) -> str:
    """The service a timer starts: its `Unit=`, else the one of the same name."""
    unit = last(read_unit(timer.text, timer.source), "Timer", "Unit")
    if unit is not None:
        return unit.value
    return timer.name.rsplit(".", 1)[0] + ".service"


def import_timer(
    timer: UnitText, service: UnitText, *, unit: str, timezone: str | None = None
) -> Imported:
    """The job of `timer` running `service` (the unit named `unit`)."""
    if timezone is not None and (problem := timezone_error(timezone)):
        raise UsageError(f"--timezone: {problem}")
    timer_settings = read_unit(timer.text, timer.source)
    skipped: list[Skipped] = []
    schedule = _schedule(timer_settings, timer.source, zone=timezone or "UTC", skipped=skipped)
    service_settings = read_unit(service.text, service.source)
    ran = read_service(service_settings, service.source, unit=UnitName(unit))
    skipped += [_left_out(timer.source, s) for s in timer_settings if _unhandled(s)]
    skipped += ran.skipped
    name = slug(timer.name.rsplit(".", 1)[0])
    document: dict[str, Any] = {"apiVersion": API_VERSION, "kind": "Job", "name": name}
    description = _description(timer_settings) or _description(service_settings)
    if description:
        document["description"] = description
    document["schedule"] = schedule
    document.update(ran.fields)
    document["tasks"] = ran.tasks
    job = ImportedJob(document, f"{timer.source} and {service.source}", "")
    note = "times are read in " + (
        f"{timezone} (--timezone)"
        if timezone
        else "UTC: the host's time zone was not given (--timezone)"
    )
    return Imported(timer.source, (job,), tuple(skipped), (note,))


def _description(settings: list[Setting]) -> str | None:
    found = last(settings, "Unit", "Description")
    return found.value if found else None


def _unhandled(setting: Setting) -> bool:
    if setting.section == "Timer":
        return setting.key not in _HANDLED_TIMER
    return not is_quiet(setting)


def _left_out(source: str, setting: Setting) -> Skipped:
    reason = f"[{setting.section}] {setting.key}= has no counterpart in a runner job"
    return Skipped(source, setting.line, setting.text, reason)


def _schedule(
    settings: list[Setting], source: str, *, zone: str, skipped: list[Skipped]
) -> dict[str, Any]:
    """The job's schedule from the timer's settings."""
    calendars = values(settings, "Timer", "OnCalendar")
    intervals = values(settings, "Timer", "OnUnitActiveSec")
    _refuse_other_triggers(settings, source, calendars=calendars, intervals=intervals)
    if calendars:
        schedule = _calendar_schedule(calendars, source, zone)
        persistent = last(settings, "Timer", "Persistent")
        schedule["catchup"] = "latest" if persistent and is_true(persistent.value) else "none"
    else:
        schedule = {"every": _span(intervals[-1], source), "catchup": "none"}
        for setting in settings:
            if setting.key in (*_BOOT, "Persistent") and setting.section == "Timer":
                why = f"{setting.key}= is not imported: `every` ticks from the epoch, not boot"
                skipped.append(Skipped(source, setting.line, setting.text, why))
    schedule["overlap"] = "skip"
    delay = last(settings, "Timer", "RandomizedDelaySec")
    if delay is not None and delay.value:
        schedule["jitter"] = _span(delay, source, zero=True)
    return schedule


def _refuse_other_triggers(
    settings: list[Setting], source: str, *, calendars: list[Setting], intervals: list[Setting]
) -> None:
    inactive = values(settings, "Timer", "OnUnitInactiveSec")
    boot = [s for key in _BOOT for s in values(settings, "Timer", key)]
    if inactive:
        _refuse(source, inactive[0], "counts from when the service last ended; `every` cannot")
    if calendars and intervals:
        _refuse(source, intervals[0], "beside OnCalendar=: a job has a cron or an every")
    if len(intervals) > 1:
        _refuse(source, intervals[1], "a second interval: a job has one every")
    if not calendars and not intervals:
        if boot:
            _refuse(source, boot[0], "alone runs once after boot; runner has no boot trigger")
        raise ImportRefused(f"{source}: no OnCalendar= or OnUnitActiveSec=: no schedule")


def _refuse(source: str, setting: Setting, why: str) -> NoReturn:
    raise ImportRefused(f"{source}:{setting.line}: {setting.key}={setting.value}: {why}")


def _calendar_schedule(calendars: list[Setting], source: str, zone: str) -> dict[str, Any]:
    crons: list[str] = []
    zones: set[str] = set()
    for setting in calendars:
        try:
            event = calendar_cron(setting.value)
        except CalendarRefused as exc:
            _refuse(source, setting, str(exc))
        zones.add(event.zone or zone)
        if len(zones) > 1:
            _refuse(source, setting, "a second time zone: a job's crons share one")
        if event.cron not in crons:
            crons.append(event.cron)
    return {"cron": crons[0] if len(crons) == 1 else crons, "timezone": zones.pop()}


def _span(setting: Setting, source: str, *, zero: bool = False) -> str:
    seconds = span_seconds(setting.value)
    if seconds is None or (seconds == 0 and not zero):
        _refuse(source, setting, "not a span of whole seconds runner can write (5min, 1h)")
    return format_seconds(seconds)
