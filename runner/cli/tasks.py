"""`runner tasks JOB`."""

from __future__ import annotations

import json

import click

from runner.cli.common import store_for
from runner.cli.options import home_option, json_option, store_option
from runner.cli.show import TASK_HEADERS, task_row
from runner.cli.table import table
from runner.clock import SystemClock
from runner.errors import ExitCode
from runner.runs.reading import task_last_runs
from runner.runs.views import task_json


@click.command("tasks")
@click.argument("job")
@home_option
@store_option
@json_option
def command(job: str, home: str, store_url: str | None, as_json: bool) -> int:
    """The last run of every task of JOB."""
    clock = SystemClock()
    with store_for(home, store_url) as store:
        rows = task_last_runs(store, job)
    if as_json:
        click.echo(
            json.dumps(
                [
                    {"name": name, "run": t.run_id, **task_json(t)}
                    if t
                    else {"name": name, "run": None, "state": None}
                    for name, t in rows
                ],
                indent=2,
            )
        )
        return ExitCode.OK
    now = clock.now()
    out = []
    for name, t in rows:
        out.append(
            [*task_row(t, now), str(t.run_id)] if t else [name, "never run", *["-"] * 5, "-"]
        )
    click.echo(table([*TASK_HEADERS, "RUN"], out))
    return ExitCode.OK
