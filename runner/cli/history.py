"""`runner history`."""

from __future__ import annotations

import json
from pathlib import Path

import click

from runner.cli import complete
from runner.cli.options import home_option, json_option, store_option
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
@home_option
@store_option
@json_option
def command(
    job: str | None,
    since: str | None,
    until: str | None,
    states: tuple[str, ...],
    limit: int,
    home: str,
    store_url: str | None,
    as_json: bool,
) -> int:
    """Runs, newest first: of one JOB or of all, within a date or time range."""
    from runner.ops.common import Home, now
    from runner.ops.reading import history
    from runner.runs.views import run_json

    runs = history(
        Home(Path(home), store_url),
        job=job,
        since=since,
        until=until,
        states=states,
        limit=limit,
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
