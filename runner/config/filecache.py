"""The plan cache: what reading each file gave, so unchanged files are not read again.

One compact JSON text per configuration root (kept by the store), decoded in one call:
for 10,000 files that is tens of milliseconds, where a row or a JSON value per file costs
seconds. A record is keyed by the file's absolute path and holds its size, mtime and
content hash, the resources it declares (digests and reference views), the file's own
diagnostics, and a key of what checks across files look at in it (names, lines, views).

The cache also keeps the result of the last checks across files, with the key of the
whole folder it was made for: when no file's references changed (a task's command was
edited, say), the checks are not run again. Specs are not kept: the few a plan needs
are read again.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from runner import __version__

FORMAT = f"runner-file-cache/2 {__version__}"  # a new runner reads every file again once

# A record: [size, mtime_ns, sha256, entries, diagnostics, refs_key], where an entry is
# [kind, name, line, document, digest | None, view | None] and a diagnostic
# [line, column, path, code, message, severity].
SIZE, MTIME, SHA, ENTRIES, DIAGNOSTICS, REFS_KEY = range(6)
Record = list[Any]


def refs_key(entries: list[list[Any]]) -> str:
    """What checks across files depend on in one file: everything but the digests. The
    cache is tied to the runner's version, so `repr` (faster than JSON) is stable enough."""
    text = repr([(e[0], e[1], e[2], e[3], e[5]) for e in entries])
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()


@dataclass(slots=True)
class FileCache:
    records: dict[str, Record] = field(default_factory=dict)
    across_key: str | None = None
    across: dict[str, list[list[Any]]] = field(default_factory=dict)  # path -> diagnostics
    changed: bool = False
    reread: int = 0  # files parsed this time

    @classmethod
    def from_text(cls, text: str | None) -> FileCache:
        """The cache as saved; empty when absent, unreadable or of another runner."""
        if not text:
            return cls()
        try:
            data = json.loads(text)
            if data.get("format") != FORMAT:
                return cls(changed=True)
            return cls(data["files"], data.get("across_key"), data.get("across") or {})
        except (ValueError, TypeError, KeyError, AttributeError):
            return cls(changed=True)

    def to_text(self) -> str:
        data = {
            "format": FORMAT,
            "files": self.records,
            "across_key": self.across_key,
            "across": self.across,
        }
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False, check_circular=False)

    def get(self, path: str) -> Record | None:
        return self.records.get(path)

    def put(self, path: str, record: Record) -> None:
        self.records[path] = record
        self.changed = True

    def keep_only(self, paths: set[str]) -> None:
        gone = [p for p in self.records if p not in paths]
        for path in gone:
            del self.records[path]
        self.changed = self.changed or bool(gone)

    def remember_across(self, key: str, across: dict[str, list[list[Any]]]) -> None:
        if (key, across) != (self.across_key, self.across):
            self.across_key, self.across = key, across
            self.changed = True
