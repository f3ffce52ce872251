"""`runner hold (JOB | --selector K=V) [--task T]... [--until TS] [--on JOB[:TASK]]
[--reason R] [--name N]`."""

from __future__ import annotations

import json

import click

from runner.cli import complete
from runner.cli.options import Where, json_option, where_options
from runner.errors import ExitCode


@click.command("hold")
@click.argument("job", required=False, shell_complete=complete.jobs)
@click.option(
    "--selector",
    "selector",
    multiple=True,
    metavar="K=V",
    help="Hold every job with this label (a freeze); repeat for several labels.",
)
@click.option("--task", "tasks", multiple=True, metavar="T", help="Hold only this task.")
@click.option("--until", default=None, metavar="TS", help="Released at this time (or date).")
@click.option(
    "--on", "on", default=None, metavar="JOB[:TASK]", help="Released once that job (task) succeeds."
)
@click.option("--reason", default=None, help="Why: shown with the hold, and with what it holds.")
@click.option("--name", default=None, help="Its name (default JOB-N, or freeze-N).")
@where_options
@json_option
def command(
    job: str | None,
    selector: tuple[str, ...],
    tasks: tuple[str, ...],
    until: str | None,
    on: str | None,
    reason: str | None,
    name: str | None,
    where: Where,
    as_json: bool,
) -> int:
    """Place a runtime hold: JOB's tasks (all, or each --task) do not start until it is
    released: at --until, once --on succeeds, or by `runner release`. A hold on the
    whole job is accepted while its tasks run and applies from their next start."""
    from runner.ops.common import labels_from
    from runner.ops.placing import HoldRequest, hold

    labels = labels_from(selector, "--selector")
    request = HoldRequest(
        job=job,
        selector=labels or None,
        tasks=tasks,
        until=until,
        on=on,
        reason=reason,
        name=name,
    )
    placed = where.call(lambda home: hold(home, request), lambda api: api.hold(request))
    if as_json:
        click.echo(json.dumps(placed.as_json(), indent=2))
        return ExitCode.OK
    h = placed.hold
    target = h["job"] or "jobs labelled " + ",".join(f"{k}={v}" for k, v in labels.items())
    click.echo(f"placed hold {h['name']} (runtime) on {target}")
    from runner.ops.placing import describe

    click.echo(f"  {describe(h)}")
    if not h["job"]:
        covers = ", ".join(placed.covers) or "no job yet (it covers the jobs so labelled later)"
        click.echo(f"  covers now: {covers}")
    return ExitCode.OK
