"""Shell completion of JOB, RUN and TASK arguments from the store of the home the
command line names (`--home`, `--store`, or their environment variables).

click completes commands and options by itself (`_RUNNER_COMPLETE=bash_source runner`);
these add the names only the store knows. A store that cannot be opened (none yet, a
server down) completes nothing, quietly: a Tab must never print a traceback."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from click.shell_completion import CompletionItem

if TYPE_CHECKING:
    from runner.ops.common import Home


def _where(ctx: click.Context) -> Home:
    from runner.ops.common import Home

    home = ctx.params.get("home") or ".runner"
    return Home(Path(home), ctx.params.get("store_url"))


def _quietly(read: Callable[[], list[Any]]) -> list[Any]:
    try:
        return read()
    except Exception:  # any failure to read the store: no names, no noise in the shell
        return []


def jobs(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    from runner.ops.complete import job_names

    names = _quietly(lambda: job_names(_where(ctx)))
    return [CompletionItem(n) for n in names if n.startswith(incomplete)]


def _runs(ctx: click.Context, incomplete: str, *, active: bool) -> list[CompletionItem]:
    from runner.ops.complete import recent_runs

    found = _quietly(lambda: recent_runs(_where(ctx), active=active))
    return [
        CompletionItem(str(run_id), help=about)
        for run_id, about in found
        if str(run_id).startswith(incomplete)
    ]


def runs(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    return _runs(ctx, incomplete, active=False)


def active_runs(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    return _runs(ctx, incomplete, active=True)


def jobs_or_runs(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """`status [JOB | RUN]`: a number is a run id, anything else a job's name."""
    if incomplete.isdigit():
        return runs(ctx, param, incomplete) + jobs(ctx, param, incomplete)
    return jobs(ctx, param, incomplete)


def tasks(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """The tasks of the RUN (`logs RUN TASK`) or of the JOB (`run JOB --task`) given
    before it on the command line."""
    from runner.ops.complete import task_names

    run_id, job = ctx.params.get("run_id"), ctx.params.get("job")
    if run_id is None and job is None and ctx.args:
        # `run JOB --task <Tab>`: the option's value is missing, so click stopped before
        # it assigned JOB; it is still the first word left over.
        job = ctx.args[0]
    if run_id is None and job is None:
        return []
    names = _quietly(lambda: task_names(_where(ctx), job=job, run_id=run_id))
    return [CompletionItem(n) for n in names if n.startswith(incomplete)]
