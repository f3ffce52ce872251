"""The plan cache: what reading each file gave, so unchanged files are not read again.

One compact JSON text per configuration root (kept by the store), decoded in one call:
for 10,000 files that is tens of milliseconds, where a row or a JSON value per file costs
seconds. A record is keyed by the file's absolute path and holds its size, mtime and
content hash, the resources it declares (with their digests and reference views) and the
file's own diagnostics. Specs are not kept: the few that a plan needs are read again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from runner import __version__

FORMAT = f"runner-file-cache/1 {__version__}"  # a new runner reads every file again once


@dataclass(slots=True)
class FileRecord:
    size: int
    mtime_ns: int
    sha256: str
    entries: list[list[Any]]  # [kind, name, line, document, digest | None, view | None]
    diagnostics: list[list[Any]]  # [line, column, path, code, message, severity]

    def as_list(self) -> list[Any]:
        return [self.size, self.mtime_ns, self.sha256, self.entries, self.diagnostics]


@dataclass(slots=True)
class FileCache:
    records: dict[str, FileRecord] = field(default_factory=dict)
    changed: bool = False

    @classmethod
    def from_text(cls, text: str | None) -> FileCache:
        """The cache as saved; empty when absent, unreadable or of another runner."""
        if not text:
            return cls()
        try:
            data = json.loads(text)
            if data.get("format") != FORMAT:
                return cls(changed=True)
            return cls({path: FileRecord(*fields) for path, fields in data["files"].items()})
        except (ValueError, TypeError, KeyError, AttributeError):
            return cls(changed=True)

    def to_text(self) -> str:
        files = {path: r.as_list() for path, r in self.records.items()}
        return json.dumps(
            {"format": FORMAT, "files": files}, separators=(",", ":"), ensure_ascii=False
        )

    def get(self, path: str) -> FileRecord | None:
        return self.records.get(path)

    def put(self, path: str, record: FileRecord) -> None:
        self.records[path] = record
        self.changed = True

    def keep_only(self, paths: set[str]) -> None:
        gone = [p for p in self.records if p not in paths]
        for path in gone:
            del self.records[path]
        self.changed = self.changed or bool(gone)
