"""The committed JSON Schema is what the models generate, and it is draft-07."""

from __future__ import annotations

import json

import jsonschema

from runner.spec.schema import json_schema, schema_text
from tests.conftest import ROOT

SCHEMA_FILE = ROOT / "schemas" / "runner.schema.json"


def test_committed_schema_matches_the_models() -> None:
    assert SCHEMA_FILE.read_text() == schema_text(), (
        "schemas/runner.schema.json is stale: run `runner schema > schemas/runner.schema.json`"
    )


def test_schema_is_valid_draft7_and_forbids_unknown_fields() -> None:
    schema = json_schema()
    jsonschema.Draft7Validator.check_schema(schema)
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    for name in ("Job", "Hold", "Task", "Schedule", "Retries", "InlineHold"):
        assert schema["definitions"][name]["additionalProperties"] is False


def test_schema_rejects_a_misspelt_field() -> None:
    validator = jsonschema.Draft7Validator(json.loads(SCHEMA_FILE.read_text()))
    doc = {
        "apiVersion": "runner/v1",
        "kind": "Job",
        "name": "a",
        "tasks": [{"name": "t", "run": "true", "timout": "1m"}],
    }
    errors = list(validator.iter_errors(doc))
    assert any("timout" in e.message for e in errors)


def test_committed_openapi_document_matches_the_api() -> None:
    from runner.api.app import openapi_text

    assert (ROOT / "schemas" / "openapi.json").read_text() == openapi_text(), (
        "schemas/openapi.json is stale: run `runner schema --openapi > schemas/openapi.json`"
    )


def test_docs_api_lists_every_path_of_the_openapi_document() -> None:
    doc = json.loads((ROOT / "schemas" / "openapi.json").read_text())
    text = (ROOT / "docs" / "api.md").read_text()
    for path in doc["paths"]:
        assert f"{path}" in text, f"docs/api.md does not describe {path}"
