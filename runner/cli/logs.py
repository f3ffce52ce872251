"""`runner logs RUN [TASK]`."""

from __future__ import annotations

import json
import sys

import click

from runner.cli.common import store_for
from runner.cli.options import home_option, json_option, store_option
from runner.clock import Clock, SystemClock
from runner.errors import ExitCode
from runner.executors.logs import LogFiles
from runner.runs.reading import follow, log_refs, refresh
from runner.store import Store


@click.command("logs")
@click.argument("run_id", metavar="RUN", type=int)
@click.argument("task", required=False)
@click.option(
    "--attempt",
    type=click.IntRange(min=1),
    default=None,
    help="This attempt (default: the latest).",
)
@click.option(
    "--follow",
    "-f",
    "following",
    is_flag=True,
    help="Keep printing as the run writes, until it ends.",
)
@home_option
@store_option
@json_option
def command(
    run_id: int,
    task: str | None,
    attempt: int | None,
    following: bool,
    home: str,
    store_url: str | None,
    as_json: bool,
) -> int:
    """The output of RUN's tasks (or of TASK), as they wrote it."""
    clock = SystemClock()
    logs = LogFiles(home)
    with store_for(home, store_url) as store:
        refresh(store, clock.now())
        if following and not as_json:
            _follow(store, logs, run_id, task, attempt, clock)
            return ExitCode.OK
        _, refs = log_refs(store, run_id, task, attempt)
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "task": r.task,
                        "attempt": r.attempt,
                        "log": b"".join(logs.read_chunks(r.key)).decode(errors="replace"),
                    }
                    for r in refs
                ],
                indent=2,
            )
        )
        return ExitCode.OK
    out = sys.stdout.buffer
    for r in refs:
        if task is None:
            out.write(f"==> {r.task} (attempt {r.attempt}) <==\n".encode())
        for block in logs.read_chunks(r.key):
            out.write(block)
    out.flush()
    return ExitCode.OK


def _follow(
    store: Store,
    logs: LogFiles,
    run_id: int,
    task: str | None,
    attempt: int | None,
    clock: Clock,
) -> None:
    out = sys.stdout.buffer
    current: tuple[str, int] | None = None
    for ref, block in follow(store, logs, run_id, task, attempt, clock=clock):
        if task is None and current != (ref.task, ref.attempt):
            current = (ref.task, ref.attempt)
            out.write(f"\n==> {ref.task} (attempt {ref.attempt}) <==\n".encode())
        out.write(block)
        out.flush()
