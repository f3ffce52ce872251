"""Read a configuration folder: every file, every document, every problem.

The result keeps each file apart (a file with errors is skipped by `apply` while the
others are applied) and every diagnostic carries its file, line and column.

With `normalized=True` each valid resource also carries its digest (and, when the file
was parsed, its normalised spec), which `plan` diffs. Given a `FileCache` of earlier
reads, files whose size and mtime (or content hash) did not change are not parsed again;
the cache is updated in place for the caller to save.
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from runner.config.filecache import (
    DIAGNOSTICS,
    ENTRIES,
    MTIME,
    REFS_KEY,
    SHA,
    SIZE,
    FileCache,
    Record,
    refs_key,
)
from runner.config.host import host_findings
from runner.config.placement import Placement, attach_findings, place
from runner.config.walk import display_path as display_path  # re-exported (planning, inventory)
from runner.config.walk import find_files as find_files  # re-exported (tests)
from runner.config.yamlread import Document, read_yaml
from runner.spec import (
    Parsed,
    RefView,
    Resource,
    check_references,
    duplicate_names,
    normal_form,
    parse_resource,
)
from runner.spec.diagnostics import Diagnostic, Severity, sort_key


@dataclass(slots=True, kw_only=True)
class Loaded:
    """One valid resource as a file states it, with where it is."""

    kind: str
    name: str
    file: str
    line: int
    document: int  # which `---` document of the file
    view_data: dict[str, Any]  # the reference view as JSON (`RefView.as_json`)
    resource: Resource | None = None  # the model, when the file was parsed this time
    spec: dict[str, Any] | None = None  # normalised (with `normalized=True`)
    digest: str | None = None
    cached_view: RefView | None = None

    @property
    def source(self) -> str:
        return f"{self.file}:{self.line}"

    @property
    def view(self) -> RefView:
        """Built when first asked for: a plan whose checks across files are cached
        never needs the views of 10,000 unchanged files."""
        if self.cached_view is None:
            self.cached_view = RefView.from_json(self.view_data)
        return self.cached_view


class Named(NamedTuple):
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
    sha256: str = ""  # of the file's bytes, when it could be read

    @property
    def diagnostics(self) -> list[Diagnostic]:
        return self.local + self.across

    @property
    def valid(self) -> bool:
        return not any(d.is_error for d in self.local) and not any(d.is_error for d in self.across)

    @property
    def error_count(self) -> int:
        return sum(1 for d in self.diagnostics if d.is_error)


@dataclass(slots=True)
class Configuration:
    """A folder (or files) read and checked: the desired state and what is wrong with it."""

    paths: list[str]
    files: list[SourceFile]
    # warnings on the folders: links not followed (loops, a folder read already)
    folders: list[Diagnostic] = field(default_factory=list)

    @property
    def diagnostics(self) -> list[Diagnostic]:
        found = [d for f in self.files for d in f.diagnostics]
        return sorted([*found, *self.folders], key=sort_key)

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
    def digest(self) -> str:
        """Of every file's bytes, with its path: what `apply` records as applied."""
        text = "\n".join(f"{f.path}={f.sha256}" for f in self.files)
        return hashlib.sha256(text.encode()).hexdigest()

    @property
    def resource_count(self) -> int:
        """Documents that name a resource, valid or not."""
        return sum(len(f.named) for f in self.files)


def load_config(
    paths: Sequence[str | os.PathLike[str]],
    *,
    known_jobs: Sequence[RefView] = (),
    normalized: bool = False,
    cache: FileCache | None = None,
) -> Configuration:
    """Read and check every YAML file under `paths` (folders are read recursively)."""
    config = Configuration([str(p) for p in paths], [])
    links: list[Diagnostic] = []
    with collector_paused():
        found = find_files(paths, links)
        keys = []
        reread: list[str] = []
        for real, shown in found:
            record = cache.get(real) if cache else None
            source, fresh = _load_file(real, shown, record, normalized)
            config.files.append(source)
            if fresh is not None or record is None:
                reread.append(real)
            if cache is not None and fresh is not None:
                cache.put(real, fresh)
                cache.reread += 1
            current = fresh or record
            keys.append(f"{shown}={current[REFS_KEY] if current else '-'}")
        if cache is None or known_jobs:
            _check_across(config.files, known_jobs)
        else:
            _check_across_cached(config, found, reread, keys, cache)
        attach_findings(config.files, host_findings(config.resources))  # never cached
    config.folders = links
    if cache is not None:
        cache.keep_only({real for real, _ in found})
    return config


def _check_across_cached(
    config: Configuration,
    found: list[tuple[str, str]],
    reread: list[str],
    keys: list[str],
    cache: FileCache,
) -> None:
    """The checks across files, or their last result when no file changed what they look
    at, and no file read again had findings from them (whose columns may have moved)."""
    key = hashlib.sha1("\n".join(keys).encode(), usedforsecurity=False).hexdigest()
    if key == cache.across_key and not any(path in cache.across for path in reread):
        for (real, _), source in zip(found, config.files, strict=True):
            source.across = _diagnostics(source.path, cache.across.get(real, []))
        return
    _check_across(config.files, ())
    across = {
        real: _compact(source.across)
        for (real, _), source in zip(found, config.files, strict=True)
        if source.across
    }
    cache.remember_across(key, across)


def cache_root(paths: Sequence[str | os.PathLike[str]]) -> str:
    """The key under which a configuration's file records are kept."""
    return "|".join(sorted(os.path.abspath(p) for p in paths))


_paused = 0


