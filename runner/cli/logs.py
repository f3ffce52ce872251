"""`runner logs RUN [TASK]`."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING

import click

from runner.cli import complete
from runner.cli.options import RUN_ID, Where, json_option, where_options
from runner.errors import ExitCode

if TYPE_CHECKING:
    from runner.runs.reading import LogRef
    from runner.store import RunRecord


@click.command("logs")
@click.argument("run_id", metavar="RUN", type=RUN_ID, shell_complete=complete.runs)
@click.argument("task", required=False, shell_complete=complete.tasks)
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
@where_options
@json_option
def command(
    run_id: int,
    task: str | None,
    attempt: int | None,
    following: bool,
    where: Where,
    as_json: bool,
) -> int:
    """The output of RUN's tasks (or of TASK), as they wrote it."""
    if following and as_json:
        raise click.UsageError("--follow prints output as it comes; it does not go with --json")
    from runner.ops.reading import follow_logs, logs

    if following:
        blocks = where.call(
            lambda home: follow_logs(home, run_id, task=task, attempt=attempt),
            lambda api: api.follow_logs(),
        )
        _follow(blocks, task)
        return ExitCode.OK
    found = where.call(
        lambda home: logs(home, run_id, task=task, attempt=attempt),
        lambda api: api.logs(run_id, task=task, attempt=attempt),
    )
    if not found.logs and not as_json:
        click.echo(_no_output(found.run, task), err=True)
    if as_json:
        click.echo(json.dumps([log.as_json() for log in found.logs], indent=2))
        return ExitCode.OK
    out = sys.stdout.buffer
    for log in found.logs:
        if task is None:
            out.write(f"==> {log.ref.task} (attempt {log.ref.attempt}) <==\n".encode())
        if not log.exists:
            out.flush()
            click.echo(f"log file missing (removed by hand?): {log.path}", err=True)
            continue
        for block in log.chunks():
            out.write(block)
    out.flush()
    return ExitCode.OK


def _follow(blocks: Iterator[tuple[LogRef, bytes]], task: str | None) -> None:
    out = sys.stdout.buffer
    current: tuple[str, int] | None = None
    first = True
    for ref, block in blocks:
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
