"""`runner finish RUN TASK [--reject REASON]`."""

from __future__ import annotations

from pathlib import Path

import click

from runner.cli import complete
from runner.cli.options import RUN_ID, home_option, json_option, store_option


@click.command("finish")
@click.argument("run_id", metavar="RUN", type=RUN_ID, shell_complete=complete.active_runs)
@click.argument("task")
@click.option(
    "--reject", default=None, metavar="REASON", help="End the task failed, with this reason."
)
@home_option
@store_option
@json_option
def command(
    run_id: int, task: str, reject: str | None, home: str, store_url: str | None, as_json: bool
) -> int:
    """Finish TASK of RUN: a waiting (manual) or stopped task ends success, or failed
    with --reject; the run goes on."""
    from runner.cli.acting import show
    from runner.ops.actions import finish
    from runner.ops.common import Home

    return show(finish(Home(Path(home), store_url), run_id, task, reject=reject), as_json=as_json)
