"""What an import gives: job documents, each with the line it came from, and the lines
that were skipped, each with why."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from runner.errors import RunnerError


class ImportRefused(RunnerError):
    """Input that cannot be imported at all (a timer whose calendar cron cannot say, a
    file that is not UTF-8); the message names the file and line."""

    code = "import-refused"


@dataclass(frozen=True, slots=True)
class Skipped:
    """A line left out of the import, and why."""

    file: str
    line: int
    text: str
    reason: str

    def message(self) -> str:
        return f'{self.file}:{self.line}: skipped "{self.text.strip()}": {self.reason}'

    def as_json(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "text": self.text, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class ImportedJob:
    """One job document, and where it came from (`file:line` and the line itself, or
    the unit files)."""

    document: dict[str, Any]
    origin: str
    source_text: str

    @property
    def name(self) -> str:
        name: str = self.document["name"]
        return name


@dataclass(frozen=True, slots=True)
class Imported:
    """What an import made: the jobs, the lines skipped, and notes for the reader (how
    the file was read, which time zone the times are in)."""

    source: str
    jobs: tuple[ImportedJob, ...]
    skipped: tuple[Skipped, ...] = ()
    notes: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "jobs": [job.document for job in self.jobs],
            "skipped": [s.as_json() for s in self.skipped],
            "notes": list(self.notes),
        }
