"""Turn pydantic's validation errors into findings that read like the file.

A message names what was expected and what was found, e.g.
`must be one of skip, queue, cancel-running, allow; got "forbid"`.
"""

from __future__ import annotations

import re
import types
import typing
from typing import Any, Union

from pydantic import BaseModel
from pydantic_core import ErrorDetails

from runner.spec.diagnostics import JsonPath
from runner.spec.durations import describe
from runner.spec.findings import Finding, did_you_mean
from runner.spec.types import ACCOUNT_PATTERN, ENV_PATTERN, LABEL_PATTERN, NAME_HELP, NAME_PATTERN

_KEY_MARK = "[key]"
_PATTERN_HELP = {
    NAME_PATTERN: f"is not a valid name; {NAME_HELP}",
    ACCOUNT_PATTERN: "is not a user or group name; use a name as useradd accepts it "
    "(lowercase letters, digits, '_', '-', '.', starting with a letter or '_') or a numeric id",
    ENV_PATTERN: "is not a valid environment variable name; use letters, digits and '_', "
    "not starting with a digit",
    LABEL_PATTERN: "is not a valid label key; use letters, digits, '.', '_', '/' or '-'",
}


def findings_from_errors(model: type[BaseModel], errors: list[ErrorDetails]) -> list[Finding]:
    out: list[Finding] = []
    for err in errors:
        finding = _finding(model, err)
        if finding not in out:
            out.append(finding)
    return out


def _finding(model: type[BaseModel], err: ErrorDetails) -> Finding:
    loc = tuple(err["loc"])
    on_key = bool(loc) and loc[-1] == _KEY_MARK
    path: JsonPath = tuple(p for p in loc if p != _KEY_MARK)
    kind = err["type"]
    value = err.get("input")
    if kind == "missing":
        return Finding(path, "missing", "required field is missing")
    if kind == "extra_forbidden":
        known = _fields_at(model, path[:-1])
        hint = did_you_mean(str(path[-1]), known)
        return Finding(path, "unknown-field", f"unknown field{hint}", at_key=True)
    message = _message(kind, err, value)
    return Finding(path, f"schema.{kind}", message, at_key=on_key)


def _message(kind: str, err: ErrorDetails, value: Any) -> str:
    ctx = err.get("ctx") or {}
    got = describe(value)
    if kind == "literal_error":
        options = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        if len(options) == 1:
            return f'must be "{options[0]}"; got {got}'
        return f"must be one of {', '.join(options)}; got {got}"
    if kind == "string_type":
        hint = f' (quote it: "{value}")' if isinstance(value, int | float | bool) else ""
        return f"must be a string; got {got}{hint}"
    if kind == "bool_type":
        hint = " (only true and false are booleans)" if isinstance(value, str) else ""
        return f"must be true or false; got {got}{hint}"
    if kind in ("int_type", "int_from_float"):
        return f"must be a whole number; got {got}"
    if kind in ("float_type",):
        return f"must be a number; got {got}"
    if kind == "list_type":
        return f"must be a list; got {got}"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"must be a mapping; got {got}"
    if kind == "string_pattern_mismatch":
        help_text = _PATTERN_HELP.get(str(ctx.get("pattern")), "has the wrong form")
        return f"{got} {help_text}"
    if kind in ("greater_than_equal", "greater_than"):
        bound = ctx.get("ge", ctx.get("gt"))
        word = "at least" if kind == "greater_than_equal" else "more than"
        return f"must be {word} {bound}; got {got}"
    if kind == "too_short":
        least = ctx.get("min_length", 1)
        return "must not be empty" if least == 1 else f"must have at least {least} items"
    if kind == "string_too_short":
        return "must not be empty"
    if kind.startswith(("duration_", "timestamp_", "env_")):
        return str(err["msg"])
    return f"{err['msg'][:1].lower()}{err['msg'][1:]}; got {got}"


def _fields_at(model: type[BaseModel], path: JsonPath) -> list[str]:
    """The field names (aliases) the model accepts at `path`, for "did you mean"."""
    current: Any = model
    for part in path:
        if isinstance(part, int):
            continue
        current = _model_in(current)
        if current is None:
            return []
        field = next((f for n, f in current.model_fields.items() if (f.alias or n) == part), None)
        if field is None:
            return []
        current = field.annotation
    found = _model_in(current)
    return [f.alias or n for n, f in found.model_fields.items()] if found else []


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model inside `annotation` (`X`, `X | None`, `list[X]`, `Annotated[...]`)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType, list, typing.Annotated):
        for arg in typing.get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
    return None
