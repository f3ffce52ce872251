"""The job language: models, normalisation, semantic checks. Pure: no I/O, no clock."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from runner.spec.checks import check_resource
from runner.spec.durations import Duration, describe
from runner.spec.findings import Finding
from runner.spec.messages import findings_from_errors
from runner.spec.models import API_VERSION, MODELS, Hold, Job, Pool, Resource
from runner.spec.normalize import dump, normal_form, normalize
from runner.spec.references import RefView, check_references, duplicate_names

__all__ = [
    "API_VERSION",
    "Duration",
    "Finding",
    "Hold",
    "Job",
    "Parsed",
    "Pool",
    "RefView",
    "Resource",
    "check_references",
    "check_resource",
    "dump",
    "duplicate_names",
    "normal_form",
    "normalize",
    "parse_resource",
]


@dataclass(slots=True)
class Parsed:
    """One document read as a resource: the model when the schema passed, and findings.

    `kind` and `name` are kept whenever the document states them validly, so that
    references into a document that failed the schema do not also fail.
    """

    resource: Resource | None
    kind: str | None = None
    name: str | None = None
    findings: list[Finding] = field(default_factory=list)


def parse_resource(data: Any) -> Parsed:
    """Validate one document's data against the schema, then its own semantic checks."""
    if not isinstance(data, dict):
        return Parsed(
            None,
            findings=[
                Finding((), "not-a-mapping", f"a resource must be a mapping; got {describe(data)}")
            ],
        )
    kind = data.get("kind")
    if not isinstance(kind, str) or kind not in MODELS:
        message = (
            "required field is missing; use Job, Hold or Pool"
            if "kind" not in data
            else f"must be one of Job, Hold, Pool; got {describe(kind)}"
        )
        return Parsed(None, findings=[Finding(("kind",), "kind", message)])
    model = MODELS[kind]
    try:
        resource = model.model_validate(data)
    except ValidationError as exc:
        name = data.get("name")
        valid_name = isinstance(name, str) and not any(
            e["loc"][:1] == ("name",) for e in exc.errors()
        )
        findings = findings_from_errors(model, exc.errors())
        return Parsed(
            None,
            kind,
            name if valid_name else None,
            findings + _salvaged_findings(model, data, exc, findings),
        )
    return Parsed(resource, kind, resource.name, check_resource(resource))


def _salvaged_findings(
    model: type[Job] | type[Hold] | type[Pool],
    data: dict[str, Any],
    exc: ValidationError,
    known: list[Finding],
) -> list[Finding]:
    """Semantic findings for a document that failed the schema, so that one run of
    `validate` shows every problem: the fields in error are dropped and the rest is
    checked, when what remains is still a resource."""
    trimmed = copy.deepcopy(data)
    dropped: list[tuple[int | str, ...]] = []
    for _ in range(3):
        for err in exc.errors():
            if not _drop(trimmed, err["loc"]):
                return []
            dropped.append(tuple(err["loc"]))
        try:
            resource = model.model_validate(trimmed)
        except ValidationError as again:
            exc = again
            continue
        seen = {f.path for f in known}
        return [
            f
            for f in check_resource(resource)
            if f.path not in seen and not _about_dropped(f.path, dropped)
        ]
    return []


def _about_dropped(path: tuple[int | str, ...], dropped: list[tuple[int | str, ...]]) -> bool:
    """A finding on an object that lost a field to the schema may only echo that error
    (a task whose argv was dropped "needs run or argv"; one whose kind was dropped looks
    like a command task), so it waits until the schema error is fixed."""
    return any(d[: len(path)] == path or path[: len(d) - 1] == d[:-1] for d in dropped)


def _drop(data: dict[str, Any], loc: tuple[int | str, ...]) -> bool:
    """Remove the innermost mapping key on `loc`; False when nothing can be dropped."""
    cut = max((i for i, p in enumerate(loc) if isinstance(p, str) and p != "[key]"), default=-1)
    if cut <= 0 and loc[:1] in (("name",), ("tasks",), ("kind",), ("apiVersion",)):
        return False
    parent: Any = data
    for part in loc[:cut]:
        try:
            parent = parent[part]
        except (KeyError, IndexError, TypeError):
            return True  # already dropped with an outer key
    if cut < 0 or not isinstance(parent, dict):
        return False
    parent.pop(loc[cut], None)
    return True
