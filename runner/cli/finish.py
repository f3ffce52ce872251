"""`runner finish RUN TASK [--reject REASON]`."""

from __future__ import annotations

import click

from runner.cli import complete
from runner.cli.options import RUN_ID, Where, json_option, where_options


@click.command("finish")
@click.argument("run_id", metavar="RUN", type=RUN_ID, shell_complete=complete.active_runs)
@click.argument("task")
@click.option(
    "--reject", default=None, metavar="REASON", help="End the task failed, with this reason."
)
@where_options
@json_option
def command(run_id: int, task: str, reject: str | None, where: Where, as_json: bool) -> int:
    """Finish TASK of RUN: a waiting (manual) or stopped task ends success, or failed
    with --reject; the run goes on."""
    from runner.cli.acting import show
    from runner.ops.actions import finish

    outcome = where.call(
        lambda home: finish(home, run_id, task, reject=reject),
        lambda api: api.finish(run_id, task, reject=reject),
    )
    return show(outcome, as_json=as_json)
