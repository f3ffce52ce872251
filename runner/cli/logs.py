"""`runner logs RUN [TASK]`."""

from __future__ import annotations

import json
import sys

import click

from runner.cli.common import store_for
from runner.cli.options import RUN_ID, home_option, json_option, store_option
from runner.clock import Clock, SystemClock
from runner.errors import ExitCode
from runner.executors.logs import LogFiles
from runner.runs.reading import follow, log_refs
from runner.store import RunRecord, Store


@click.command("logs")
@click.argument("run_id", metavar="RUN", type=RUN_ID)
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
    if following and as_json:
        raise click.UsageError("--follow prints output as it comes; it does not go with --json")
    clock = SystemClock()
    logs = LogFiles(home)
    with store_for(home, store_url) as store:
        if following:
            _follow(store, logs, run_id, task, attempt, clock)
            return ExitCode.OK
        run, refs = log_refs(store, run_id, task, attempt)
    if not refs and not as_json:
        click.echo(_no_output(run, task), err=True)
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
        if not logs.exists(r.key):
            out.flush()
            click.echo(f"log file missing (removed by hand?): {logs.path(r.key)}", err=True)
            continue
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
    first = True
    for ref, block in follow(store, logs, run_id, task, attempt, clock=clock):
        if task is None and current != (ref.task, ref.attempt):
            current = (ref.task, ref.attempt)
            gap = "" if first else "\n"  # a blank line between sections, as tail does
            out.write(f"{gap}==> {ref.task} (attempt {ref.attempt}) <==\n".encode())
            first = False
        out.write(block)
        out.flush()


def _no_output(run: RunRecord, task: str | None) -> str:
    """Why there is nothing to print: no task (or not this one) has started."""
    if task is not None:
        t = next(t for t in run.tasks if t.name == task)
        why = f" ({t.reason})" if t.reason else ""
        return f"no output: task {task} of run {run.id} has not run: {t.state}{why}"
    why = f" ({run.reason})" if run.reason else ""
    return f"no output: no task of run {run.id} has started; the run is {run.state}{why}"
