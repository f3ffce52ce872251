"""`runner run JOB`: a manual run, queued to the daemon or executed here (SPEC 3.1),
rendered as it goes and when it ends; `runner.ops.runs.run` does the work. (The module is not
called `run`: that name is `runner.cli.run`, the function that runs a command.)"""

from __future__ import annotations

import json
import re
import sys
from typing import TYPE_CHECKING

import click

from runner.cli import complete
from runner.cli.logsize import max_log_size_option
from runner.cli.options import Where, json_option, where_options
from runner.domain import RunState
from runner.errors import ExitCode
from runner.runs.trigger import OVERLAPS

if TYPE_CHECKING:
    from runner.ops.runs import Display, RunOutcome

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@click.command("run")
@click.argument("job", shell_complete=complete.jobs)
@click.option(
    "--task",
    "tasks",
    multiple=True,
    metavar="TASK",
    help="Run only this task (repeat).",
    shell_complete=complete.tasks,
)
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
@max_log_size_option
@where_options
@json_option
def command(
    job: str,
    tasks: tuple[str, ...],
    env: tuple[str, ...],
    overlap: str | None,
    wait: bool,
    max_parallel: int | None,
    max_log_size: int | None,
    where: Where,
    as_json: bool,
) -> int:
    """Run JOB now, here, and show its progress; exit 0 when it succeeds. With a
    daemon running on the home, the run is queued to it instead (--wait follows it);
    with --server, to the daemon of that API.

    Ctrl-C cancels the run cleanly (its tasks are stopped, the run ends cancelled);
    a second Ctrl-C kills the tasks at once.
    """
    from runner.ops.runs import RunRequest, run

    request = RunRequest(
        job=job,
        tasks=tasks,
        env=_env(env),
        overlap=overlap,
        wait=wait,
        max_parallel=max_parallel,
        max_log_size=max_log_size,
    )

    def show(run_id: int, total: int) -> Display:
        return _progress(job, run_id, total, as_json)

    def queued(run_id: int, pid: int) -> None:
        if not as_json:
            click.echo(f"run {run_id} of {job} queued to the daemon (pid {pid}); waiting for it")

    outcome = where.call(
        lambda home: run(home, request, show=show, on_queued=queued),
        lambda api: api.run(request, on_queued=queued),
    )
    if outcome.daemon_pid is None:
        _ran_here(outcome, as_json)
    elif not outcome.followed:
        return _queued(outcome, job, as_json)
    else:
        _followed(outcome, as_json)
    return ExitCode.OK if outcome.succeeded else ExitCode.ERROR


def _progress(job: str, run_id: int, total: int, as_json: bool) -> Display:
    from runner.cli.progress import NotesOnly, Progress

    out = sys.stderr if as_json else sys.stdout
    shown = NotesOnly if as_json and not out.isatty() else Progress
    return shown(job=job, run_id=run_id, total=total, out=out)


def _ran_here(outcome: RunOutcome, as_json: bool) -> None:
    record = outcome.run
    if as_json:
        click.echo(json.dumps(outcome.as_json(), indent=2))
    elif record.state == RunState.DISCARDED:
        click.echo(f"run {record.id} discarded: {record.reason}", err=True)
    elif record.state != RunState.SUCCESS:
        click.echo(f"logs: runner logs {record.id}", err=True)


def _queued(outcome: RunOutcome, job: str, as_json: bool) -> int:
    run_id = outcome.run.id
    if outcome.stopped_waiting:
        click.echo(
            f"\nstopped waiting; run {run_id} goes on in the daemon "
            f"(runner cancel {run_id} stops it)",
            err=True,
        )
        return 130
    if as_json:
        click.echo(json.dumps(outcome.as_json(), indent=2))
    else:
        click.echo(
            f"run {run_id} of {job} queued to the daemon (pid {outcome.daemon_pid}); follow "
            f"it with runner status {run_id} or runner logs {run_id} --follow"
        )
    return ExitCode.OK


def _followed(outcome: RunOutcome, as_json: bool) -> None:
    record = outcome.run
    if as_json:
        click.echo(json.dumps(outcome.as_json(), indent=2))
        return
    why = f": {record.reason}" if record.reason else ""
    click.echo(f"run {record.id} {record.state}{why}")
    if record.state not in (RunState.SUCCESS, RunState.DISCARDED):
        click.echo(f"logs: runner logs {record.id}", err=True)


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
