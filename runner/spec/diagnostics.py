"""Diagnostics: one problem found in the configuration, with where it is."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

JsonPath = tuple[str | int, ...]


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True, kw_only=True)
class Diagnostic:
    """A problem at `file:line:column` (1-based), about the value at `path`."""

    file: str
    line: int
    column: int
    path: JsonPath
    code: str
    message: str
    severity: Severity = Severity.ERROR

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    @property
    def pointer(self) -> str:
        """The path as a JSON pointer (RFC 6901), relative to the document."""
        parts = (str(p).replace("~", "~0").replace("/", "~1") for p in self.path)
        return "".join("/" + p for p in parts)

    def text(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        field = f"{dotted(self.path)}: " if self.path else ""
        return one_line(f"{where}: {self.severity.value}: {field}{self.message}")

    def as_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "path": self.pointer,
            "severity": self.severity.value,
            "code": self.code,
            "message": self.message,
        }


def dotted(path: JsonPath) -> str:
    """`("tasks", 2, "after")` -> `tasks[2].after`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


def sort_key(d: Diagnostic) -> tuple[str, int, int, str]:
    return (d.file, d.line, d.column, d.message)


def one_line(text: str) -> str:
    """Control characters written out (a newline as `\\n`): a diagnostic is one line."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
