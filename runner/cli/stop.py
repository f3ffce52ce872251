"""`runner stop RUN TASK`."""

from __future__ import annotations

import click

from runner.cli import complete
from runner.cli.options import RUN_ID, Where, json_option, where_options


@click.command("stop")
@click.argument("run_id", metavar="RUN", type=RUN_ID, shell_complete=complete.active_runs)
@click.argument("task")
@where_options
@json_option
def command(run_id: int, task: str, where: Where, as_json: bool) -> int:
    """Stop TASK of RUN: its processes get SIGTERM (SIGKILL after 10s) and it waits,
    stopped, for `runner finish`, `runner retry RUN --only TASK` or `runner cancel`."""
    from runner.cli.acting import show
    from runner.ops.actions import stop

    outcome = where.call(lambda home: stop(home, run_id, task), lambda api: api.stop(run_id, task))
    return show(outcome, as_json=as_json)
