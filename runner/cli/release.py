"""`runner release (JOB [HOLD] | --name N)`."""

from __future__ import annotations

import json

import click

from runner.cli import complete
from runner.cli.options import Where, json_option, where_options
from runner.errors import ExitCode, UsageError


@click.command("release")
@click.argument("job", required=False, shell_complete=complete.jobs)
@click.argument("hold", required=False)
@click.option("--name", "name", default=None, help="End every runtime hold with this name.")
@where_options
@json_option
def command(
    job: str | None, hold: str | None, name: str | None, where: Where, as_json: bool
) -> int:
    """End runtime holds: JOB alone ends every runtime hold on JOB, JOB HOLD that one,
    --name N every runtime hold named N. A hold written in a file is released by
    changing the file."""
    from runner.ops.holds import release, target

    if (job is None) == (name is None):
        raise UsageError("give a JOB (and a HOLD), or --name N: `runner release --help`")
    named = hold if job else name
    released = where.call(
        lambda home: release(home, job=job, hold=named),
        lambda api: api.release(job=job, hold=named),
    )
    if as_json:
        click.echo(json.dumps(released.as_json(), indent=2))
    else:
        for h in released.holds:
            click.echo(f"released {h['name']} (runtime) on {target(h)}")
    return ExitCode.OK
