"""`runner suspend --reason R` and `runner resume`: stop and restart applying new
configurations (runs go on)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from runner.cli.options import home_option, json_option, store_option
from runner.errors import ExitCode


@click.command("suspend")
@click.option("--reason", required=True, help="Why: shown with the suspension everywhere.")
@home_option
@store_option
@json_option
def command(reason: str, home: str, store_url: str | None, as_json: bool) -> int:
    """Suspend applying: the daemon applies no change of the folder (or of git) and
    `runner apply` refuses, until `runner resume`. Runs go on. It survives restarts."""
    from runner.ops.common import Home
    from runner.ops.suspension import describe, suspend

    done = suspend(Home(Path(home), store_url), reason)
    if as_json:
        click.echo(json.dumps(done.as_json(), indent=2))
        return ExitCode.OK
    assert done.now is not None
    if done.before:
        click.echo(f"applying was already {describe(done.before)}; the reason is now yours")
    click.echo(f"applying {describe(done.now)}; `runner resume` applies again")
    return ExitCode.OK
