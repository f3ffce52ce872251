"""Options shared by several commands."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from runner.domain import RunState

DEFAULT_CONFIG = "jobs.d"
F = TypeVar("F", bound=Callable[..., Any])

config_paths = click.argument(
    "paths",
    nargs=-1,
    type=click.Path(path_type=str),
    metavar="[PATH]...",
)


def _config_folder(help_text: str) -> Callable[[F], F]:
    return click.option(
        "--config",
        "config",
        envvar="RUNNER_CONFIG",
        default=DEFAULT_CONFIG,
        show_default=True,
        help=help_text,
    )


config_option = _config_folder(
    "The configuration folder (env RUNNER_CONFIG), used when no PATH is given."
)
# The daemon takes no PATH: the folder is what it applies and watches.
watched_config_option = _config_folder(
    "The configuration folder to apply and watch (env RUNNER_CONFIG)."
)

home_option = click.option(
    "--home",
    envvar="RUNNER_HOME",
    default=".runner",
    show_default=True,
    help="The runner's home: state store and task logs (env RUNNER_HOME).",
)
store_option = click.option(
    "--store",
    "store_url",
    envvar="RUNNER_STORE",
    default=None,
    help="A PostgreSQL URL (postgresql://...) instead of the SQLite store in the home "
    "(env RUNNER_STORE).",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")

# A run id as the store can hold it (a larger number is a usage error, not a crash).
RUN_ID = click.IntRange(min=1, max=2**63 - 1)

# The run states, for `--state` (the domain's enum: importing it costs nothing).
RUN_STATES = [state.value for state in RunState]
