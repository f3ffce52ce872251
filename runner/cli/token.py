"""`runner token add NAME --role R`, `runner token list`, `runner token revoke NAME`."""

from __future__ import annotations

import json
from pathlib import Path

import click

from runner.cli.options import home_option, json_option
from runner.errors import ExitCode

TOKENS_FILE = "api-tokens.yaml"  # in the home, unless --file (or RUNNER_API_TOKENS)


def _file(home: str, file: Path | None) -> Path:
    return file if file is not None else Path(home) / TOKENS_FILE


_file_option = click.option(
    "--file",
    "file",
    default=None,
    envvar="RUNNER_API_TOKENS",
    type=click.Path(dir_okay=False, path_type=Path),
    help=f"The token file (default: HOME/{TOKENS_FILE}); `runner daemon --api` reads it.",
)


@click.group("token")
def command() -> None:
    """API tokens: named, with a role (read, operate, admin), kept hashed in a file."""


@command.command("add")
@click.argument("name")
@click.option(
    "--role", type=click.Choice(["read", "operate", "admin"]), default="read", show_default=True
)
@_file_option
@home_option
def add(name: str, role: str, file: Path | None, home: str) -> int:
    """Make a token NAME with ROLE; it is printed once, and only its hash is kept."""
    from runner.ops import tokens

    path = _file(home, file)
    secret = tokens.add(path, name, role)
    click.echo(secret)
    click.echo(f"token {name} ({role}) added to {path}; it is shown only now", err=True)
    return ExitCode.OK


@command.command("list")
@_file_option
@home_option
@json_option
def list_tokens(file: Path | None, home: str, as_json: bool) -> int:
    """The tokens' names and roles (never the tokens)."""
    from runner.ops import tokens

    found = [{"name": t["name"], "role": t["role"]} for t in tokens.read(_file(home, file))]
    if as_json:
        click.echo(json.dumps(found, indent=2))
    elif not found:
        click.echo("No tokens.")
    else:
        for t in found:
            click.echo(f"{t['name']}  {t['role']}")
    return ExitCode.OK


@command.command("revoke")
@click.argument("name")
@_file_option
@home_option
def revoke(name: str, file: Path | None, home: str) -> int:
    """Remove the token NAME: a daemon refuses it once it reads the file again (SIGHUP)."""
    from runner.ops import tokens

    tokens.revoke(_file(home, file), name)
    click.echo(f"token {name} revoked")
    return ExitCode.OK
