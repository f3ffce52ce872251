"""Options shared by several commands."""

from __future__ import annotations

import click

DEFAULT_CONFIG = "jobs.d"

config_paths = click.argument(
    "paths",
    nargs=-1,
    type=click.Path(path_type=str),
    metavar="[PATH]...",
)
config_option = click.option(
    "--config",
    "config",
    envvar="RUNNER_CONFIG",
    default=DEFAULT_CONFIG,
    show_default=True,
    help="The configuration folder (env RUNNER_CONFIG), used when no PATH is given.",
)
