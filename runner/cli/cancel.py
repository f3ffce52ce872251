"""`runner cancel RUN`."""

from __future__ import annotations

import json

import click

from runner.cli import complete
from runner.cli.options import RUN_ID, Where, json_option, where_options
from runner.errors import ExitCode


@click.command("cancel")
@click.argument("run_id", metavar="RUN", type=RUN_ID, shell_complete=complete.active_runs)
@click.option("--reason", default=None, help="Why, recorded with the run.")
@where_options
@json_option
def command(run_id: int, reason: str | None, where: Where, as_json: bool) -> int:
    """Cancel RUN: a running run's tasks are stopped and it ends cancelled; a scheduled
    run is discarded."""
    from runner.ops.runs import cancel
    from runner.runs.views import run_json

    record = where.call(
        lambda home: cancel(home, run_id, reason=reason),
        lambda api: api.cancel(run_id, reason=reason),
    )
    if as_json:
        click.echo(json.dumps(run_json(record), indent=2))
    else:
        click.echo(f"run {record.id} of {record.job}: {record.state} ({record.reason})")
    return ExitCode.OK
