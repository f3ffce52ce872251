"""`runner schema`: the JSON Schema that editors read for completion and checks."""

from __future__ import annotations

import click

from runner.errors import ExitCode


@click.command("schema")
def command() -> int:
    """Print the JSON Schema of a runner document (draft-07).

    The same schema is committed as schemas/runner.schema.json; point an editor at it
    with `# yaml-language-server: $schema=../schemas/runner.schema.json`.
    """
    from runner.spec.schema import schema_text

    click.echo(schema_text(), nl=False)
    return ExitCode.OK
