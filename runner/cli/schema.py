"""`runner schema`: the JSON Schema that editors read for completion and checks."""

from __future__ import annotations

import click

from runner.errors import ExitCode


@click.command("schema")
@click.option("--openapi", is_flag=True, help="Print the HTTP API's OpenAPI document instead.")
def command(openapi: bool) -> int:
    """Print the JSON Schema of a runner document (draft-07).

    The same schema is committed as schemas/runner.schema.json; point an editor at it
    with `# yaml-language-server: $schema=../schemas/runner.schema.json`. With
    --openapi, the API's document, committed as schemas/openapi.json.
    """
    if openapi:
        from runner.api.app import openapi_text

        click.echo(openapi_text(), nl=False)
        return ExitCode.OK
    from runner.spec.schema import schema_text

    click.echo(schema_text(), nl=False)
    return ExitCode.OK
