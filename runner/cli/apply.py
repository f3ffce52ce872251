"""`runner apply`: make the store match the configuration (or a saved plan)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from runner.cli.common import duration
from runner.cli.options import config_option, config_paths, home_option, store_option
from runner.errors import ExitCode

if TYPE_CHECKING:
    from runner.ops.common import Home


@click.command("apply")
@config_paths
@config_option
@home_option
@store_option
@click.option(
    "--plan",
    "plan_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Apply a plan saved by `runner plan --out`, exactly, or refuse it as stale.",
)
@click.option("--atomic", is_flag=True, help="Apply nothing unless every file is valid.")
@click.option(
    "--allow-mass-delete",
    is_flag=True,
    help="Allow deleting every resource, or more than half of ten or more.",
)
@click.option(
    "--require-clean",
    is_flag=True,
    help="Refuse unless the folder is in a git work tree with no uncommitted change.",
)
@click.option(
    "--lock-timeout",
    default="0s",
    show_default=True,
    help="How long to wait for another apply to finish (30s, 2m).",
)
def command(
    paths: tuple[str, ...],
    config: str,
    home: str,
    store_url: str | None,
    plan_file: Path | None,
    atomic: bool,
    allow_mass_delete: bool,
    require_clean: bool,
    lock_timeout: str,
) -> int:
    """Apply the configuration to the store, in one transaction.

    Files with errors are skipped (what they hold stays at its applied revision) and
    apply exits 1 listing them, so CI notices; every valid file is applied.
    """
    timeout = duration(lock_timeout, "--lock-timeout")
    from runner.ops.common import Home

    where = Home(Path(home), store_url)
    if plan_file is not None:
        if paths:
            raise click.UsageError("give PATH or --plan, not both")
        return _apply_saved(where, plan_file, allow_mass_delete, timeout)
    from runner.cli.render_plan import render_origin, render_plan
    from runner.ops.configuration import apply

    applied = apply(
        where,
        list(paths) or [config],
        atomic=atomic,
        allow_mass_delete=allow_mass_delete,
        lock_timeout=timeout,
        require_clean=require_clean,
    )
    result = applied.result
    for d in applied.plan_result.config.diagnostics:
        click.echo(d.text())
    click.echo(render_origin(applied.plan_result.origin, " ".join(paths) or config), nl=False)
    click.echo(render_plan(result.plan), nl=False)
    if result.skipped_files:
        click.echo(
            f"Applied the valid files; skipped {len(result.skipped_files)} with errors: "
            + ", ".join(result.skipped_files)
        )
    else:
        click.echo("Applied." if result.written else "Nothing to apply.")
    _say_started(applied.started, applied.daemon)
    return ExitCode.ERROR if result.skipped_files else ExitCode.OK


def _say_started(started: list[tuple[str, int]], daemon: int | None) -> None:
    """The runs of new manual jobs with `status: start` (SPEC 2.2), made by this apply
    whether a daemon runs or not: only a daemon starts them."""
    then = (
        f"the daemon on this home (pid {daemon}) starts it now"
        if daemon is not None
        else "no daemon runs on this home: `runner daemon` on this store starts it"
    )
    for job, run_id in started:
        click.echo(f"run {run_id} of {job} queued: status: start runs it once; {then}")


def _apply_saved(where: Home, plan_file: Path, allow_mass_delete: bool, timeout: float) -> int:
    from runner.ops.configuration import apply_plan_file

    applied = apply_plan_file(
        where, plan_file, allow_mass_delete=allow_mass_delete, lock_timeout=timeout
    )
    summary = applied.summary
    click.echo(
        f"Applied the saved plan {plan_file}: {summary.get('add', 0)} added, "
        f"{summary.get('change', 0)} changed, {summary.get('delete', 0)} deleted."
        if applied.written
        else f"The saved plan {plan_file} had nothing to apply."
    )
    _say_started(applied.started, applied.daemon)
    return ExitCode.OK
