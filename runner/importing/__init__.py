"""Importing existing schedules: crontabs and systemd timers become job documents.

Pure: text in, job documents and what was skipped out; reading files is the caller's
(`runner.ops.importing`). See docs/import.md for what is translated and why.
"""

from __future__ import annotations

from runner.importing.crontab import import_crontab
from runner.importing.render import render_file, render_job, render_stream
from runner.importing.result import Imported, ImportedJob, ImportRefused, Skipped
from runner.importing.systemd import UnitText, import_timer, service_name

__all__ = [
    "ImportRefused",
    "Imported",
    "ImportedJob",
    "Skipped",
    "UnitText",
    "import_crontab",
    "import_timer",
    "render_file",
    "render_job",
    "render_stream",
    "service_name",
]
