"""`runner apply`: make the store match the configuration (or a saved plan)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from runner.cli.common import duration, now, store_for
from runner.cli.options import config_option, config_paths, home_option, store_option
from runner.cli.render_plan import render_plan
from runner.daemon.lock import holder
from runner.errors import ExitCode, RunnerError
from runner.reconciler import apply_config, apply_saved_plan
from runner.runs.afterwards import jobs_added_by, start_created_manual_jobs, start_new_manual_jobs
from runner.store import Store
from runner.wakeup import poke


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
    lock_timeout: str,
) -> int:
    """Apply the configuration to the store, in one transaction.

    Files with errors are skipped (what they hold stays at its applied revision) and
    apply exits 1 listing them, so CI notices; every valid file is applied.
    """
    timeout = duration(lock_timeout, "--lock-timeout")
    with store_for(home, store_url) as store:
        if plan_file is not None:
            if paths:
                raise click.UsageError("give PATH or --plan, not both")
            return _apply_saved(plan_file, store, allow_mass_delete, timeout, Path(home))
        at = now()
        result = apply_config(
            list(paths) or [config],
            store,
            now=at,
            atomic=atomic,
            allow_mass_delete=allow_mass_delete,
            lock_timeout=timeout,
        )
        started = start_new_manual_jobs(store, result.plan, now=at)
        daemon = _wake_daemon(Path(home), bool(started or result.written))
    assert result.result is not None
    for d in result.result.config.diagnostics:
        click.echo(d.text())
    click.echo(render_plan(result.plan), nl=False)
    if result.skipped_files:
        click.echo(
            f"Applied the valid files; skipped {len(result.skipped_files)} with errors: "
            + ", ".join(result.skipped_files)
        )
    else:
        click.echo("Applied." if result.written else "Nothing to apply.")
    _say_started(started, daemon)
    return ExitCode.ERROR if result.skipped_files else ExitCode.OK


def _wake_daemon(home: Path, changed: bool) -> int | None:
    """The pid of the daemon on the home, woken when the apply changed something (it
    ticks the changed schedules and starts the queued runs at once); None without one."""
    daemon = holder(home)
    if daemon is None:
        return None
    pid = int(daemon.get("pid") or 0)
    if changed:
        poke(home, pid)
    return pid


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


def _apply_saved(
    plan_file: Path, store: Store, allow_mass_delete: bool, timeout: float, home: Path
) -> int:
    try:
        data = json.loads(plan_file.read_text())
    except (OSError, ValueError) as exc:
        raise RunnerError(f"{plan_file}: cannot read the saved plan: {exc}") from None
    result = apply_saved_plan(
        data, store, now=now(), allow_mass_delete=allow_mass_delete, lock_timeout=timeout
    )
    summary = data.get("summary", {})
    click.echo(
        f"Applied the saved plan {plan_file}: {summary.get('add', 0)} added, "
        f"{summary.get('change', 0)} changed, {summary.get('delete', 0)} deleted."
        if result.written
        else f"The saved plan {plan_file} had nothing to apply."
    )
    started = start_created_manual_jobs(store, jobs_added_by(data), now=now())
    _say_started(started, _wake_daemon(home, bool(started or result.written)))
    return ExitCode.OK
