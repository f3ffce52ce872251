"""`runner history`."""

from __future__ import annotations

import json

import click

from runner.cli import complete
from runner.cli.options import Where, json_option, where_options
from runner.errors import ExitCode


@click.command("history")
@click.argument("job", required=False, shell_complete=complete.jobs)
@click.option(
    "--since",
    default=None,
    metavar="T",
    help="Runs due at or after T: a date (2026-11-01, UTC) or a time.",
)
@click.option(
    "--until",
    default=None,
    metavar="T",
    help="Runs due before T (a date: up to the end of that day).",
)
@click.option("--state", "states", multiple=True, metavar="S", help="Only runs in this state.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@where_options
@json_option
def command(
    job: str | None,
    since: str | None,
    until: str | None,
    states: tuple[str, ...],
    limit: int,
    where: Where,
    as_json: bool,
) -> int:
    """Runs, newest first: of one JOB or of all, within a date or time range."""
    from runner.ops.common import now
    from runner.ops.reading import history
    from runner.runs.views import run_json

    runs = where.call(
        lambda home: history(home, job=job, since=since, until=until, states=states, limit=limit),
        lambda api: api.history(job=job, since=since, until=until, states=states, limit=limit),
    )
    if as_json:
        click.echo(json.dumps([run_json(r) for r in runs], indent=2))
    elif not runs:
        click.echo("No runs.")
    else:
        from runner.cli.show import RUN_HEADERS, run_row
        from runner.cli.table import table

        at = now()
        click.echo(table(RUN_HEADERS, [run_row(r, at) for r in runs]))
    return ExitCode.OK
