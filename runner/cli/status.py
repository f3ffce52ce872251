"""`runner status [JOB | RUN]`."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from runner.cli import complete
from runner.cli.options import Where, json_option, where_options
from runner.cli.show import TASK_HEADERS, exit_text, stamp, task_row, took
from runner.cli.table import table
from runner.domain import RunState
from runner.errors import ExitCode

if TYPE_CHECKING:
    from runner.ops.status import JobStatus
    from runner.store import RunRecord


@click.command("status")
@click.argument(
    "target", required=False, metavar="[JOB | RUN]", shell_complete=complete.jobs_or_runs
)
@where_options
@json_option
def command(target: str | None, where: Where, as_json: bool) -> int:
    """A run's tasks and progress, a job's schedule, holds and active runs, or (with
    no argument) the last reconcile and the runs under way.

    A number is a run id when such a run exists, else a job name."""
    from runner.ops.common import now
    from runner.ops.status import JobStatus, RunStatus, status

    found = where.call(lambda home: status(home, target), lambda api: api.status(target))
    if as_json:
        click.echo(json.dumps(found.as_json(), indent=2))
    elif isinstance(found, RunStatus):
        click.echo(_run(found.run, now()))
    elif isinstance(found, JobStatus):
        click.echo(_job(found, now()))
    else:
        click.echo(_overview(found.as_json()))
    return ExitCode.OK


def _run(run: RunRecord, now: datetime) -> str:
    from runner.runs.views import progress

    done, total = progress(run)
    lines = [
        f"run {run.id} of {run.job}: {run.state}" + (f" ({run.reason})" if run.reason else ""),
        f"  revision {run.revision}, trigger {run.trigger}, due {stamp(run.due)}",
        f"  started {stamp(run.started)}, ended {stamp(run.ended)}, "
        f"took {took(run.started, run.ended, now)}",
        f"  progress {done}/{total} tasks done",
    ]
    if run.owner is not None and run.state == RunState.RUNNING:
        lines.append(f"  owner {run.owner.label}")
    if run.waiting:
        lines.append(f"  {run.waiting}")  # "waiting for a slot in ...", "held by ..."
    if run.env:  # given at run time: the names only, never the values (SPEC 3)
        lines.append("  env " + ", ".join(f"{k}=(secret)" for k in sorted(run.env)))
    rows = []
    for task in run.tasks:
        rows.append(task_row(task, now))
        if len(task.attempts) > 1:
            for a in task.attempts[:-1]:
                rows.append(
                    [
                        "",
                        f"attempt {a.attempt}",
                        "",
                        stamp(a.started),
                        took(a.started, a.ended, now),
                        exit_text(a.exit_code),
                        a.reason or "-",
                    ]
                )
    return "\n".join([*lines, "", table(TASK_HEADERS, rows)])


def _job(status: JobStatus, now: datetime) -> str:
    from runner.domain.timing import timing_of
    from runner.runs.views import progress
    from runner.spec.schedules import preview

    job = status.job
    schedule = job.schedule
    if job.disabled:
        when = "disabled: takes no runs"
    elif job.mode == "manual":
        when = "manual: runs when triggered"
    else:
        ticks = ", ".join(schedule.get("cron") or []) or f"every {schedule.get('every')}"
        when = f"{ticks} ({schedule.get('timezone', 'UTC')})"
        if not schedule.get("enabled", True):
            when += ", schedule not enabled"
        if job.status == "paused":
            when += ", paused"
    upcoming = preview(timing_of(schedule), now) if status.next_runs else ()
    lines = [
        f"job {job.name}  revision {job.revision}  {job.source_file}:{job.source_line}",
        f"  schedule   {when}; overlap {schedule.get('overlap', 'skip')}",
        f"  next runs  {', '.join(upcoming) if upcoming else '-'}",
    ]
    holds = status.holds
    lines.append(f"  holds      {'-' if not holds else ''}".rstrip())
    for h in holds:
        state = "active" if h["active"] else "released"
        origin = " (runtime)" if h["origin"] == "runtime" else ""
        lines.append(f"    {h['name']}{origin}: {state}, releases {h['releases_when']}")
    active = [(r, *progress(r)) for r in status.active_runs]
    shown = ", ".join(f"run {r.id} {r.state} ({done}/{total})" for r, done, total in active)
    lines.append(f"  active     {shown or '-'}")
    last = job.last_run
    lines.append(f"  last run   {f'{last[0]} {last[1]}' if last else '-'}")
    missed = status.missed
    lines.append(
        f"  missed     {sum(missed.values())} ticks ("
        + ", ".join(f"{k} {v}" for k, v in missed.items())
        + ")"
    )
    return "\n".join(lines)


def _overview(data: dict[str, Any]) -> str:
    config = data["configuration"]
    last = config["last_reconcile"]
    daemon = data["daemon"]
    if daemon["running"]:
        lines = [
            f"daemon         running: pid {daemon.get('pid')} on {daemon.get('host')}, "
            f"up since {daemon.get('since')}, max-parallel {daemon.get('max_parallel', '?')}"
        ]
    elif daemon["last"]:
        gone = daemon["last"]
        lines = [
            f"daemon         not running (pid {gone.get('pid')}, up since {gone.get('since')}, "
            "did not stop cleanly); start it with runner daemon"
        ]
    else:
        lines = ["daemon         not running; start it with runner daemon"]
    if last is None:
        lines.append("configuration  never applied")
    else:
        s = last["summary"]
        lines.append(
            f"configuration  last {last['origin']} at {_stamp(last['at'])}: {last['outcome']} "
            f"({s.get('add', 0)} added, {s.get('change', 0)} changed, "
            f"{s.get('delete', 0)} deleted, {s.get('unchanged', 0)} unchanged)"
        )
        lines += [f"  {e}" for e in last["errors"]]
        lines += _source(last)
    if config.get("git"):
        lines += _git(config["git"])
    if config.get("runtime_holds"):
        held = config["runtime_holds"]
        lines.append(
            f"not in git     {len(held)} runtime hold(s): {', '.join(held[:5])}"
            + (", ..." if len(held) > 5 else "")
            + " (`runner release` ends them)"
        )
    if config.get("suspended"):
        s = config["suspended"]
        lines.append(
            f"applying       SUSPENDED by {s.get('by')} at {s.get('at')}: {s.get('reason')}; "
            "the configuration applied last runs on until `runner resume`"
        )
    runs = data["runs"]
    lines.append(f"runs           {len(runs['running'])} running, {len(runs['queued'])} queued")
    return "\n".join(lines)


def _git(state: dict[str, Any]) -> list[str]:
    """The daemon's git sync: where its files are, the remote's head, and why not taken."""
    at, head = state.get("checked_out") or "", state.get("head") or ""
    where = f"{state.get('url')} ({state.get('branch') or 'default branch'})"
    line = f"git            {where}: at {at[:7] or 'nothing'}"
    if head != at:
        line += f", remote head {head[:7]} not applied"
    lines = [line + f" (fetched {state.get('fetched')})"]
    if state.get("held"):
        lines.append(f"  {state['held']}")
    return lines


def _source(last: dict[str, Any]) -> list[str]:
    """`source  3f2a9c1 (main, clean), 2 min ago, from URL, by root on vm`."""
    from runner.config.origin import Origin

    origin = Origin.from_json(last.get("source"))
    if origin is None:
        return []
    where = f", from {origin.remote}" if origin.remote else ""
    what = origin.describe() if origin.commit else "a folder not in git"
    ago = _ago(last["at"])
    return [f"source         {what}, {ago}{where}, by {origin.user} on {origin.host}"]


def _ago(rfc3339: str) -> str:
    from runner.ops.common import now
    from runner.spec.types import read_timestamp

    seconds = max(0, int((now() - read_timestamp(rfc3339)).total_seconds()))
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return f"{seconds} s ago"


def _stamp(rfc3339: str) -> str:
    from runner.spec.types import read_timestamp

    return stamp(read_timestamp(rfc3339))
