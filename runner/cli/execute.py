"""`runner run JOB`: a manual run, in the foreground (SPEC 3.1). (The module is not
called `run`: that name is `runner.cli.run`, the function that runs a command.)"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import click

from runner.cli.common import store_for
from runner.cli.options import home_option, json_option, store_option
from runner.cli.progress import Progress
from runner.clock import SystemClock
from runner.daemon.lock import holder
from runner.errors import ExitCode, RunnerError
from runner.procs import hostname, myself
from runner.runs.cancel import find_run, wake_owner
from runner.runs.foreground import execute
from runner.runs.reading import refuse_held_tasks
from runner.runs.stale import mark_stale_runs
from runner.runs.trigger import OVERLAPS, trigger
from runner.runs.views import run_json
from runner.store import RunRecord, Store
from runner.wakeup import poke

WAIT_POLL = 0.2
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
    """Run JOB now, here, and show its progress; exit 0 when it succeeds. With a
    daemon running on the home, the run is queued to it instead (--wait follows it).

    Ctrl-C cancels the run cleanly (its tasks are stopped, the run ends cancelled);
    a second Ctrl-C kills the tasks at once.
    """
    variables = _env(env)
    clock = SystemClock()
    daemon = holder(Path(home))
    if daemon is not None:
        return _queue(job, tasks, variables, overlap, wait, home, store_url, as_json, daemon)
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


def _queue(
    job: str,
    tasks: tuple[str, ...],
    variables: dict[str, str],
    overlap: str | None,
    wait: bool,
    home: str,
    store_url: str | None,
    as_json: bool,
    daemon: dict[str, Any],
) -> int:
    """A daemon runs on this home: the run is queued to it (it starts within a second,
    or waits for a hold, a slot, or the job's active run), and this command returns, or
    with --wait follows it to its end."""
    clock = SystemClock()
    pid = int(daemon.get("pid") or 0)
    with store_for(home, store_url) as store:
        triggered = trigger(
            store, job=job, now=clock.now(), tasks=tasks, env=variables, overlap=overlap
        )
        run_id = triggered.run_id
        if triggered.policy == "cancel-running":
            for active in triggered.waits_for:
                store.request_cancel(
                    active.id,
                    now=clock.now(),
                    reason=f"cancelled by run {run_id} (overlap: cancel-running)",
                )
                wake_owner(store, Path(home), active.id)
        poke(Path(home), pid)
        if not wait:
            if as_json:
                click.echo(json.dumps(run_json(find_run(store, run_id)), indent=2))
            else:
                click.echo(
                    f"run {run_id} of {job} queued to the daemon (pid {pid}); follow it with "
                    f"runner status {run_id} or runner logs {run_id} --follow"
                )
            return ExitCode.OK
        if not as_json:
            click.echo(f"run {run_id} of {job} queued to the daemon (pid {pid}); waiting for it")
        try:
            record = _wait_for_end(store, run_id, clock, Path(home))
        except KeyboardInterrupt:
            click.echo(
                f"\nstopped waiting; run {run_id} goes on in the daemon "
                f"(runner cancel {run_id} stops it)",
                err=True,
            )
            return 130
        if as_json:
            click.echo(json.dumps(run_json(record), indent=2))
        else:
            why = f": {record.reason}" if record.reason else ""
            click.echo(f"run {record.id} {record.state}{why}")
            if record.state not in ("success", "discarded"):
                click.echo(f"logs: runner logs {record.id}", err=True)
    return ExitCode.OK if record.state == "success" else ExitCode.ERROR


def _wait_for_end(store: Store, run_id: int, clock: SystemClock, home: Path) -> RunRecord:
    """Until the run ends; a daemon that dies meanwhile leaves it stale (SPEC 3), or,
    when it had not started it yet, queued for the daemon's next start."""
    while True:
        mark_stale_runs(store, host=hostname(), now=clock.now())
        record = find_run(store, run_id)
        if record.state not in ("scheduled", "running"):
            return record
        if record.state == "scheduled" and record.owner is None and holder(home) is None:
            again = find_run(store, run_id)  # it may have started as the daemon stopped
            if again.state == "scheduled":
                raise RunnerError(
                    f"the daemon stopped before it started run {run_id}: the run stays "
                    "queued for the daemon's next start (runner cancel "
                    f"{run_id} drops it)"
                )
        clock.sleep(WAIT_POLL)


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
