"""Options shared by several commands, and `Where`: the home a command reads and acts
on, or (`--server`) the API of a daemon that does it for it."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click

from runner.domain import MAX_ID, RunState

if TYPE_CHECKING:
    from runner.cli.remote import Api
    from runner.ops.common import Home

DEFAULT_CONFIG = "jobs.d"
F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

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
RUN_ID = click.IntRange(min=1, max=MAX_ID)

# The run states, for `--state` (the domain's enum: importing it costs nothing).
RUN_STATES = [state.value for state in RunState]

server_option = click.option(
    "--server",
    envvar="RUNNER_SERVER",
    default=None,
    metavar="URL",
    help="Read and act through the HTTP API of a runner daemon at URL "
    "(http://HOST:PORT) instead of on the home (env RUNNER_SERVER).",
)
token_option = click.option(
    "--token",
    envvar="RUNNER_API_TOKEN",
    default=None,
    metavar="T",
    help="The API token for --server (env RUNNER_API_TOKEN).",
)


@dataclass(frozen=True, slots=True)
class Where:
    """Where a command reads and acts: the home (and store) here, or a daemon's API."""

    home: str
    store_url: str | None = None
    server: str | None = None
    token: str | None = None

    def call(self, local: Callable[[Home], T], remote: Callable[[Api], T]) -> T:
        """The operation done here on the home, or asked of the API at `--server`: both
        give the same typed result, which the command prints the same way."""
        if self.server is None:
            from runner.ops.common import Home

            return local(Home(Path(self.home), self.store_url))
        from runner.cli.remote import Api

        with Api(self.server, self.token) as api:
            return remote(api)


def where_options(command: F) -> F:
    """--home, --store, --server and --token, given to `command` as one `where`."""

    @functools.wraps(command)
    def packed(
        *args: Any,
        home: str,
        store_url: str | None,
        server: str | None,
        token: str | None,
        **kwargs: Any,
    ) -> Any:
        # `--server ''` acts on the home, whatever RUNNER_SERVER says
        return command(*args, where=Where(home, store_url, server or None, token), **kwargs)

    for option in (token_option, server_option, store_option, home_option):
        packed = option(packed)
    return cast(F, packed)
