"""How finish, stop and retry print their per-task answers (SPEC 3.1): a line for each
task, or `--json`'s `{"run": ..., "results": [...]}`; a refusal is one line on stderr
(the JSON still on stdout) and exit code 1."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from runner.errors import ExitCode

if TYPE_CHECKING:
    from runner.ops.actions import ActionOutcome


def show(outcome: ActionOutcome, *, as_json: bool) -> int:
    run = outcome.run
    if as_json:
        click.echo(json.dumps(outcome.as_json(), indent=2))
    for result in outcome.results:
        if result.status == "refused":
            detail = result.detail or "refused"
            where = "" if f"run {run.id} " in detail else f"run {run.id} of {run.job}: "
            click.echo(f"error: {where}{detail}", err=True)
        elif not as_json:
            task = f"task {result.task} {result.state} ({result.detail})"
            click.echo(f"run {run.id} of {run.job}: {task}")
    if outcome.refused:
        return ExitCode.ERROR
    if not as_json:
        click.echo(_run_line(outcome))
    return ExitCode.OK


def _run_line(outcome: ActionOutcome) -> str:
    run = outcome.run
    if outcome.daemon_pid is not None and run.state == "scheduled":
        return (
            f"run {run.id} of {run.job} is queued to the daemon (pid {outcome.daemon_pid}); "
            f"`runner status {run.id}` follows it"
        )
    why = f" ({run.reason})" if run.reason and run.state not in ("running", "success") else ""
    return f"run {run.id} of {run.job} is {run.state}{why}"
