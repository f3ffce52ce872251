"""Durations as the files write them: `30s`, `15m`, `1h30m`, `2d`."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

from runner.spec.diagnostics import one_line

PATTERN = r"^(?=[0-9])(?:[0-9]+d)?(?:[0-9]+h)?(?:[0-9]+m)?(?:[0-9]+s)?$"
_PARTS = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
_UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))
HELP = "whole numbers of d, h, m and s, largest first, like 0s, 30s, 15m, 1h30m or 2d"


@lru_cache(maxsize=1024)
def parse_seconds(text: str) -> int | None:
    """Seconds in `text`, or None when it is not a duration."""
    match = _PARTS.match(text)
    if not text or match is None:
        return None
    return sum(int(v) * size for v, (_, size) in zip(match.groups(), _UNITS, strict=True) if v)


def format_seconds(seconds: int) -> str:
    """The canonical spelling: `5400` -> `1h30m`, `0` -> `0s`."""
    if seconds == 0:
        return "0s"
    out = []
    for unit, size in _UNITS:
        amount, seconds = divmod(seconds, size)
        if amount:
            out.append(f"{amount}{unit}")
    return "".join(out)


class Duration(int):
    """A whole number of seconds, read from and written as a duration string."""

    def __repr__(self) -> str:
        return f"Duration({format_seconds(self)!r})"

    def __str__(self) -> str:
        return format_seconds(self)

    @classmethod
    def parse(cls, value: Any) -> Duration:
        if isinstance(value, Duration):
            return value
        if not isinstance(value, str):
            raise PydanticCustomError(
                "duration_type",
                "must be a duration string ({help}); got {got}",
                {"help": HELP, "got": describe(value)},
            )
        seconds = parse_seconds(value.strip())
        if seconds is None:
            raise PydanticCustomError(
                "duration_parse",
                '"{value}" is not a duration; use {help}',
                {"value": value, "help": HELP},
            )
        return cls(seconds)

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            cls.parse,
            serialization=core_schema.plain_serializer_function_ser_schema(format_seconds),
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"type": "string", "pattern": PATTERN, "examples": ["30s", "15m", "1h30m", "2d"]}


def describe(value: Any) -> str:
    """A value as a message shows it: its YAML type and, for scalars, itself."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return f"{'integer' if isinstance(value, int) else 'number'} {value}"
    if isinstance(value, str):
        shown = value if len(value) <= 60 else value[:57] + "..."
        return '"' + one_line(shown.replace("\\", "\\\\").replace('"', '\\"')) + '"'
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__
