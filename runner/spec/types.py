"""Scalar types of the job language: names, timestamps, one-or-many lists."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    BeforeValidator,
    PlainSerializer,
    PlainValidator,
    StringConstraints,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

from runner.spec.durations import describe

NAME_PATTERN = r"^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$"
NAME_HELP = (
    "use 1 to 63 lowercase letters, digits, '.', '_' or '-', "
    "starting and ending with a letter or digit"
)
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})?$")
ENV_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
LABEL_PATTERN = r"^[A-Za-z0-9]([A-Za-z0-9._/-]{0,61}[A-Za-z0-9])?$"

# A user or group of the host, as useradd accepts one (a numeric id too).
ACCOUNT_PATTERN = r"^([a-z_][a-z0-9_.-]{0,31}\$?|[0-9]{1,10})$"

Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
Account = Annotated[str, StringConstraints(pattern=ACCOUNT_PATTERN)]
EnvName = Annotated[str, StringConstraints(pattern=ENV_PATTERN)]
LabelKey = Annotated[str, StringConstraints(pattern=LABEL_PATTERN)]
Text = Annotated[str, StringConstraints(min_length=1)]


def _one_or_many(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


def one_or_many_schema(item: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [item, {"type": "array", "items": item}]}


# `after: extract` reads as `after: [extract]`; the normalised form is always a list.
NameList = Annotated[
    list[Name],
    BeforeValidator(_one_or_many),
    WithJsonSchema(one_or_many_schema({"type": "string", "pattern": NAME_PATTERN})),
]
TextList = Annotated[
    list[Text],
    BeforeValidator(_one_or_many),
    WithJsonSchema(one_or_many_schema({"type": "string", "minLength": 1})),
]


def _parse_timestamp(value: Any) -> datetime:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC)
    if not isinstance(value, str):
        raise PydanticCustomError(
            "timestamp_type",
            "must be an RFC 3339 time such as 2027-01-04T08:00:00+01:00; got {got}",
            {"got": describe(value)},
        )
    try:
        if not _RFC3339.match(value):
            raise ValueError(value)
        parsed = datetime.fromisoformat(value.upper())
    except ValueError:
        raise PydanticCustomError(
            "timestamp_parse",
            '"{value}" is not an RFC 3339 time such as 2027-01-04T08:00:00+01:00',
            {"value": value},
        ) from None
    if parsed.tzinfo is None:
        raise PydanticCustomError(
            "timestamp_offset",
            '"{value}" has no offset; add one, like +01:00 or Z',
            {"value": value},
        )
    return parsed.astimezone(UTC)


def format_timestamp(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def read_timestamp(text: str) -> datetime:
    """`format_timestamp`'s text read back (in an answer of the API, say)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# An RFC 3339 time with an offset, as a YAML string; kept in UTC.
Timestamp = Annotated[
    datetime,
    PlainValidator(_parse_timestamp),
    PlainSerializer(format_timestamp),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
