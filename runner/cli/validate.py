"""`runner validate`: every problem in every file, as text, JSON or GitHub annotations."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from runner.cli.options import config_option, config_paths
from runner.errors import ExitCode

if TYPE_CHECKING:
    from runner.ops.validation import Validation
    from runner.spec.diagnostics import Diagnostic


@click.command("validate")
@config_paths
@config_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "github"]),
    default="text",
    show_default=True,
    help="github: ::error lines that annotate a pull request.",
)
@click.option("--strict", is_flag=True, help="Fail on warnings too.")
def command(paths: tuple[str, ...], config: str, fmt: str, strict: bool) -> int:
    """Check the configuration: YAML, schema, references, cycles, cron, time zones.

    PATH is a folder (read recursively) or a file; by default the --config folder.
    Exit 0 when valid, 1 when any error (or, with --strict, any warning) is found.
    """
    from runner.ops.validation import validate

    checked = validate(list(paths) or [config], strict=strict)
    click.echo(RENDERERS[fmt](checked), nl=False)
    return ExitCode.ERROR if checked.failed else ExitCode.OK


def render_text(checked: Validation) -> str:
    lines = [d.text() for d in checked.configuration.diagnostics]
    lines.append(summary(checked))
    return "\n".join(lines) + "\n"


def summary(checked: Validation) -> str:
    loaded, failed = checked.configuration, checked.failed
    where = ", ".join(loaded.paths)
    counted = f"{_plural(len(loaded.files), 'file')}, {_plural(loaded.resource_count, 'resource')}"
    errors, warnings = len(loaded.errors), len(loaded.warnings)
    if not errors and not warnings:
        return f"{where}: {counted}: valid"
    problems = ", ".join(
        _plural(n, word) for n, word in ((errors, "error"), (warnings, "warning")) if n
    )
    bad_files = sum(1 for f in loaded.files if not f.valid)
    verdict = (
        f"; {_plural(bad_files, 'file')} invalid"
        if bad_files
        else ("; invalid (--strict)" if failed else "; valid")
    )
    return f"{where}: {counted}: {problems}{verdict}"


def render_json(checked: Validation) -> str:
    return json.dumps(checked.as_json(), indent=2) + "\n"


def render_github(checked: Validation) -> str:
    lines = [_annotation(d) for d in checked.configuration.diagnostics]
    lines.append(summary(checked))
    return "\n".join(lines) + "\n"


def _annotation(d: Diagnostic) -> str:
    level = "error" if d.is_error else "warning"
    props = f"file={_prop(d.file)},line={d.line},col={d.column},title={_prop('runner validate')}"
    text = d.text().split(": ", 2)[-1]
    return f"::{level} {props}::{_data(text)}"


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _prop(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


RENDERERS = {"text": render_text, "json": render_json, "github": render_github}
