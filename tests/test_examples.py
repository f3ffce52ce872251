"""The examples in jobs.d/ are valid, by runner and by the committed JSON Schema."""

from __future__ import annotations

import json

import jsonschema

from runner.config.loader import find_files, load_config
from runner.config.yamlread import read_yaml
from tests.conftest import ROOT

EXAMPLES = ROOT / "jobs.d"


def test_examples_validate_without_errors_or_warnings() -> None:
    loaded = load_config([EXAMPLES])
    assert [d.text() for d in loaded.diagnostics] == []
    assert loaded.resource_count >= 1


def test_examples_validate_against_the_json_schema() -> None:
    schema = json.loads((ROOT / "schemas" / "runner.schema.json").read_text())
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())
    documents = 0
    for path, shown in find_files([EXAMPLES]):
        with open(path, "rb") as handle:
            documents_in_file = read_yaml(handle.read(), shown).documents
        for doc in documents_in_file:
            if doc.data is None:
                continue
            errors = [e.message for e in validator.iter_errors(doc.data)]
            assert errors == [], f"{path}: {errors}"
            documents += 1
    assert documents >= 1
