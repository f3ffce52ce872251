"""`runner run JOB`: a manual run, in the foreground (SPEC 3.1). (The module is not
called `run`: that name is `runner.cli.run`, the function that runs a command.)"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import click

from runner.cli.common import store_for
from runner.cli.options import home_option, json_option, store_option
from runner.cli.progress import Progress
from runner.clock import SystemClock
from runner.errors import ExitCode
from runner.procs import myself
from runner.runs.foreground import execute
from runner.runs.reading import refuse_held_tasks
from runner.runs.trigger import OVERLAPS, trigger
from runner.runs.views import run_json

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@click.command("run")
@click.argument("job")
@click.option("--task", "tasks", multiple=True, metavar="TASK", help="Run only this task (repeat).")
@click.option("--env", "env", multiple=True, metavar="K=V", help="Set a variable for this run.")
@click.option(
    "--overlap",
    type=click.Choice(OVERLAPS),
    default=None,
    help="Override the job's overlap policy for this trigger (e.g. allow).",
)
@click.option(
    "--wait", is_flag=True, help="Wait for the run to end (a foreground run always does)."
)
@click.option(
    "--max-parallel",
    type=click.IntRange(min=1),
    default=None,
    help="Tasks running at once (default: the number of CPUs).",
)
@home_option
@store_option
@json_option
def command(
    job: str,
    tasks: tuple[str, ...],
    env: tuple[str, ...],
    overlap: str | None,
    wait: bool,
    max_parallel: int | None,
    home: str,
    store_url: str | None,
    as_json: bool,
) -> int:
    """Run JOB now, here, and show its progress; exit 0 when it succeeds.

    Ctrl-C cancels the run cleanly (its tasks are stopped, the run ends cancelled);
    a second Ctrl-C kills the tasks at once.
    """
    variables = _env(env)
    clock = SystemClock()
    with store_for(home, store_url) as store:
        refuse_held_tasks(store, job, tasks, now=clock.now())
        triggered = trigger(
            store,
            job=job,
            now=clock.now(),
            tasks=tasks,
            env=variables,
            overlap=overlap,
            owner=myself(),
        )
        total = len(triggered.order.tasks)
        out = sys.stderr if as_json else sys.stdout
        with Progress(job=job, run_id=triggered.run_id, total=total, out=out) as progress:
            record = execute(
                store,
                triggered,
                home=Path(home),
                clock=clock,
                observer=None if as_json and not out.isatty() else progress,
                max_parallel=max_parallel,
                on_wait=progress.note,
            )
        if as_json:
            click.echo(json.dumps(run_json(record), indent=2))
        elif record.state == "discarded":
            click.echo(f"run {record.id} discarded: {record.reason}", err=True)
        elif record.state != "success":
            click.echo(f"logs: runner logs {record.id}", err=True)
    return ExitCode.OK if record.state == "success" else ExitCode.ERROR


def _env(items: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not ENV_NAME.match(key):
            raise click.BadParameter(
                f'"{item}" is not K=V with K a variable name', param_hint="--env"
            )
        out[key] = value
    return out
