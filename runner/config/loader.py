"""Read a configuration folder: every file, every document, every problem.

The result keeps each file apart (a file with errors is skipped by `apply` while the
others are applied) and every diagnostic carries its file, line and column.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from runner.config.yamlread import Document, locate, read_yaml
from runner.diagnostics import Diagnostic, sort_key
from runner.errors import ConfigError
from runner.spec import (
    Finding,
    JobRef,
    Parsed,
    Resource,
    check_references,
    duplicate_names,
    parse_resource,
)

SUFFIXES = (".yaml", ".yml")


@dataclass(slots=True)
class Loaded:
    """One resource as a file states it (not normalised), with where it is."""

    resource: Resource
    file: str
    line: int
    document: int = 0  # which `---` document of the file

    @property
    def source(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True, slots=True)
class Named:
    kind: str
    name: str
    line: int
    document: int


@dataclass(slots=True)
class SourceFile:
    path: str
    resources: list[Loaded] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    named: list[Named] = field(default_factory=list)  # every document with a valid name

    @property
    def valid(self) -> bool:
        return not any(d.is_error for d in self.diagnostics)


@dataclass(slots=True)
class Configuration:
    """A folder (or files) read and checked: the desired state and what is wrong with it."""

    paths: list[str]
    files: list[SourceFile]

    @property
    def diagnostics(self) -> list[Diagnostic]:
        return sorted((d for f in self.files for d in f.diagnostics), key=sort_key)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if not d.is_error]

    @property
    def valid(self) -> bool:
        return all(f.valid for f in self.files)

    @property
    def resources(self) -> list[Loaded]:
        """Resources of the files that passed validation."""
        return [r for f in self.files if f.valid for r in f.resources]

    @property
    def resource_count(self) -> int:
        """Documents that name a resource, valid or not."""
        return sum(len(f.named) for f in self.files)


def load_config(
    paths: Sequence[str | os.PathLike[str]],
    *,
    known_jobs: Mapping[str, JobRef] | None = None,
) -> Configuration:
    """Read and check every YAML file under `paths` (folders are read recursively)."""
    with _fewer_collections():
        files = [_read_file(path) for path in find_files(paths)]
        _check_across(files, known_jobs or {})
    return Configuration([str(p) for p in paths], files)


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """Loading allocates hundreds of thousands of short-lived, acyclic objects; with the
    default thresholds the cyclic collector rescans everything alive hundreds of times
    (a third of the time for 10,000 files). mypy raises the thresholds the same way."""
    before = gc.get_threshold()
    gc.set_threshold(200_000, 50, 50)
    try:
        yield
    finally:
        gc.set_threshold(*before)


def find_files(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found += _walk(path)
        elif path.is_file():
            found.append(path)
        else:
            raise ConfigError(
                f"{path}: no such file or folder; name the configuration folder "
                "(--config PATH or RUNNER_CONFIG)"
            )
    return found


def _walk(folder: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.endswith(SUFFIXES) and not name.startswith("."):
                yield Path(dirpath, name)


def display_path(path: Path) -> str:
    text = os.path.relpath(path)
    return str(path) if text.startswith("..") else text


def _read_file(path: Path) -> SourceFile:
    """Read and check one file alone. Its node trees are dropped before returning: kept
    for 10,000 files they are millions of objects that the garbage collector rescans."""
    shown = display_path(path)
    source = SourceFile(shown)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        source.diagnostics.append(
            Diagnostic(
                file=shown,
                line=1,
                column=1,
                path=(),
                code="unreadable",
                message=f"cannot read the file: {exc.strerror or exc}",
            )
        )
        return source
    result = read_yaml(raw, shown)
    source.diagnostics += result.diagnostics
    for doc in result.documents:
        if doc.data is None:
            continue  # an empty document, such as a trailing `---`
        parsed: Parsed = parse_resource(doc.data)
        source.diagnostics += [_place(shown, doc, f) for f in parsed.findings]
        if parsed.kind and parsed.name:
            source.named.append(Named(parsed.kind, parsed.name, doc.line, doc.index))
        if parsed.resource is not None:
            source.resources.append(Loaded(parsed.resource, shown, doc.line, doc.index))
    return source


def _check_across(files: list[SourceFile], known_jobs: Mapping[str, JobRef]) -> None:
    """Checks that look across files: references, cycles among jobs, duplicate names."""
    loaded = [r for f in files for r in f.resources]
    known = dict(known_jobs)
    for f in files:
        parsed_names = {r.resource.name for r in f.resources if r.resource.kind == "Job"}
        for n in f.named:
            if n.kind == "Job" and n.name not in parsed_names:
                known.setdefault(n.name, JobRef(n.name, None, {}))
    found = check_references([r.resource for r in loaded], known_jobs=known)
    placed = [(loaded[i].file, loaded[i].line, loaded[i].document, f) for i, f in found]
    named = [(f.path, n) for f in files for n in f.named]
    duplicates = duplicate_names([(n.kind, n.name, f"{path}:{n.line}") for path, n in named])
    placed += [(named[i][0], named[i][1].line, named[i][1].document, f) for i, f in duplicates]
    by_file = {f.path: f for f in files}
    reread: dict[str, dict[int, Document]] = {}
    for file, line, document, finding in placed:
        if file not in reread:  # rare: only files with a cross-file finding
            reread[file] = _documents_of(file)
        doc = reread[file].get(document)
        by_file[file].diagnostics.append(
            _place(file, doc, finding) if doc else _at_line(file, line, finding)
        )


def _documents_of(file: str) -> dict[int, Document]:
    """The documents of a file read again, by their position in it."""
    try:
        return {d.index: d for d in read_yaml(Path(file).read_bytes(), file).documents}
    except OSError:
        return {}


def _at_line(file: str, line: int, finding: Finding) -> Diagnostic:
    """Where the file changed or vanished since it was read: the resource's first line."""
    return Diagnostic(
        file=file,
        line=line,
        column=1,
        path=finding.path,
        code=finding.code,
        message=finding.message,
        severity=finding.severity,
    )


def _place(file: str, doc: Document, finding: Finding) -> Diagnostic:
    line, column = locate(doc.root, finding.path, at_key=finding.at_key)
    return Diagnostic(
        file=file,
        line=line,
        column=column,
        path=finding.path,
        code=finding.code,
        message=finding.message,
        severity=finding.severity,
    )
