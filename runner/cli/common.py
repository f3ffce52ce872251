"""What several commands parse the same way: durations. (Opening the store for an
operation is `runner.ops.common.opened_store`.)"""

from __future__ import annotations

import click

from runner.spec.durations import HELP, parse_seconds


def duration(text: str, option: str) -> float:
    """A duration option (`--lock-timeout 30s`); a bare number is seconds."""
    if text.replace(".", "", 1).isdigit():
        return float(text)
    seconds = parse_seconds(text)
    if seconds is None:
        raise click.BadParameter(f'"{text}" is not a duration; use {HELP}', param_hint=option)
    return float(seconds)
