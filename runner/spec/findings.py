"""A problem found in one resource, at a path inside its document (no file yet)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

from runner.spec.diagnostics import JsonPath, Severity


@dataclass(frozen=True, slots=True)
class Finding:
    path: JsonPath
    code: str
    message: str
    severity: Severity = Severity.ERROR
    at_key: bool = False  # point at the key of `path`, not its value
    subject: str | None = None  # the job a reference finding is about

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """` (did you mean "x"?)` when a candidate is close to `word`, else ``."""
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f' (did you mean "{close[0]}"?)' if close else ""
