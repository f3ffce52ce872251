"""The plan: what applying the configuration would change, as typed data (SPEC 4).

`diff(desired, applied, context)` is pure: normalised specs in, `Plan` out. Lists of
named things (tasks, holds) are matched by name, so inserting a task reads as one added
task rather than every later task changing. The effects (next runs of a new schedule,
runs in progress on an older revision, deferred deletes, which jobs a Hold covers) come
from `PlanContext`, which the reconciler fills from the store.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, NamedTuple

from runner.domain import RunState
from runner.domain.holds import hold_covers
from runner.domain.runs import ActiveRun, RuntimeHold
from runner.domain.timing import timing_of
from runner.spec.env import is_env_value
from runner.spec.schedules import preview

NAMED_LISTS = ("tasks", "holds")  # lists whose items are matched by `name`


class Action(StrEnum):
    ADD = "add"
    CHANGE = "change"
    DELETE = "delete"


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One field that differs. `path` reads like the file, with tasks and holds by name:
    `schedule.cron`, `tasks[load].after`, `tasks[validate]` (a task added or removed)."""

    path: str
    before: Any
    after: Any

    @property
    def op(self) -> str:
        if self.before is None and self.after is not None:
            return "+"
        if self.after is None and self.before is not None:
            return "-"
        return "~"


@dataclass(frozen=True, slots=True)
class Note:
    """An effect of a change: `next runs: ...` (info) or `run 41 is running ...` (warn)."""

    text: str
    warn: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Change:
    action: Action
    kind: str
    name: str
    source: str  # `file:line` of the desired resource, or where the deleted one was
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    revision_before: int | None = None
    revision_after: int | None = None
    fields: tuple[FieldChange, ...] = ()
    notes: tuple[Note, ...] = ()
    running: tuple[ActiveRun, ...] = ()  # runs in progress on the revision before

    @property
    def key(self) -> tuple[str, str]:
        return (self.kind, self.name)


class Desired(NamedTuple):  # NamedTuples: 10,000 of them are built per plan
    kind: str
    name: str
    spec: dict[str, Any]
    digest: str
    source: str


class Applied(NamedTuple):
    kind: str
    name: str
    spec: dict[str, Any]
    digest: str
    revision: int
    source: str
    deleting: bool = False  # deleted from the folder, waiting for its running run


@dataclass(frozen=True, slots=True, kw_only=True)
class SkippedFile:
    path: str
    error_count: int
    resources: tuple[tuple[str, str], ...]  # (kind, name) the file held when last applied


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanContext:
    now: datetime
    active_runs: Sequence[ActiveRun] = ()
    runtime_holds: Sequence[RuntimeHold] = ()
    skipped_files: Sequence[SkippedFile] = ()
    # labels of every job there will be after the apply (valid files', and the store's
    # for jobs of skipped files); None: the desired jobs' own
    job_labels: Mapping[str, Mapping[str, str]] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    changes: tuple[Change, ...]
    unchanged: int
    skipped_files: tuple[SkippedFile, ...] = ()
    runtime_holds: tuple[RuntimeHold, ...] = ()
    created: datetime | None = None

    def count(self, action: Action) -> int:
        return sum(1 for c in self.changes if c.action is action)

    @property
    def has_changes(self) -> bool:
        return bool(self.changes)


def diff(desired: Sequence[Desired], applied: Sequence[Applied], context: PlanContext) -> Plan:
    """What applying `desired` over `applied` changes, resource by resource."""
    want = {(d.kind, d.name): d for d in desired}
    have = {(a.kind, a.name): a for a in applied}
    held = {r for f in context.skipped_files for r in f.resources}
    runs = _runs_by_job(context.active_runs)
    labels = _labels_after(want, have, held)
    changes: list[Change] = []
    unchanged = 0
    for key, d in want.items():
        a = have.get(key)
        if a is None:
            changes.append(_added(d, labels, context))
        elif a.digest != d.digest or a.deleting:
            changes.append(_changed(d, a, runs.get(d.name, []) if d.kind == "Job" else [], context))
        else:
            unchanged += 1
    for key, a in have.items():
        if key not in want and key not in held and not a.deleting:
            changes.append(_deleted(a, runs.get(a.name, []) if a.kind == "Job" else []))
    changes.sort(key=_order)
    return Plan(
        changes=tuple(changes),
        unchanged=unchanged,
        skipped_files=tuple(context.skipped_files),
        runtime_holds=tuple(context.runtime_holds),
        created=context.now,
    )


