"""The JSON Schema of a document, generated from the models (draft-07, for editors)."""

from __future__ import annotations

import json
from typing import Any

from runner.spec.models import MODELS

SCHEMA_ID = "https://runner.dev/schemas/runner.schema.json"
DRAFT7 = "http://json-schema.org/draft-07/schema#"


def json_schema() -> dict[str, Any]:
    """One schema for any document: a Job, a Hold or a Pool, chosen by `kind`."""
    definitions: dict[str, Any] = {}
    for model in MODELS.values():
        schema = model.model_json_schema(by_alias=True, ref_template="#/definitions/{model}")
        definitions.update(schema.pop("$defs", {}))
        definitions[model.__name__] = schema
    return {
        "$schema": DRAFT7,
        "$id": SCHEMA_ID,
        "title": "runner resource (Job, Hold or Pool)",
        "type": "object",
        "required": ["apiVersion", "kind", "name"],
        "properties": {"kind": {"enum": list(MODELS)}},
        "allOf": [
            {
                "if": {"properties": {"kind": {"const": name}}, "required": ["kind"]},
                "then": {"$ref": f"#/definitions/{name}"},
            }
            for name in MODELS
        ],
        "definitions": _without_titles(dict(sorted(definitions.items()))),
    }


def _without_titles(node: Any) -> Any:
    """pydantic titles every field after its Python name ("Keepruns"); editors show the
    field name anyway, so they are dropped."""
    if isinstance(node, dict):
        return {
            k: _without_titles(v)
            for k, v in node.items()
            if not (k == "title" and isinstance(v, str))
        }
    if isinstance(node, list):
        return [_without_titles(v) for v in node]
    return node


def schema_text() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=False) + "\n"
