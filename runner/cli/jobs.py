"""`runner jobs`: the applied jobs."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from runner.cli.options import RUN_STATES, Where, json_option, where_options
from runner.errors import ExitCode

if TYPE_CHECKING:
    from runner.reconciler.inventory import JobSummary


@click.command("jobs")
@where_options
@click.option("--label", "labels", multiple=True, metavar="K=V", help="Only jobs with this label.")
@click.option(
    "--state",
    type=click.Choice(RUN_STATES),
    default=None,
    help="Only jobs whose last run is in this state.",
)
@json_option
def command(where: Where, labels: tuple[str, ...], state: str | None, as_json: bool) -> int:
    """List the applied jobs: mode, schedule, next run, last run, holds, revision, source."""
    wanted = {}
    for item in labels:
        key, sep, value = item.partition("=")
        if not sep:
            raise click.BadParameter(f'"{item}" is not K=V', param_hint="--label")
        wanted[key] = value
    from runner.cli.table import table
    from runner.ops.jobs import jobs as list_jobs

    jobs = where.call(
        lambda home: list_jobs(home, labels=wanted, state=state),
        lambda api: api.jobs(labels=wanted, state=state),
    )
    if as_json:
        click.echo(json.dumps([j.as_json() for j in jobs], indent=2))
        return ExitCode.OK
    if not jobs:
        click.echo("No jobs applied." if not (wanted or state) else "No job matches.")
        return ExitCode.OK
    click.echo(
        table(
            ["NAME", "MODE", "SCHEDULE", "NEXT RUN", "LAST RUN", "HOLDS", "REV", "SOURCE"],
            [_row(j) for j in jobs],
        )
    )
    return ExitCode.OK


def _row(j: JobSummary) -> list[str]:
    from runner.domain.timing import timing_of
    from runner.spec.schedules import local_times

    schedule = j.schedule
    when = ", ".join(schedule.get("cron") or []) or (
        f"every {schedule['every']}" if schedule.get("every") else "-"
    )
    if schedule.get("cron") and schedule.get("timezone", "UTC") != "UTC":
        when += f" ({schedule['timezone']})"
    next_run = local_times(timing_of(schedule), [j.next_run])[0] if j.next_run else "-"
    mode = "disabled" if j.disabled else j.mode + (" (paused)" if j.status == "paused" else "")
    last = f"{j.last_run[1]} (#{j.last_run[0]})" if j.last_run else "-"
    holds = (
        ", ".join(h["name"] + (" (runtime)" if h["origin"] == "runtime" else "") for h in j.holds)
        or "-"
    )
    return [
        j.name + (" (deleting)" if j.deleting else ""),
        mode,
        when,
        next_run,
        last,
        holds,
        str(j.revision),
        f"{j.source_file}:{j.source_line}",
    ]
