"""`runner store check` and `runner store backup FILE`."""

from __future__ import annotations

import json
from pathlib import Path

import click

from runner.cli.options import home_option, json_option, store_option
from runner.errors import ExitCode


@click.group("store")
def command() -> None:
    """Look after the state store: check it, back it up."""


@command.command("check")
@home_option
@store_option
@json_option
def check(home: str, store_url: str | None, as_json: bool) -> int:
    """Check the store's integrity and schema version."""
    from runner.ops.common import Home
    from runner.ops.store import check as check_store

    found = check_store(Home(Path(home), store_url))
    if as_json:
        click.echo(json.dumps(found.as_json(), indent=2))
        return ExitCode.OK if found.ok else ExitCode.ERROR
    version = "none" if found.schema_version is None else str(found.schema_version)
    click.echo(f"store: {found.where} ({found.backend}), schema version {version}")
    for note in found.notes:
        click.echo(f"  note: {note}")
    for problem in found.problems:
        click.echo(f"  problem: {problem}")
    if found.ok:
        click.echo("ok")
        return ExitCode.OK
    click.echo(
        f"error: the store is not good ({len(found.problems)} problem"
        f"{'' if len(found.problems) == 1 else 's'}): restore it from a backup "
        '(see the README, "Backup and restore")',
        err=True,
    )
    return ExitCode.ERROR


@command.command("backup")
@click.argument("file", type=click.Path(path_type=Path))
@home_option
@store_option
@json_option
def backup(file: Path, home: str, store_url: str | None, as_json: bool) -> int:
    """Back the store up into FILE, safe while a daemon runs."""
    from runner.ops.common import Home
    from runner.ops.store import backup as backup_store

    made = backup_store(Home(Path(home), store_url), file)
    if as_json:
        click.echo(json.dumps(made.as_json(), indent=2))
    else:
        click.echo(
            f"backed up {made.store} to {made.file} ({made.size} bytes, schema version "
            f"{made.schema_version})"
        )
    return ExitCode.OK
