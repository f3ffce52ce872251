"""A plan as versioned data (`runner plan --format json`, `--out`, and the API's
`GET /v1/plan`): shared by every interface, so it lives with the operations. Env values
that are never stored show as `(secret)` here; a saved plan's `saved` part, which
`apply --plan` writes, keeps the normalised form (a secret's digest, never its value)."""

from __future__ import annotations

from typing import Any

from runner.plan import Action, Change, FieldChange, Plan
from runner.spec.env import is_env_value, shown_spec, shown_value

FORMAT_VERSION = "1"


def plan_as_json(plan: Plan) -> dict[str, Any]:
    """The plan as versioned data (`runner plan --format json`)."""
    return {
        "format_version": FORMAT_VERSION,
        "created": plan.created.isoformat().replace("+00:00", "Z") if plan.created else None,
        "changes": [_change_json(c) for c in plan.changes],
        "skipped_files": [
            {
                "path": f.path,
                "error_count": f.error_count,
                "resources": [{"kind": k, "name": n} for k, n in f.resources],
            }
            for f in plan.skipped_files
        ],
        "runtime_holds": [
            {"job": h.job or None, "selector": h.selector, "name": h.name, "reason": h.reason}
            for h in plan.runtime_holds
        ],
        "summary": {
            "add": plan.count(Action.ADD),
            "change": plan.count(Action.CHANGE),
            "delete": plan.count(Action.DELETE),
            "unchanged": plan.unchanged,
            "skipped_files": len(plan.skipped_files),
        },
    }


def _change_json(c: Change) -> dict[str, Any]:
    return {
        "action": c.action.value,
        "kind": c.kind,
        "name": c.name,
        "source": c.source,
        "revision": {"before": c.revision_before, "after": c.revision_after},
        "before": shown_spec(c.before),
        "after": shown_spec(c.after),
        "fields": [_field_json(f) for f in c.fields],
        "notes": [{"text": n.text, "warn": n.warn} for n in c.notes],
        "running": [{"id": r.id, "revision": r.revision, "state": r.state} for r in c.running],
    }


def _field_json(f: FieldChange) -> dict[str, Any]:
    """A field change; an env value as it may be shown (a secret as `(secret)`)."""
    before, after = f.before, f.after
    if is_env_value(f.path):
        before, after = shown_value(before), shown_value(after)
    return {"path": f.path, "op": f.op, "before": before, "after": after}