def _labels_after(
    want: Mapping[tuple[str, str], Desired],
    have: Mapping[tuple[str, str], Applied],
    held: set[tuple[str, str]],
) -> dict[str, Mapping[str, str]]:
    """Every job after the apply, with its labels: the desired ones, and those held by
    skipped files as applied."""
    labels = {
        a.name: a.spec.get("labels") or {}
        for key, a in have.items()
        if key in held and a.kind == "Job"
    }
    labels.update({d.name: d.spec.get("labels") or {} for d in want.values() if d.kind == "Job"})
    return labels


def _order(change: Change) -> tuple[int, int, str]:
    """Jobs first (added, changed, deleted), then holds, as SPEC's example reads."""
    return (
        0 if change.kind == "Job" else 1,
        {Action.ADD: 0, Action.CHANGE: 1, Action.DELETE: 2}[change.action],
        change.name,
    )


def _runs_by_job(runs: Sequence[ActiveRun]) -> dict[str, list[ActiveRun]]:
    out: dict[str, list[ActiveRun]] = {}
    for run in sorted(runs, key=lambda r: r.id):
        out.setdefault(run.job, []).append(run)
    return out


def _added(
    d: Desired, held_labels: Mapping[str, Mapping[str, str]], context: PlanContext
) -> Change:
    if d.kind == "Job":
        notes = tuple(_job_start_notes(d.spec, context.now, new=True))
    elif d.kind == "Pool":
        notes = (Note(f"{d.spec['slots']} slot(s)"),)
    else:
        labels = context.job_labels if context.job_labels is not None else held_labels
        notes = (_covers_note(d.spec, labels),)
    return Change(
        action=Action.ADD,
        kind=d.kind,
        name=d.name,
        source=d.source,
        before=None,
        after=d.spec,
        revision_after=1,
        notes=notes,
    )


def _changed(d: Desired, a: Applied, runs: list[ActiveRun], context: PlanContext) -> Change:
    fields = tuple(_without_inherited(field_changes(a.spec, d.spec)))
    notes: list[Note] = []
    same = a.digest == d.digest
    if d.kind == "Job" and not same:
        notes += _schedule_notes(a.spec, d.spec, context.now)
        revision = a.revision + 1
        notes += [
            Note(
                f"run {r.id} is {r.state} on revision {r.revision}; new runs use "
                f"revision {revision}",
                warn=True,
            )
            for r in runs
            if r.state == RunState.RUNNING
        ]
    if a.deleting:
        notes.append(Note("was being deleted; it stays", warn=True))
    return Change(
        action=Action.CHANGE,
        kind=d.kind,
        name=d.name,
        source=d.source,
        before=a.spec,
        after=d.spec,
        revision_before=a.revision,
        revision_after=a.revision if same else a.revision + 1,
        fields=fields,
        notes=tuple(notes),
        running=tuple(r for r in runs if r.state == RunState.RUNNING) if not same else (),
    )


def _deleted(a: Applied, runs: list[ActiveRun]) -> Change:
    notes = [
        Note(f"run {r.id} is running: the job is deleted when it ends", warn=True)
        for r in runs
        if r.state == RunState.RUNNING
    ]
    scheduled = [r for r in runs if r.state == RunState.SCHEDULED]
    if scheduled:
        ids = ", ".join(str(r.id) for r in scheduled)
        notes.append(
            Note(f"scheduled run{'s' if len(scheduled) > 1 else ''} {ids} discarded", warn=True)
        )
    return Change(
        action=Action.DELETE,
        kind=a.kind,
        name=a.name,
        source=a.source,
        before=a.spec,
        after=None,
        revision_before=a.revision,
        notes=tuple(notes),
        running=tuple(r for r in runs if r.state == RunState.RUNNING),
    )


def _job_start_notes(spec: Mapping[str, Any], now: datetime, *, new: bool) -> Iterator[Note]:
    schedule = spec.get("schedule") or {}
    if spec.get("disabled"):
        yield Note("disabled: no run of any kind starts")
        return
    if schedule.get("mode") == "manual":
        if new and spec.get("status") == "start":
            yield Note("runs once now (status: start), then waits for triggers")
        elif new:
            yield Note("waits for a trigger: without status: start, creating it runs nothing")
        return
    if not schedule.get("enabled", True):
        yield Note("schedule not enabled: no scheduled runs")
        return
    times = preview(timing_of(schedule), now)
    if times:
        yield Note("next runs: " + ", ".join(times))
    if new and spec.get("status") == "paused":
        yield Note("paused: the first scheduled run waits for a manual trigger")


