"""The plan as text, Terraform-style (symbols, `file:line`, fields, effects, a summary).
As versioned data it is `runner.ops.plan_json`, which the API serves too."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from runner.plan import Action, Change, FieldChange, Plan, SkippedFile
from runner.spec.env import is_env_value, shown_value

if TYPE_CHECKING:
    from runner.config.origin import Origin

SYMBOL = {Action.ADD: "+", Action.CHANGE: "~", Action.DELETE: "-"}
WIDTH = 30
TIMING = ("schedule.cron", "schedule.every", "schedule.timezone")
NEXT_RUNS = "next runs: "


def render_origin(origin: Origin, where: str) -> str:
    """The line a plan or an apply starts with when the folder is in git (none when
    not): the commit, and whether the files differ from it."""
    if not origin.commit:
        return ""
    line = f"{where} at {origin.describe()}"
    if origin.dirty:
        line += ": the plan is of the files as they are, not of the commit"
    return line + "\n"


def render_plan(plan: Plan, *, mass_delete: str | None = None) -> str:
    lines: list[str] = []
    for change in plan.changes:
        lines += _change(change)
    for f in plan.skipped_files:
        lines.append(f"  x {f.path} skipped: {_count(f.error_count, 'error')}; {_held(f)}")
    lines.append(_unchanged_line(plan))
    if mass_delete:
        lines.append(f"  ! {mass_delete}")
    lines.append(summary_line(plan))
    return "\n".join(lines) + "\n"


def _change(c: Change) -> list[str]:
    head = f"  {SYMBOL[c.action]} {c.kind.lower()} {c.name}"
    where = c.source if c.action is not Action.DELETE else _gone(c.source)
    head = f"{head:<{WIDTH + 4}} {where}"
    if c.action is Action.CHANGE and c.revision_before != c.revision_after:
        head += f"   revision {c.revision_before} -> {c.revision_after}"
    notes = list(c.notes)
    if c.kind in ("Hold", "Pool") and c.action is Action.ADD and notes and not notes[0].warn:
        head += f"   {notes.pop(0).text}"
    fields = [f"      {_field(f)}" for f in c.fields]
    timing = [i for i, f in enumerate(c.fields) if f.path in TIMING]
    upcoming = [n for n in notes if n.text.startswith(NEXT_RUNS)]
    if c.action is Action.CHANGE and timing and upcoming:
        # as SPEC's example: the next run beside the schedule line that changed
        notes.remove(upcoming[0])
        first = upcoming[0].text[len(NEXT_RUNS) :].split(", ")[0]
        fields[timing[0]] += f"   next: {first}"
    return [head, *fields, *(f"      ! {n.text}" if n.warn else f"      {n.text}" for n in notes)]


def _field(f: FieldChange) -> str:
    if f.op == "+":
        return f"+ {f.path}: {_value(f.path, f.after)}"
    if f.op == "-":
        return f"- {f.path}: {_value(f.path, f.before)}"
    if f.path.endswith(" order"):
        return f"~ {f.path}: {', '.join(f.before)} -> {', '.join(f.after)}"
    return f"~ {f.path}: {_value(f.path, f.before)} -> {_value(f.path, f.after)}"


def _value(path: str, value: Any) -> str:
    if is_env_value(path) and value is not None:
        shown = shown_value(value)  # a value never stored shows as (secret), unquoted
        return show(shown) if shown is value else str(shown)
    if path.endswith("cron") and isinstance(value, list) and len(value) == 1:
        return show(value[0])
    if isinstance(value, dict) and "name" in value:  # `tasks[validate]` names it already
        return _what(value)
    return show(value)


def _gone(source: str) -> str:
    path = source.rpartition(":")[0]
    return f"({path} removed)" if not os.path.exists(path) else f"(removed from {path})"


def _held(f: SkippedFile) -> str:
    if not f.resources:
        return "nothing in it has been applied yet"
    names = ", ".join(f"{kind.lower()} {name}" for kind, name in f.resources[:5])
    more = f" and {len(f.resources) - 5} more" if len(f.resources) > 5 else ""
    verb = "stays" if len(f.resources) == 1 else "stay"
    return f"{names}{more} {verb} at the applied revision"


def _unchanged_line(plan: Plan) -> str:
    text = f"  = {plan.unchanged:,} unchanged"
    if plan.runtime_holds:
        shown = ", ".join(f"{h.target}: {h.name}" for h in plan.runtime_holds[:5])
        more = f" and {len(plan.runtime_holds) - 5} more" if len(plan.runtime_holds) > 5 else ""
        text += f"; {_count(len(plan.runtime_holds), 'runtime hold')} kept ({shown}{more})"
    return text


def summary_line(plan: Plan) -> str:
    text = (
        f"Plan: {plan.count(Action.ADD)} to add, {plan.count(Action.CHANGE)} to change, "
        f"{plan.count(Action.DELETE)} to delete."
    )
    if plan.skipped_files:
        text += f" {_count(len(plan.skipped_files), 'file')} skipped."
    if not plan.has_changes and not plan.skipped_files:
        text = "No changes. " + text
    return text


def _count(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def show(value: Any) -> str:
    """A value as the plan prints it: strings quoted, lists and mappings in flow style."""
    if isinstance(value, dict) and "name" in value:
        return _summary(value)
    return json.dumps(value, ensure_ascii=False)


def _summary(item: Mapping[str, Any]) -> str:
    """A task or hold in one phrase: `validate: run "python validate.py"`."""
    return f"{item['name']}: {_what(item)}"


def _what(item: Mapping[str, Any]) -> str:
    """What a task does, or a hold's fields: `run "python validate.py"`."""
    if "run" in item and item.get("run") is not None:
        return f"run {json.dumps(item['run'], ensure_ascii=False)}"
    if item.get("argv"):
        return f"argv {json.dumps(item['argv'], ensure_ascii=False)}"
    if item.get("kind") == "manual":
        return "manual"
    return json.dumps(
        {k: v for k, v in item.items() if v is not None and k != "name"}, ensure_ascii=False
    )
