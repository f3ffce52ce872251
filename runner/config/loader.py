"""Read a configuration folder: every file, every document, every problem.

The result keeps each file apart (a file with errors is skipped by `apply` while the
others are applied) and every diagnostic carries its file, line and column.

With `normalized=True` each valid resource also carries its normalised spec, digest and
reference view, which `plan` diffs. Given a `cache` of earlier reads (kept by the caller,
the store in practice), files whose size and mtime (or content hash) did not change are
not parsed again; the new records come back in `Configuration.records` to be saved.
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from runner import __version__
from runner.config.yamlread import Document, locate, read_yaml
from runner.diagnostics import Diagnostic, Severity, sort_key
from runner.errors import ConfigError
from runner.spec import (
    Finding,
    Parsed,
    RefView,
    Resource,
    check_references,
    dump,
    duplicate_names,
    normalize,
    parse_resource,
)

SUFFIXES = (".yaml", ".yml")
CACHE_VERSION = f"{__version__}/1"  # a new runner re-reads every file once


class FileRecord(Protocol):
    """What the cache keeps of one file (the store's `CachedFile` is one)."""

    @property
    def path(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def mtime_ns(self) -> int: ...
    @property
    def sha256(self) -> str: ...
    @property
    def entries(self) -> list[dict[str, Any]]: ...
    @property
    def diagnostics(self) -> list[dict[str, Any]]: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class NewRecord:
    path: str
    size: int
    mtime_ns: int
    sha256: str
    entries: list[dict[str, Any]]
    diagnostics: list[dict[str, Any]]


@dataclass(slots=True, kw_only=True)
class Loaded:
    """One valid resource as a file states it, with where it is."""

    kind: str
    name: str
    file: str
    line: int
    document: int  # which `---` document of the file
    view: RefView
    resource: Resource | None = None  # the model, when the file was parsed this time
    spec: dict[str, Any] | None = None  # normalised (with `normalized=True`)
    digest: str | None = None

    @property
    def source(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True, slots=True)
class Named:
    """A document that states a valid kind and name, whether or not it is valid."""

    kind: str
    name: str
    line: int
    document: int


@dataclass(slots=True)
class SourceFile:
    path: str
    resources: list[Loaded] = field(default_factory=list)
    local: list[Diagnostic] = field(default_factory=list)  # the file alone
    across: list[Diagnostic] = field(default_factory=list)  # from checks across files
    named: list[Named] = field(default_factory=list)
    cached: bool = False

    @property
    def diagnostics(self) -> list[Diagnostic]:
        return self.local + self.across

    @property
    def valid(self) -> bool:
        return not any(d.is_error for d in self.diagnostics)

    @property
    def error_count(self) -> int:
        return sum(1 for d in self.diagnostics if d.is_error)


@dataclass(slots=True)
class Configuration:
    """A folder (or files) read and checked: the desired state and what is wrong with it."""

    paths: list[str]
    files: list[SourceFile]
    records: list[NewRecord] = field(default_factory=list)  # new cache records
    gone: list[str] = field(default_factory=list)  # cached paths no longer there

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
    known_jobs: Sequence[RefView] = (),
    normalized: bool = False,
    cache: Mapping[str, FileRecord] | None = None,
) -> Configuration:
    """Read and check every YAML file under `paths` (folders are read recursively)."""
    cache = cache or {}
    config = Configuration([str(p) for p in paths], [])
    with _collector_paused():
        found = find_files(paths)
        cwd = os.getcwd()
        for path in found:
            source, record = _load_file(path, cache.get(os.path.abspath(path)), normalized, cwd)
            config.files.append(source)
            if record is not None:
                config.records.append(record)
        _check_across(config.files, known_jobs)
    present = {os.path.abspath(p) for p in found}
    config.gone = [p for p in cache if p not in present]
    return config


def cache_root(paths: Sequence[str | os.PathLike[str]]) -> str:
    """The key under which a configuration's file records are kept."""
    return CACHE_VERSION + ":" + "|".join(sorted(os.path.abspath(p) for p in paths))


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Loading allocates millions of objects that nearly all survive (the parsed
    configuration) and form no reference cycles; the cyclic collector would rescan them
    over and over (a quarter of the time for 10,000 files, even with raised thresholds).
    Paused for the load; whatever cycles it made are collected once it resumes."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def find_files(paths: Sequence[str | os.PathLike[str]]) -> list[Path]:
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


def display_path(path: Path, cwd: str | None = None) -> str:
    """The path as people see it: relative to the working directory when under it."""
    text = os.path.relpath(path, cwd or os.getcwd())
    return str(path) if text.startswith("..") else text


def _load_file(
    path: Path, record: FileRecord | None, normalized: bool, cwd: str
) -> tuple[SourceFile, NewRecord | None]:
    """One file, from the cache when it did not change, else read and checked alone."""
    shown = display_path(path, cwd)
    try:
        stat = path.stat()
        if record and (record.size, record.mtime_ns) == (stat.st_size, stat.st_mtime_ns):
            return _from_record(shown, record), None
        raw = path.read_bytes()
    except OSError as exc:
        source = SourceFile(shown)
        source.local.append(_unreadable(shown, exc))
        return source, None
    digest = hashlib.sha256(raw).hexdigest()
    if record and record.sha256 == digest:
        return _from_record(shown, record), _record(path, stat, digest, record)
    source = _parse_file(shown, raw, normalized)
    return source, _record(path, stat, digest, _as_record(source)) if normalized else None


def _unreadable(shown: str, exc: OSError) -> Diagnostic:
    return Diagnostic(
        file=shown,
        line=1,
        column=1,
        path=(),
        code="unreadable",
        message=f"cannot read the file: {exc.strerror or exc}",
    )


def _parse_file(shown: str, raw: bytes, normalized: bool) -> SourceFile:
    """Read and check one file alone. Node trees are dropped before returning: kept for
    10,000 files they are millions of objects that the garbage collector rescans."""
    source = SourceFile(shown)
    result = read_yaml(raw, shown)
    source.local += result.diagnostics
    for doc in result.documents:
        if doc.data is None:
            continue  # an empty document, such as a trailing `---`
        parsed: Parsed = parse_resource(doc.data)
        source.local += [_place(shown, doc, f) for f in parsed.findings]
        if parsed.kind and parsed.name:
            source.named.append(Named(parsed.kind, parsed.name, doc.line, doc.index))
        if parsed.resource is not None:
            source.resources.append(_loaded(parsed.resource, shown, doc, normalized))
    return source


def _loaded(resource: Resource, shown: str, doc: Document, normalized: bool) -> Loaded:
    item = Loaded(
        kind=resource.kind,
        name=resource.name,
        file=shown,
        line=doc.line,
        document=doc.index,
        view=RefView.of(resource),
        resource=resource,
    )
    if normalized:
        item.spec = dump(normalize(resource))
        item.digest = spec_digest(item.spec)
    return item


def spec_digest(spec: Mapping[str, Any]) -> str:
    text = json.dumps(spec, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _as_record(source: SourceFile) -> NewRecord:
    """What the cache keeps of a parsed file (its stat fields are filled by `_record`)."""
    valid = {(r.kind, r.name, r.document) for r in source.resources}
    entries: list[dict[str, Any]] = [
        {
            "kind": r.kind,
            "name": r.name,
            "line": r.line,
            "document": r.document,
            "digest": r.digest,
            "spec": r.spec,
            "view": r.view.as_json(),
        }
        for r in source.resources
    ]
    entries += [
        {"kind": n.kind, "name": n.name, "line": n.line, "document": n.document}
        for n in source.named
        if (n.kind, n.name, n.document) not in valid
    ]
    diagnostics = [
        {
            "line": d.line,
            "column": d.column,
            "path": list(d.path),
            "code": d.code,
            "message": d.message,
            "severity": d.severity.value,
        }
        for d in source.local
    ]
    return NewRecord(
        path="", size=0, mtime_ns=0, sha256="", entries=entries, diagnostics=diagnostics
    )


def _record(path: Path, stat: os.stat_result, digest: str, record: FileRecord) -> NewRecord:
    return NewRecord(
        path=os.path.abspath(path),
        size=stat.st_size,
        mtime_ns=stat.st_mtime_ns,
        sha256=digest,
        entries=record.entries,
        diagnostics=record.diagnostics,
    )


def _from_record(shown: str, record: FileRecord) -> SourceFile:
    source = SourceFile(shown, cached=True)
    for e in record.entries:
        source.named.append(Named(e["kind"], e["name"], e["line"], e["document"]))
        if "view" in e:
            source.resources.append(
                Loaded(
                    kind=e["kind"],
                    name=e["name"],
                    file=shown,
                    line=e["line"],
                    document=e["document"],
                    view=RefView.from_json(e["view"]),
                    spec=e["spec"],
                    digest=e["digest"],
                )
            )
    source.local = [
        Diagnostic(
            file=shown,
            line=d["line"],
            column=d["column"],
            path=tuple(d["path"]),
            code=d["code"],
            message=d["message"],
            severity=Severity(d["severity"]),
        )
        for d in record.diagnostics
    ]
    return source


def _check_across(files: list[SourceFile], known_jobs: Sequence[RefView]) -> None:
    """Checks that look across files: references, cycles among jobs, duplicate names."""
    loaded = [r for f in files for r in f.resources]
    known = list(known_jobs)
    for f in files:
        parsed_names = {r.name for r in f.resources if r.kind == "Job"}
        known += [
            RefView.existing_job(n.name)
            for n in f.named
            if n.kind == "Job" and n.name not in parsed_names
        ]
    found = check_references([r.view for r in loaded], known_jobs=known)
    placed = [Placement(loaded[i].file, loaded[i].line, loaded[i].document, f) for i, f in found]
    named = [(f.path, n) for f in files for n in f.named]
    duplicates = duplicate_names([(n.kind, n.name, f"{path}:{n.line}") for path, n in named])
    placed += [
        Placement(named[i][0], named[i][1].line, named[i][1].document, f) for i, f in duplicates
    ]
    attach_findings(files, placed)


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
        diagnostic = _place(p.file, doc, p.finding) if doc else _at_line(p.file, p.line, p.finding)
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
