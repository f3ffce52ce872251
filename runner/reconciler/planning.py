"""Make a plan: read the folder (through the store's file cache), decide which files are
skipped, and diff what remains against what the store last applied.

A file that fails validation is skipped: the resources it held keep their applied
revision and are never taken as removed. A reference from a valid file into a skipped
one resolves against what the store holds; one that resolves nowhere makes the
referring file invalid too, and so on until nothing changes.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from runner.config.filecache import FileCache
from runner.config.loader import (
    Configuration,
    Loaded,
    SourceFile,
    cache_root,
    collector_paused,
    display_path,
    load_config,
    read_specs,
)
from runner.config.origin import Origin, origin_of
from runner.config.placement import Placement, attach_findings
from runner.plan import Action, Applied, Desired, Plan, PlanContext, SkippedFile, diff
from runner.spec import Finding, RefView, check_references
from runner.store import Store, StoredResource

MASS_DELETE_MIN = 10
THRIFTY_REREADS = 50


@dataclass(slots=True, kw_only=True)
class PlanResult:
    plan: Plan
    config: Configuration
    stored: list[StoredResource]
    generation: int  # the store's generation the plan was made against
    digest: str  # of the configuration's files
    skipped: list[SourceFile] = field(default_factory=list)
    unsaved_cache: tuple[str, FileCache] | None = None  # with `defer_cache`: to save
    origin: Origin = field(default_factory=Origin)  # the folder's git commit, who plans

    def save_cache(self, store: Store) -> None:
        """Save the file cache a plan made with `defer_cache` left unsaved."""
        if self.unsaved_cache is not None:
            root, cache = self.unsaved_cache
            self.unsaved_cache = None
            store.save_file_cache(root, cache.to_text())

    @property
    def mass_delete(self) -> str | None:
        """Why the plan deletes too much to apply without --allow-mass-delete, or None."""
        total = len(self.stored)
        deleting = self.plan.count(Action.DELETE)
        if not deleting:
            return None
        if deleting == total:
            what = f"every resource ({total})"
        elif total >= MASS_DELETE_MIN and deleting * 2 > total:
            what = f"{deleting} of {total} resources, more than half"
        else:
            return None
        return (
            f"the plan deletes {what}: check the path and the checkout, or pass "
            "--allow-mass-delete if that is what you want"
        )


def make_plan(
    paths: Sequence[str | os.PathLike[str]],
    store: Store,
    *,
    now: datetime,
    thrifty: bool = False,
    defer_cache: bool = False,
) -> PlanResult:
    """The plan of the folder against the store. `thrifty` (for `runner plan`): keep the
    file cache as it is when only a few files were read again, rather than rewrite it
    for 10,000 (reading those few again next time costs milliseconds). `defer_cache`:
    leave the file cache for the caller to save (`save_cache`) once it has done what it
    was waiting for (the daemon's apply: after the change is applied)."""
    with collector_paused():
        return _make_plan(paths, store, now=now, thrifty=thrifty, defer_cache=defer_cache)


def _make_plan(
    paths: Sequence[str | os.PathLike[str]],
    store: Store,
    *,
    now: datetime,
    thrifty: bool,
    defer_cache: bool,
) -> PlanResult:
    root = cache_root(paths)
    cache = FileCache.from_text(store.file_cache(root))
    config = load_config(paths, normalized=True, cache=cache)
    unsaved = None
    if cache.changed and not (thrifty and 0 < cache.reread < THRIFTY_REREADS):
        if defer_cache:
            unsaved = (root, cache)
        else:
            store.save_file_cache(root, cache.to_text())
    stored = store.resources()
    _isolate(config, stored, store)
    skipped: list[SourceFile] = []
    resources: list[Loaded] = []
    for f in config.files:
        if f.valid:
            resources += f.resources
        else:
            skipped.append(f)
    # Resources whose digest is the applied one are counted, not diffed: at 10,000 files
    # building and comparing them all would cost more than the rest of a plan.
    applied_digests = {(s.kind, s.name): s.digest for s in stored if not s.deleting}
    differing = [r for r in resources if applied_digests.get((r.kind, r.name)) != r.digest]
    _fill_specs(differing)
    desired = [
        Desired(kind=r.kind, name=r.name, spec=r.spec or {}, digest=r.digest or "", source=r.source)
        for r in differing
    ]
    same = {(r.kind, r.name) for r in resources} - {(d.kind, d.name) for d in desired}
    compared = [s for s in stored if (s.kind, s.name) not in same]
    applied = store.applied(with_specs=_needing_specs(desired, compared), stored=compared)
    context = PlanContext(
        now=now,
        active_runs=store.active_runs(),
        runtime_holds=store.runtime_holds(),
        skipped_files=[_skipped(f, stored) for f in skipped],
        job_labels=_job_labels(resources, skipped, stored, store),
    )
    plan = diff(desired, _shown(applied, desired), context)
    return PlanResult(
        plan=replace(plan, unchanged=plan.unchanged + len(same)),
        config=config,
        stored=stored,
        origin=origin_of(paths),
        generation=store.generation(),
        digest=config.digest,
        skipped=skipped,
        unsaved_cache=unsaved,
    )


def _fill_specs(items: list[Loaded]) -> None:
    """Normalised specs for resources that are new or changed but came from the cache
    (a plan made twice before an apply): their files are read again."""
    missing = [r for r in items if r.spec is None]
    if not missing:
        return
    specs = read_specs([r.file for r in missing], {(r.kind, r.name) for r in missing})
    for r in missing:
        r.spec = specs.get((r.kind, r.name))


def _job_labels(
    resources: list[Loaded], skipped: list[SourceFile], stored: list[StoredResource], store: Store
) -> dict[str, dict[str, str]]:
    """The labels of every job there will be once the plan is applied: the valid files'
    and, for the skipped files, the store's."""
    labels = {r.name: r.view_data.get("labels") or {} for r in resources if r.kind == "Job"}
    held = {name for f in skipped for kind, name in held_by(f, stored) if kind == "Job"}
    for name, view in store.views(held - set(labels)).items():
        labels[name] = dict(view.get("labels") or {})
    return labels


def _needing_specs(desired: list[Desired], stored: list[StoredResource]) -> list[tuple[str, str]]:
    """Resources whose applied spec the diff needs: those that changed or went away."""
    want = {(d.kind, d.name): d.digest for d in desired}
    return [
        (s.kind, s.name) for s in stored if want.get((s.kind, s.name)) != s.digest or s.deleting
    ]


def _shown(applied: list[Applied], desired: list[Desired]) -> list[Applied]:
    """Applied resources; those going away with their source relative to the working
    directory (the only ones whose stored source the plan shows)."""
    kept = {(d.kind, d.name) for d in desired}
    return [
        a if (a.kind, a.name) in kept else a._replace(source=relative_source(a.source))
        for a in applied
    ]


def relative_source(source: str) -> str:
    """`/abs/jobs.d/a.yaml:3` as `jobs.d/a.yaml:3` when under the working directory."""
    path, _, line = source.rpartition(":")
    return f"{display_path(path)}:{line}"


def held_by(file: SourceFile, stored: list[StoredResource]) -> list[tuple[str, str]]:
    """The resources a skipped file holds at their applied revision: what it names now,
    and what the store says came from it."""
    real = os.path.abspath(file.path)
    keys = {(n.kind, n.name) for n in file.named}
    keys |= {(s.kind, s.name) for s in stored if s.source_file == real}
    return sorted(keys)


def _skipped(file: SourceFile, stored: list[StoredResource]) -> SkippedFile:
    applied = {(s.kind, s.name) for s in stored}
    return SkippedFile(
        path=file.path,
        error_count=file.error_count,
        resources=tuple(k for k in held_by(file, stored) if k in applied),
    )


def _isolate(config: Configuration, stored: list[StoredResource], store: Store) -> None:
    """Check the references of valid files again against what will really exist once the
    invalid files are skipped (their jobs as the store holds them), until no further file
    becomes invalid."""
    applied_jobs = {s.name for s in stored if s.kind == "Job"}
    applied_pools = {s.name for s in stored if s.kind == "Pool"}
    views: dict[str, dict[str, Any]] = {}
    while True:
        skipped = [f for f in config.files if not f.valid]
        if not skipped:
            return
        valid = [r for f in config.files if f.valid for r in f.resources]
        present = {r.name for r in valid if r.kind == "Job"}
        in_skipped = {n.name: f.path for f in skipped for n in f.named if n.kind == "Job"}
        wanted = {n for n in in_skipped if n in applied_jobs and n not in present}
        views.update(store.views(wanted - set(views)))
        known = [RefView.from_json(views[name]) for name in wanted if name in views]
        known += [  # a Pool in a skipped file stays at its applied revision
            RefView.existing_job(n.name, "Pool")
            for f in skipped
            for n in f.named
            if n.kind == "Pool" and n.name in applied_pools
        ]
        found = check_references([r.view for r in valid], known_jobs=known)
        placed = [Placement.of(valid[i], _explained(f, in_skipped)) for i, f in found if f.is_error]
        if not attach_findings(config.files, placed):
            return


def _explained(finding: Finding, in_skipped: dict[str, str]) -> Finding:
    """An unknown job that only a skipped file defines: say so."""
    if finding.subject not in in_skipped or finding.code != "unknown-job":
        return finding
    return replace(
        finding,
        code="reference-into-skipped",
        message=(
            f'job "{finding.subject}" is defined in {in_skipped[finding.subject]}, which is '
            "skipped for its errors, and has never been applied"
        ),
    )
