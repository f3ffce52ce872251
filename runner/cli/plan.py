"""`runner plan`: what applying the configuration would change."""

from __future__ import annotations

import json
from pathlib import Path

import click

from runner.cli.options import config_option, config_paths, home_option, store_option
from runner.errors import ExitCode


@click.command("plan")
@config_paths
@config_option
@home_option
@store_option
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Save the plan to apply it exactly later: runner apply --plan FILE.",
)
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 0 with no changes, 1 on error, 2 with changes (as Terraform).",
)
def command(
    paths: tuple[str, ...],
    config: str,
    home: str,
    store_url: str | None,
    fmt: str,
    out: Path | None,
    detailed_exitcode: bool,
) -> int:
    """Show what `runner apply` would change, field by field, with its effects.

    Files with errors are listed as skipped: apply leaves what they hold as it is.
    """
    from runner.cli.render_plan import render_origin, render_plan
    from runner.ops.common import Home
    from runner.ops.configuration import plan

    planned = plan(Home(Path(home), store_url), list(paths) or [config])
    result = planned.result
    for d in result.config.diagnostics:
        click.echo(d.text(), err=fmt == "json")
    if fmt == "json":
        click.echo(json.dumps(planned.as_json(), indent=2))
    else:
        click.echo(render_origin(result.origin, " ".join(paths) or config), nl=False)
        click.echo(render_plan(result.plan, mass_delete=result.mass_delete), nl=False)
        if planned.suspended:
            s = planned.suspended
            click.echo(
                f"Applying is suspended (by {s.get('by')} at {s.get('at')}: {s.get('reason')}):"
                " neither the daemon nor `runner apply` applies this until `runner resume`."
            )
    if out is not None:
        planned.save(out)
        click.echo(
            f"Saved the plan to {out}: apply it with `runner apply --plan {out}`.",
            err=fmt == "json",
        )
    if planned.failed:
        return ExitCode.ERROR
    if detailed_exitcode and result.plan.has_changes:
        return ExitCode.CHANGES
    return ExitCode.OK
