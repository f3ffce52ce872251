"""`runner resume`: apply again after `runner suspend`."""

from __future__ import annotations

import json
from pathlib import Path

import click

from runner.cli.options import home_option, json_option, store_option
from runner.errors import ExitCode


@click.command("resume")
@home_option
@store_option
@json_option
def command(home: str, store_url: str | None, as_json: bool) -> int:
    """Resume applying: a daemon on the home applies what changed meanwhile at once."""
    from runner.ops.common import Home
    from runner.ops.suspension import describe, resume

    done = resume(Home(Path(home), store_url))
    if as_json:
        click.echo(json.dumps(done.as_json(), indent=2))
    elif done.before is None:
        click.echo("applying was not suspended; nothing to resume")
    else:
        click.echo(f"resumed applying (it was {describe(done.before)})")
    return ExitCode.OK
