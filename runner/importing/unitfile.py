"""systemd unit files read as systemd reads them: `[Section]` headers, `Key=Value`
lines, `#` and `;` comments, and lines continued with a trailing backslash."""

from __future__ import annotations

import re
from dataclasses import dataclass

from runner.importing.result import ImportRefused

_SECTION = re.compile(r"^\[([^\]]+)\]$")
_ASSIGNMENT = re.compile(r"^([A-Za-z0-9_.-]+)\s*=\s*(.*)$")


@dataclass(frozen=True, slots=True)
class Setting:
    """One `Key=Value` of a unit, with its section and the line it starts on."""

    section: str
    key: str
    value: str
    line: int
    text: str


def read_unit(text: str, source: str) -> list[Setting]:
    """The settings of a unit file, in order; a line that is none of a section header,
    a setting, a comment or blank is refused with its line."""
    settings: list[Setting] = []
    section = ""
    for number, line in _logical_lines(text):
        header = _SECTION.match(line)
        if header:
            section = header.group(1)
            continue
        assignment = _ASSIGNMENT.match(line)
        if assignment is None or not section:
            what = "a setting before any [Section]" if assignment else "not a unit file line"
            raise ImportRefused(f"{source}:{number}: {what}: {line}")
        key, value = assignment.groups()
        settings.append(Setting(section, key, value.strip(), number, line))
    return settings


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Lines with their continuations joined (a trailing `\\` becomes a space), each
    numbered by its first line; blank lines and comments left out."""
    lines: list[tuple[int, str]] = []
    pending: tuple[int, str] | None = None
    for number, raw in enumerate(text.replace("\r\n", "\n").split("\n"), start=1):
        line = raw.strip()
        if line.startswith(("#", ";")) or (not line and pending is None):
            continue
        start, head = pending if pending else (number, "")
        if line.endswith("\\"):
            pending = (start, head + line[:-1] + " ")
            continue
        pending = None
        lines.append((start, (head + line).strip()))
    if pending:
        lines.append((pending[0], pending[1].strip()))
    return lines


def values(settings: list[Setting], section: str, key: str) -> list[Setting]:
    """The settings of `key` in `section`; an empty value resets the list, as systemd
    reads list settings (`OnCalendar=`, `ExecStart=`)."""
    found: list[Setting] = []
    for setting in settings:
        if setting.section == section and setting.key == key:
            found = [] if not setting.value else [*found, setting]
    return found


def last(settings: list[Setting], section: str, key: str) -> Setting | None:
    """The setting of `key` that counts (the last one written)."""
    found = [s for s in settings if s.section == section and s.key == key]
    return found[-1] if found else None
