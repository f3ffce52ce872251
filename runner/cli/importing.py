"""`runner import crontab FILE|-` and `runner import systemd UNIT.timer`: existing
schedules as job files, on standard output or one file per job in `--out DIR`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from runner.cli.options import json_option
from runner.errors import ExitCode

if TYPE_CHECKING:
    from runner.importing import Imported

_timezone = click.option(
    "--timezone",
    metavar="TZ",
    default=None,
    help="The host's IANA time zone, that the times are read in. Default: UTC.",
)
_out = click.option(
    "--out",
    "out",
    default=None,
    metavar="DIR",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write one file per job, DIR/NAME.yaml, instead of printing the jobs.",
)
_force = click.option("--force", is_flag=True, help="With --out: overwrite files that exist.")


@click.group("import")
def command() -> None:
    """Turn crontabs and systemd timers into job files.

    The jobs are printed as one YAML stream (documents separated by ---), or written
    with --out, one file per job. Lines that cannot be imported are listed on stderr
    with their line numbers (and in --json).
    """


@command.command("crontab")
@click.argument("file")
@click.option(
    "--system/--no-system",
    "system",
    default=None,
    help="Entries have a user column after the times, as /etc/crontab and /etc/cron.d "
    "files do. Default: from the path, else when every entry names a user, root among "
    "them.",
)
@_timezone
@_out
@_force
@json_option
def crontab(
    file: str,
    system: bool | None,
    timezone: str | None,
    out: Path | None,
    force: bool,
    as_json: bool,
) -> int:
    """Import the crontab FILE (- reads standard input): one job per entry."""
    from runner.ops import importing

    imported = importing.crontab(file, system=system, timezone=timezone)
    return _emit(imported, out=out, force=force, as_json=as_json)


@command.command("systemd")
@click.argument("timer", metavar="UNIT.timer")
@_timezone
@_out
@_force
@json_option
def systemd(timer: str, timezone: str | None, out: Path | None, force: bool, as_json: bool) -> int:
    """Import a systemd timer and the service beside it (its Unit=, else the same name)."""
    from runner.ops import importing

    imported = importing.systemd(timer, timezone=timezone)
    return _emit(imported, out=out, force=force, as_json=as_json)


def _emit(imported: Imported, *, out: Path | None, force: bool, as_json: bool) -> int:
    from runner.ops import importing

    written = importing.write_jobs(imported, out, force=force) if out is not None else []
    for skipped in imported.skipped:
        click.echo(skipped.message(), err=True)
    if as_json:
        shown = {**imported.as_json(), "written": [str(path) for path in written]}
        click.echo(json.dumps(shown, indent=2))
    elif out is None:
        click.echo(importing.render(imported), nl=False)
    click.echo(_summary(imported, out), err=True)
    return ExitCode.OK


def _summary(imported: Imported, out: Path | None) -> str:
    jobs, skipped = len(imported.jobs), len(imported.skipped)
    text = f"{imported.source}: {jobs} job{'' if jobs == 1 else 's'} imported"
    if out is not None:
        text += f" into {out}"
    if skipped:
        text += f", {skipped} line{'' if skipped == 1 else 's'} skipped"
    return text
