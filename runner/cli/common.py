"""What several commands do the same way: open the store, parse durations, tell time."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime

import click

from runner.clock import SystemClock
from runner.procs import hostname
from runner.runs.stale import mark_stale_runs
from runner.spec.durations import HELP, parse_seconds
from runner.store import Store, open_store


@contextlib.contextmanager
def store_for(home: str, url: str | None) -> Iterator[Store]:
    """The store, for the length of a command. Every command that opens it first marks
    the runs on this host whose runner died `stale` (SPEC 3: whoever notices first)."""
    store = open_store(home=home, url=url)
    try:
        mark_stale_runs(store, host=hostname(), now=now())
        yield store
    finally:
        store.close()


def now() -> datetime:
    return SystemClock().now()


def duration(text: str, option: str) -> float:
    """A duration option (`--lock-timeout 30s`); a bare number is seconds."""
    if text.replace(".", "", 1).isdigit():
        return float(text)
    seconds = parse_seconds(text)
    if seconds is None:
        raise click.BadParameter(f'"{text}" is not a duration; use {HELP}', param_hint=option)
    return float(seconds)
