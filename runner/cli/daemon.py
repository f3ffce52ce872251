"""`runner daemon`: apply the folder, watch it, run what is due (SPEC 5)."""

from __future__ import annotations

from pathlib import Path

import click

from runner.cli.common import duration
from runner.cli.options import home_option, store_option, watched_config_option
from runner.errors import ExitCode
from runner.ops.daemon import DEBOUNCE, GRACE


@click.command("daemon")
@watched_config_option
@home_option
@store_option
@click.option(
    "--max-parallel",
    type=click.IntRange(min=1),
    default=None,
    help="Tasks running at once (default: the number of CPUs).",
)
@click.option(
    "--grace",
    default=f"{GRACE:g}s",
    show_default=True,
    help="On SIGTERM, how long running tasks get to end before SIGKILL.",
)
@click.option(
    "--debounce",
    default=f"{DEBOUNCE * 1000:g}ms",
    show_default=True,
    help="How long changes in the folder must settle before they are applied (100ms, 1s).",
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="One line per event on stderr: text, or JSON lines.",
)
def command(
    config: str,
    home: str,
    store_url: str | None,
    max_parallel: int | None,
    grace: str,
    debounce: str,
    log_format: str,
) -> int:
    """Run the scheduler: apply the folder, re-apply on every change, run what is due.

    SIGTERM or Ctrl-C stops it: no new starts, running tasks get --grace to end;
    SIGHUP re-applies the folder.
    """
    from runner.ops.common import Home
    from runner.ops.daemon import DaemonOptions, serve

    options = DaemonOptions(
        config=config,
        max_parallel=max_parallel,
        grace=duration(grace, "--grace"),
        debounce=_millis(debounce),
        log_format=log_format,
    )
    serve(Home(Path(home), store_url), options)
    return ExitCode.OK


def _millis(text: str) -> float:
    if text.endswith("ms") and text[:-2].isdigit():
        return int(text[:-2]) / 1000
    return duration(text, "--debounce")