def _schedule_notes(
    before: Mapping[str, Any], after: Mapping[str, Any], now: datetime
) -> list[Note]:
    notes = list(_status_notes(before, after))
    if before.get("schedule") == after.get("schedule") and before.get("disabled") == after.get(
        "disabled"
    ):
        return notes
    notes += _job_start_notes(after, now, new=False)
    if after.get("status") == "paused" and before.get("schedule") != after.get("schedule"):
        notes.append(
            Note(
                "paused again: the schedule changed, so the next scheduled run "
                "waits for a manual trigger"
            )
        )
    return notes


def _status_notes(before: Mapping[str, Any], after: Mapping[str, Any]) -> Iterator[Note]:
    """A manual job's `status` counts only when apply creates the job (SPEC 2.2)."""
    if (after.get("schedule") or {}).get("mode") == "manual" and before.get("status") != after.get(
        "status"
    ):
        yield Note(
            "no run now: status: start runs a manual job once when apply creates it, and this "
            f"one exists already (runner run {after.get('name')} runs it)"
            if after.get("status") == "start"
            else "no effect now: status counts for a manual job only when apply creates it"
        )


def _covers_note(spec: Mapping[str, Any], jobs: Mapping[str, Mapping[str, str]]) -> Note:
    covered = sorted(
        name for name, labels in jobs.items() if hold_covers(spec, {"name": name, "labels": labels})
    )
    if not covered:
        return Note("covers no job", warn=True)
    shown = ", ".join(covered[:10]) + (
        f" and {len(covered) - 10} more" if len(covered) > 10 else ""
    )
    return Note(f"covers {shown}")


INHERITED = ("retries", "continueOnError", "pool")  # job fields each task inherits


def _without_inherited(changes: Iterator[FieldChange]) -> Iterator[FieldChange]:
    """A job-level `retries.limit` edit changes every task's inherited copy too; those
    copies are left out where they change exactly as the job's field does."""
    items = list(changes)
    job_level = {c.path: (c.before, c.after) for c in items if c.path.split(".")[0] in INHERITED}
    for c in items:
        _, _, rest = c.path.partition("].")
        if c.path.startswith("tasks[") and rest and job_level.get(rest) == (c.before, c.after):
            continue
        yield c


def field_changes(before: Any, after: Any, path: str = "") -> Iterator[FieldChange]:
    """Every leaf that differs between two normalised specs. An env value is a leaf,
    whatever its form: a changed secret is `env.X` changed, not its digest."""
    if before == after:
        return
    if isinstance(before, dict) and isinstance(after, dict) and not is_env_value(path):
        for key in _keys(before, after):
            sub = f"{path}.{key}" if path else key
            if key in NAMED_LISTS and _named(before.get(key)) and _named(after.get(key)):
                yield from _named_list_changes(before.get(key) or [], after.get(key) or [], sub)
            else:
                yield from field_changes(before.get(key), after.get(key), sub)
        return
    yield FieldChange(path, before, after)


def _keys(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    keys = list(before)
    keys += [k for k in after if k not in before]
    return keys


def _named(items: Any) -> bool:
    return items is None or (
        isinstance(items, list) and all(isinstance(i, dict) and "name" in i for i in items)
    )


def _named_list_changes(
    before: list[dict[str, Any]], after: list[dict[str, Any]], path: str
) -> Iterator[FieldChange]:
    """Items keyed by name (`tasks[load].after`), not by position: after a reorder a
    position names one task before and another after."""
    old = {item["name"]: item for item in before}
    new = {item["name"]: item for item in after}
    for name, item in new.items():
        yield from field_changes(old.get(name), item, f"{path}[{name}]")
    for name, item in old.items():
        if name not in new:
            yield FieldChange(f"{path}[{name}]", item, None)
    kept_old = [n for n in old if n in new]
    kept_new = [n for n in new if n in old]
    if kept_old != kept_new:
        yield FieldChange(f"{path} order", kept_old, kept_new)
