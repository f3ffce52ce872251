"""`runner audit [--since T] [--who USER]`."""

from __future__ import annotations

import json

import click

from runner.cli.options import Where, json_option, where_options


@click.command("audit")
@click.option(
    "--since", default=None, metavar="T", help="Actions at or after T: a date (UTC) or a time."
)
@click.option("--who", default=None, metavar="USER", help="Only the actions of USER.")
@click.option("--limit", type=click.IntRange(min=1), default=200, show_default=True)
@where_options
@json_option
def command(since: str | None, who: str | None, limit: int, where: Where, as_json: bool) -> int:
    """Who did what: every run, cancel, finish, stop, retry, hold and release, with who
    asked (the OS user, or the API token's name), from where, and how it ended."""
    from runner.cli.table import table
    from runner.ops.audit import audit

    entries = where.call(
        lambda home: audit(home, since=since, who=who, limit=limit),
        lambda api: api.audit(since=since, who=who, limit=limit),
    )
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
