"""`runner stop RUN TASK`."""

from __future__ import annotations

from pathlib import Path

import click

from runner.cli import complete
from runner.cli.options import RUN_ID, home_option, json_option, store_option


@click.command("stop")
@click.argument("run_id", metavar="RUN", type=RUN_ID, shell_complete=complete.active_runs)
@click.argument("task")
@home_option
@store_option
@json_option
def command(run_id: int, task: str, home: str, store_url: str | None, as_json: bool) -> int:
    """Stop TASK of RUN: its processes get SIGTERM (SIGKILL after 10s) and it waits,
    stopped, for `runner finish`, `runner retry RUN --only TASK` or `runner cancel`."""
    from runner.cli.acting import show
    from runner.ops.actions import stop
    from runner.ops.common import Home

    return show(stop(Home(Path(home), store_url), run_id, task), as_json=as_json)
