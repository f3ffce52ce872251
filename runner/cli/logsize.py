"""`--max-log-size`, shared by `runner daemon` and `runner run` (issue 17)."""

from __future__ import annotations

import click

from runner.executors.logcap import DEFAULT_MAX_LOG_SIZE, parse_size


def _size(ctx: click.Context, param: click.Parameter, value: str) -> int | None:
    try:
        return parse_size(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


max_log_size_option = click.option(
    "--max-log-size",
    "max_log_size",
    default=f"{DEFAULT_MAX_LOG_SIZE // 2**20}MiB",
    show_default=True,
    envvar="RUNNER_MAX_LOG_SIZE",
    metavar="SIZE",
    callback=_size,
    help="Cap on each task attempt's log (100MB, 1GiB, unlimited): past it the log keeps "
    "its head and tail and says how much was dropped (env RUNNER_MAX_LOG_SIZE).",
)
