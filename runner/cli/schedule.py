"""`runner schedule (EXPR | --every D | --job NAME) [--timezone TZ] [--from T] [--count N]`."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

from runner.cli import complete
from runner.cli.options import Where, json_option, where_options
from runner.errors import ExitCode

if TYPE_CHECKING:
    from runner.cli.remote import Api
    from runner.ops.schedule import JobSchedule, SchedulePreview

SHOWN = "%a %Y-%m-%d %H:%M:%S %Z"


@click.command("schedule")
@click.argument("expression", nargs=-1, metavar="[EXPR]")
@click.option(
    "--every", default=None, metavar="D", help="An interval instead of EXPR: 90s, 15m, 1h30m."
)
@click.option(
    "--job",
    default=None,
    metavar="NAME",
    shell_complete=complete.jobs,
    help="The schedule of this applied job.",
)
@click.option("--timezone", default=None, metavar="TZ", help="IANA zone of EXPR [default: UTC].")
@click.option(
    "--from", "start", default=None, metavar="T", help="From T: a date (UTC) or a time [now]."
)
@click.option("--count", type=int, default=10, show_default=True, help="How many fire times.")
@where_options
@json_option
def command(
    expression: tuple[str, ...],
    every: str | None,
    job: str | None,
    timezone: str | None,
    start: str | None,
    count: int,
    where: Where,
    as_json: bool,
) -> int:
    """The next fire times of a cron expression (5 fields or @daily, ...), an interval
    (--every 15m) or an applied job's schedule (--job NAME), in the schedule's time zone
    and in UTC, each marked where a clock change (DST) moves, skips or repeats it.

    runner schedule '30 2 * * *' --timezone Europe/Berlin --from 2027-03-27 --count 3"""
    from runner.ops.schedule import PreviewRequest, preview, read_job

    request = PreviewRequest(
        cron=" ".join(expression) if expression else None,
        every=every,
        job=job,
        timezone=timezone,
        start=start,
        count=count,
    )
    found = where.call(
        lambda home: preview(request, read_job=lambda name: read_job(home, name)),
        lambda api: preview(request, read_job=lambda name: _remote_job(api, name)),
    )
    click.echo(json.dumps(found.as_json(), indent=2) if as_json else render(found))
    return ExitCode.OK


def _remote_job(api: Api, name: str) -> JobSchedule:
    from runner.cli.remote import segment
    from runner.ops.schedule import JobSchedule
    from runner.runs.reading import JobStatus

    job = JobStatus.from_json(api.get(f"/v1/jobs/{segment(name)}/status")).job
    return JobSchedule(job.name, job.schedule, job.disabled)


def render(found: SchedulePreview) -> str:
    """systemd-analyze calendar's layout: a label, the local time, UTC, then a note."""
    zone = found.timing.zone
    rows = [("Job", found.job)] if found.job else []
    shown = _schedule_text(found)
    rows.append(("Schedule", shown if found.schedule is None else f"{shown}  ({zone})"))
    if found.note:
        rows.append(("Note", found.note))
    if found.schedule is not None:
        rows.append(("From", _when(found.start, zone)))
        local_width = max((len(f"{t.local:{SHOWN}}") for t in found.times), default=0)
        for n, time in enumerate(found.times, start=1):
            text = _when(time.at, zone, width=local_width)
            rows.append((f"Next {n}", text + (f"  {time.note}" if time.note else "")))
        if not found.times:
            rows.append(("Next", "none: the calendar ends first (the year 9999)"))
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label:>{width}}: {text}" for label, text in rows)


def _schedule_text(found: SchedulePreview) -> str:
    from runner.spec.schedules import expand_cron

    schedule = found.schedule
    if schedule is None:
        return "manual"
    if "every" in schedule:
        return f"every {schedule['every']}"
    shown = [c if expand_cron(c) == c else f"{c} = {expand_cron(c)}" for c in schedule["cron"]]
    return "; ".join(shown)


def _when(at: datetime, zone: str, *, width: int = 0) -> str:
    """A time in the schedule's zone, then in UTC (once, where the zone is UTC)."""
    from runner.spec.schedules import load_zone

    local = f"{at.astimezone(load_zone(zone)):{SHOWN}}"
    if zone == "UTC":
        return local
    return f"{local:<{width}}  ({at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC)"
