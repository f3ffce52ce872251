"""validate (SPEC 4): every problem in every file. It reads no store, so it imports
none (the pre-commit hook runs it on every commit)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from runner.config.loader import Configuration, load_config


@dataclass(frozen=True, slots=True)
class Validation:
    configuration: Configuration
    failed: bool  # an error, or with `strict` a warning

    def as_json(self) -> dict[str, Any]:
        loaded = self.configuration
        return {
            "valid": not self.failed,
            "error_count": len(loaded.errors),
            "warning_count": len(loaded.warnings),
            "file_count": len(loaded.files),
            "resource_count": loaded.resource_count,
            "invalid_files": [f.path for f in loaded.files if not f.valid],
            "diagnostics": [d.as_json() for d in loaded.diagnostics],
        }


def validate(paths: Sequence[str], *, strict: bool = False) -> Validation:
    """Every problem in every file (SPEC 4); it reads no store."""
    loaded = load_config(list(paths))
    return Validation(loaded, bool(loaded.errors) or (strict and bool(loaded.warnings)))
