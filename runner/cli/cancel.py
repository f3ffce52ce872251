"""`runner cancel RUN`."""

from __future__ import annotations

import json
from pathlib import Path

import click

from runner.cli import complete
from runner.cli.options import RUN_ID, home_option, json_option, store_option
from runner.errors import ExitCode


@click.command("cancel")
@click.argument("run_id", metavar="RUN", type=RUN_ID, shell_complete=complete.active_runs)
@click.option("--reason", default=None, help="Why, recorded with the run.")
@home_option
@store_option
@json_option
def command(
    run_id: int, reason: str | None, home: str, store_url: str | None, as_json: bool
) -> int:
    """Cancel RUN: a running run's tasks are stopped and it ends cancelled; a scheduled
    run is discarded."""
    from runner.ops.common import Home
    from runner.ops.runs import cancel
    from runner.runs.views import run_json

    record = cancel(Home(Path(home), store_url), run_id, reason=reason)
    if as_json:
        click.echo(json.dumps(run_json(record), indent=2))
    else:
        click.echo(f"run {record.id} of {record.job}: {record.state} ({record.reason})")
    return ExitCode.OK
