"""`runner retry RUN [--from TASK | --only TASK]`."""

from __future__ import annotations

import click

from runner.cli.options import RUN_ID, Where, json_option, where_options


@click.command("retry")
@click.argument("run_id", metavar="RUN", type=RUN_ID)
@click.option(
    "--from", "from_task", default=None, metavar="TASK", help="Run TASK and those after it again."
)
@click.option("--only", default=None, metavar="TASK", help="Run just TASK again.")
@where_options
@json_option
def command(
    run_id: int, from_task: str | None, only: str | None, where: Where, as_json: bool
) -> int:
    """Retry RUN: the same run goes on with new attempts. A failed, cancelled or stale
    run runs what did not succeed again; on a running run, --only a stopped task. With
    a daemon it is queued to it; without one it runs here to its end."""
    from runner.cli.acting import show
    from runner.ops.actions import retry

    outcome = where.call(
        lambda home: retry(home, run_id, from_task=from_task, only=only),
        lambda api: api.retry(run_id, from_task=from_task, only=only),
    )
    return show(outcome, as_json=as_json)
