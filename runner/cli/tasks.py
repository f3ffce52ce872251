"""`runner tasks JOB`."""

from __future__ import annotations

import json

import click

from runner.cli import complete
from runner.cli.options import Where, json_option, where_options
from runner.errors import ExitCode


@click.command("tasks")
@click.argument("job", shell_complete=complete.jobs)
@where_options
@json_option
def command(job: str, where: Where, as_json: bool) -> int:
    """The last run of every task of JOB."""
    from runner.cli.show import TASK_HEADERS, task_row
    from runner.cli.table import table
    from runner.ops.common import now
    from runner.ops.reading import tasks

    rows = where.call(lambda home: tasks(home, job), lambda api: api.tasks(job))
    if as_json:
        click.echo(json.dumps([t.as_json() for t in rows], indent=2))
        return ExitCode.OK
    at = now()
    out = []
    for t in rows:
        out.append(
            [*task_row(t.last, at), str(t.last.run_id)]
            if t.last
            else [t.name, "never run", *["-"] * 5, "-"]
        )
    click.echo(table([*TASK_HEADERS, "RUN"], out))
    return ExitCode.OK
