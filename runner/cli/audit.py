"""`runner audit [--since T] [--who USER]`."""

from __future__ import annotations

import json
from pathlib import Path

import click

from runner.cli.options import home_option, json_option, store_option


@click.command("audit")
@click.option(
    "--since", default=None, metavar="T", help="Actions at or after T: a date (UTC) or a time."
)
@click.option("--who", default=None, metavar="USER", help="Only the actions of USER.")
@click.option("--limit", type=click.IntRange(min=1), default=200, show_default=True)
@home_option
@store_option
@json_option
def command(
    since: str | None, who: str | None, limit: int, home: str, store_url: str | None, as_json: bool
) -> int:
    """Who did what: every run, cancel, finish, stop, retry, hold and release, with who
    asked (the OS user, or the API token's name), from where, and how it ended."""
    from runner.cli.table import table
    from runner.ops.audit import audit
    from runner.ops.common import Home

    entries = audit(Home(Path(home), store_url), since=since, who=who, limit=limit)
    if as_json:
        click.echo(json.dumps(entries, indent=2))
        return 0
    if not entries:
        click.echo("No actions recorded.")
        return 0
    rows = [
        [
            e["time"],
            e["who"],
            e["origin"],
            e["action"],
            _target(e),
            e["status"],
            e["detail"] or "",
        ]
        for e in entries
    ]
    click.echo(table(["TIME", "WHO", "FROM", "ACTION", "TARGET", "RESULT", "DETAIL"], rows))
    return 0


def _target(entry: dict[str, object]) -> str:
    parts = []
    if entry.get("run_id"):
        parts.append(f"run {entry['run_id']}")
    if entry.get("job"):
        parts.append(str(entry["job"]))
    if entry.get("target"):
        parts.append(str(entry["target"]))
    return " ".join(parts)