@contextmanager
def collector_paused() -> Iterator[None]:
    """Loading allocates millions of objects that nearly all survive (the parsed
    configuration) and form no reference cycles. The cyclic collector would rescan them
    over and over during the load, and then in every full collection after it (each
    about half a second for 10,000 files). So it is paused while loading (and planning),
    and what that made is then frozen (`gc.freeze`: left out of later collections;
    reference counting still frees it when dropped). The freeze is lifted at the next
    load, so only one load's worth is ever out of the collector's sight. Re-entrant."""
    global _paused
    was_enabled = gc.isenabled()
    if _paused == 0:
        gc.disable()
        gc.unfreeze()
    _paused += 1
    try:
        yield
    finally:
        _paused -= 1
        if _paused == 0:
            gc.freeze()
            if was_enabled:
                gc.enable()


def _load_file(
    real: str, shown: str, record: Record | None, normalized: bool
) -> tuple[SourceFile, Record | None]:
    """One file, from its cache record when it did not change, else read and checked
    alone; with the record to cache when there is a new one."""
    try:
        stat = os.stat(real)
        if record and (record[SIZE], record[MTIME]) == (stat.st_size, stat.st_mtime_ns):
            return _from_record(shown, record, record[SHA]), None
        with open(real, "rb", buffering=0) as handle:  # one read: no buffer to fill
            raw = handle.read()
    except OSError as exc:
        source = SourceFile(shown)
        source.local.append(_unreadable(shown, exc))
        return source, None
    digest = hashlib.sha256(raw).hexdigest()
    if record and record[SHA] == digest:
        fresh = [stat.st_size, stat.st_mtime_ns, digest, *record[ENTRIES:]]
        return _from_record(shown, record, digest), fresh
    source = _parse_file(shown, raw, normalized)
    source.sha256 = digest
    return source, _as_record(source, stat, digest) if normalized else None


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
        source.local += [place(shown, doc, f) for f in parsed.findings]
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
        view_data=(view := RefView.of(resource)).as_json(),
        resource=resource,
        cached_view=view,
    )
    if normalized:
        item.spec = normal_form(resource)
        item.digest = spec_digest(item.spec)
    return item


def spec_digest(spec: Mapping[str, Any]) -> str:
    text = json.dumps(spec, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _as_record(source: SourceFile, stat: os.stat_result, digest: str) -> Record:
    """What the cache keeps of a parsed file."""
    valid = {(r.kind, r.name, r.document) for r in source.resources}
    entries: list[list[Any]] = [
        [r.kind, r.name, r.line, r.document, r.digest, r.view_data] for r in source.resources
    ]
    entries += [
        [n.kind, n.name, n.line, n.document, None, None]
        for n in source.named
        if (n.kind, n.name, n.document) not in valid
    ]
    return [
        stat.st_size,
        stat.st_mtime_ns,
        digest,
        entries,
        _compact(source.local),
        refs_key(entries),
    ]


def _compact(diagnostics: list[Diagnostic]) -> list[list[Any]]:
    return [
        [d.line, d.column, list(d.path), d.code, d.message, d.severity.value] for d in diagnostics
    ]


def _diagnostics(shown: str, compact: list[list[Any]]) -> list[Diagnostic]:
    return [
        Diagnostic(
            file=shown,
            line=line,
            column=column,
            path=tuple(path),
            code=code,
            message=message,
            severity=Severity(severity),
        )
        for line, column, path, code, message, severity in compact
    ]


def _from_record(shown: str, record: Record, sha256: str) -> SourceFile:
    source = SourceFile(shown, cached=True, sha256=sha256)
    for kind, name, line, document, digest, view in record[ENTRIES]:
        source.named.append(Named(kind, name, line, document))
        if view is not None:
            source.resources.append(
                Loaded(
                    kind=kind,
                    name=name,
                    file=shown,
                    line=line,
                    document=document,
                    view_data=view,
                    digest=digest,
                )
            )
    if record[DIAGNOSTICS]:
        source.local = _diagnostics(shown, record[DIAGNOSTICS])
    return source


def read_specs(
    item_files: Sequence[str], normalized_for: set[tuple[str, str]]
) -> dict[tuple[str, str], dict[str, Any]]:
    """Normalised specs of the given resources, read again from their files (for the few
    a plan needs when their files came from the cache)."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for shown in sorted(set(item_files)):
        try:
            with open(shown, "rb") as handle:
                parsed = _parse_file(shown, handle.read(), normalized=True)
        except OSError:
            continue
        out.update(
            {
                (r.kind, r.name): r.spec
                for r in parsed.resources
                if (r.kind, r.name) in normalized_for and r.spec is not None
            }
        )
    return out


def _check_across(files: list[SourceFile], known_jobs: Sequence[RefView]) -> None:
    """Checks that look across files: references, cycles among jobs, duplicate names."""
    loaded = [r for f in files for r in f.resources]
    known = list(known_jobs)
    for f in files:
        parsed = {(r.kind, r.name) for r in f.resources}
        known += [
            RefView.existing_job(n.name, n.kind)
            for n in f.named
            if n.kind in ("Job", "Pool") and (n.kind, n.name) not in parsed
        ]
    found = check_references([r.view for r in loaded], known_jobs=known)
    placed = [Placement(loaded[i].file, loaded[i].line, loaded[i].document, f) for i, f in found]
    named = [(f.path, n) for f in files for n in f.named]
    duplicates = duplicate_names([(n.kind, n.name, f"{path}:{n.line}") for path, n in named])
    placed += [
        Placement(named[i][0], named[i][1].line, named[i][1].document, f) for i, f in duplicates
    ]
    attach_findings(files, placed)
