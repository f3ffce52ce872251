"""Apply a plan: every valid file in one transaction, under the store's lock.

A saved plan (`plan --out`) is applied exactly as planned, or refused as stale when the
store changed since it was made, saying what changed.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from runner.errors import RunnerError
from runner.plan import Action, Plan
from runner.reconciler.planning import PlanResult, make_plan
from runner.store import ResourceWrite, StaleStore, Store, StoredResource

SAVED_FORMAT = "runner-plan/1"


class ApplyRefused(RunnerError):
    code = "apply-refused"


@dataclass(slots=True, kw_only=True)
class ApplyResult:
    plan: Plan
    skipped_files: list[str]
    written: bool
    generation: int
    result: PlanResult | None = None


def apply_config(
    paths: Sequence[str | os.PathLike[str]],
    store: Store,
    *,
    now: datetime,
    atomic: bool = False,
    allow_mass_delete: bool = False,
    lock_timeout: float = 0.0,
    origin: str = "apply",
    defer_cache: bool = False,
    require_clean: bool = False,
) -> ApplyResult:
    """Plan the folder against the store and apply it, skipping invalid files.
    `defer_cache`: the file cache is left for the caller to save (`result.save_cache`).
    `require_clean`: refuse a folder that is not a git work tree at a commit."""
    with store.lock(timeout=lock_timeout):
        result = make_plan(paths, store, now=now, defer_cache=defer_cache)
        try:
            _not_suspended(store)
            if require_clean:
                _clean(result, paths)
            _guard(result, atomic=atomic, allow_mass_delete=allow_mass_delete)
        except ApplyRefused as refusal:
            _record(store, result, now, origin, "rejected", [refusal.message])
            raise
        writes, deletes = writes_for(result)
        generation = store.write_configuration(
            writes=writes,
            deletes=deletes,
            now=now,
            digest=result.digest,
            expected_generation=result.generation,
        )
        outcome = "partial" if result.skipped else ("applied" if writes or deletes else "unchanged")
        _record(store, result, now, origin, outcome, [d.text() for d in result.config.errors])
    return ApplyResult(
        plan=result.plan,
        skipped_files=[f.path for f in result.skipped],
        written=bool(writes or deletes),
        generation=generation,
        result=result,
    )


def _not_suspended(store: Store) -> None:
    info = store.suspension()
    if info is not None:
        raise ApplyRefused(
            f"applying is suspended (by {info.get('by')} at {info.get('at')}: "
            f"{info.get('reason')}): `runner resume` first; nothing was applied",
            code="suspended",
        )


def _clean(result: PlanResult, paths: Sequence[str | os.PathLike[str]]) -> None:
    where, at = os.fspath(paths[0]) if paths else ".", result.origin
    if not at.commit:
        raise ApplyRefused(
            f"--require-clean: {where} is not in a git work tree; nothing was applied",
            code="not-in-git",
        )
    if at.dirty:
        raise ApplyRefused(
            f"--require-clean: {at.dirty} file(s) under {where} differ from commit {at.short} "
            "(`git status` lists them): commit them, or apply without --require-clean; "
            "nothing was applied",
            code="dirty-tree",
        )


def _guard(result: PlanResult, *, atomic: bool, allow_mass_delete: bool) -> None:
    if atomic and result.skipped:
        names = ", ".join(f.path for f in result.skipped[:5])
        raise ApplyRefused(
            f"--atomic: {len(result.skipped)} file(s) have errors ({names}); nothing was applied",
            code="atomic-invalid",
        )
    if result.mass_delete and not allow_mass_delete:
        raise ApplyRefused(f"refusing to apply: {result.mass_delete}", code="mass-delete")


def writes_for(result: PlanResult) -> tuple[list[ResourceWrite], list[tuple[str, str]]]:
    """New and changed resources (a new revision), and moved ones (same revision, new
    source); deletes as the plan says."""
    stored = {(s.kind, s.name): s for s in result.stored}
    writes: list[ResourceWrite] = []
    absolute: dict[str, str] = {}  # per file, not per resource (10,000 in 100 files)
    for r in result.config.resources:
        before = stored.get((r.kind, r.name))
        source_file = absolute.get(r.file) or absolute.setdefault(r.file, os.path.abspath(r.file))
        changed = before is None or before.digest != r.digest
        if (
            not changed
            and before is not None
            and not before.deleting
            and (before.source_file, before.source_line) == (source_file, r.line)
        ):
            continue
        revision = 1 if before is None else before.revision + (1 if changed else 0)
        writes.append(
            ResourceWrite(
                kind=r.kind,
                name=r.name,
                revision=revision,
                digest=r.digest or "",
                spec=r.spec or {},
                view=r.view_data,
                source_file=source_file,
                source_line=r.line,
                new_revision=changed,
            )
        )
    deletes = [c.key for c in result.plan.changes if c.action is Action.DELETE]
    return writes, deletes


def _record(
    store: Store, result: PlanResult, now: datetime, origin: str, outcome: str, errors: list[str]
) -> None:
    plan = result.plan
    summary = {
        "add": plan.count(Action.ADD),
        "change": plan.count(Action.CHANGE),
        "delete": plan.count(Action.DELETE),
        "unchanged": plan.unchanged,
        "skipped_files": [f.path for f in result.skipped],
    }
    store.record_reconcile(
        started=now,
        ended=now,
        origin=origin,
        outcome=outcome,
        digest=result.digest,
        summary=summary,
        errors=errors,
        source=result.origin.as_json(),
    )


# --- saved plans ----------------------------------------------------------------------


def saved_plan(result: PlanResult) -> dict[str, Any]:
    """What `plan --out` saves beside the plan's JSON, under `saved`: exactly what
    applying it writes, and the store it was planned against."""
    writes, deletes = writes_for(result)
    return {
        "format": SAVED_FORMAT,
        "generation": result.generation,
        "digest": result.digest,
        "mass_delete": result.mass_delete,
        "stored": {f"{s.kind}/{s.name}": [s.revision, s.digest] for s in result.stored},
        "writes": [asdict(w) for w in writes],
        "deletes": [list(k) for k in deletes],
        "source": result.origin.as_json(),
    }


def apply_saved_plan(
    data: dict[str, Any],
    store: Store,
    *,
    now: datetime,
    allow_mass_delete: bool = False,
    lock_timeout: float = 0.0,
) -> ApplyResult:
    saved = data.get("saved") if isinstance(data, dict) else None
    if not isinstance(saved, dict) or saved.get("format") != SAVED_FORMAT:
        raise ApplyRefused(
            "not a saved plan of this runner: make one with `runner plan --out FILE`",
            code="bad-plan-file",
        )
    if saved.get("mass_delete") and not allow_mass_delete:
        raise ApplyRefused(f"refusing to apply: {saved['mass_delete']}", code="mass-delete")
    writes = [ResourceWrite(**w) for w in saved["writes"]]
    deletes = [(k, n) for k, n in saved["deletes"]]
    with store.lock(timeout=lock_timeout):
        _not_suspended(store)
        current = store.resources()
        if store.generation() != saved["generation"]:
            raise ApplyRefused(_stale_message(saved["stored"], current), code="plan-stale")
        try:
            generation = store.write_configuration(
                writes=writes,
                deletes=deletes,
                now=now,
                digest=saved["digest"],
                expected_generation=saved["generation"],
            )
        except StaleStore:
            raise ApplyRefused(
                _stale_message(saved["stored"], store.resources()), code="plan-stale"
            ) from None
        store.record_reconcile(
            started=now,
            ended=now,
            origin="apply --plan",
            outcome="applied",
            digest=saved["digest"],
            summary=data.get("summary", {}),
            errors=[],
            source=saved.get("source"),
        )
    return ApplyResult(
        plan=Plan(changes=(), unchanged=0),
        skipped_files=[],
        written=bool(writes or deletes),
        generation=generation,
    )


def _stale_message(saved: dict[str, list[Any]], current: list[StoredResource]) -> str:
    now = {f"{s.kind}/{s.name}": [s.revision, s.digest] for s in current}
    notes = []
    for key, (rev, digest) in now.items():
        if key not in saved:
            notes.append(f"{_human(key)} was added (revision {rev})")
        elif saved[key][1] != digest:
            notes.append(f"{_human(key)} changed (revision {saved[key][0]} -> {rev})")
    notes += [f"{_human(key)} was deleted" for key in saved if key not in now]
    shown = "; ".join(notes[:5]) + (f"; and {len(notes) - 5} more" if len(notes) > 5 else "")
    return (
        "the saved plan is stale: the store changed since it was made"
        f"{' (' + shown + ')' if shown else ''}; make a new plan"
    )


def _human(key: str) -> str:
    kind, _, name = key.partition("/")
    return f"{kind.lower()} {name}"
