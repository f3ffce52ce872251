"""Placing findings from checks across files at their file, line and column.

The node trees are not kept after a file is read (for 10,000 files they are millions of
objects), so a file with such a finding is read again: rare, and only those files.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from runner.config.yamlread import Document, locate, read_yaml
from runner.spec import Finding
from runner.spec.diagnostics import Diagnostic

if TYPE_CHECKING:
    from runner.config.loader import Loaded, SourceFile


@dataclass(frozen=True, slots=True)
class Placement:
    """A finding about the document `document` of `file`, which starts at `line`."""

    file: str
    line: int
    document: int
    finding: Finding

    @classmethod
    def of(cls, item: Loaded, finding: Finding) -> Placement:
        return cls(item.file, item.line, item.document, finding)


def attach_findings(files: Sequence[SourceFile], placed: Sequence[Placement]) -> int:
    """Add findings from checks across files to their files, at their line and column
    (read again from the file: rare, as only files with such findings are read);
    return how many were new."""
    by_file = {f.path: f for f in files}
    reread: dict[str, dict[int, Document]] = {}
    added = 0
    for p in placed:
        if p.file not in reread:
            reread[p.file] = _documents_of(p.file)
        doc = reread[p.file].get(p.document)
        diagnostic = place(p.file, doc, p.finding) if doc else _at_line(p.file, p.line, p.finding)
        target = by_file[p.file]
        if diagnostic not in target.across and diagnostic not in target.local:
            target.across.append(diagnostic)
            added += 1
    return added


def _documents_of(file: str) -> dict[int, Document]:
    """The documents of a file read again, by their position in it."""
    try:
        return {d.index: d for d in read_yaml(Path(file).read_bytes(), file).documents}
    except OSError:
        return {}


def _at_line(file: str, line: int, finding: Finding) -> Diagnostic:
    """Where the file changed or vanished since it was read: the resource's first line."""
    return _diagnostic(file, line, 1, finding)


def place(file: str, doc: Document, finding: Finding) -> Diagnostic:
    line, column = locate(doc.root, finding.path, at_key=finding.at_key)
    return _diagnostic(file, line, column, finding)


def _diagnostic(file: str, line: int, column: int, finding: Finding) -> Diagnostic:
    return Diagnostic(
        file=file,
        line=line,
        column=column,
        path=finding.path,
        code=finding.code,
        message=finding.message,
        severity=finding.severity,
    )
