"""YAML 1.2's core schema for scalars: what a plain scalar such as `no`, `0755` or `1e3`
is, and what a scalar with an explicit core tag (`!!int 12`) is, or that it is not one."""

from __future__ import annotations

import re
from typing import Any

MAX_NUMBER_CHARS = 100

CORE = "tag:yaml.org,2002:"
_INT = re.compile(r"[-+]?[0-9]+")
_OCT = re.compile(r"0o[0-7]+")
_HEX = re.compile(r"0x[0-9a-fA-F]+")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_INF = re.compile(r"[-+]?\.(inf|Inf|INF)")
_NAN = re.compile(r"\.(nan|NaN|NAN)")
_NUMBER_LAST = frozenset("0123456789.fFnNaAxXoObBcCdDeE")
_NULLS = frozenset(("", "~", "null", "Null", "NULL"))
_TRUE = frozenset(("true", "True", "TRUE"))
_FALSE = frozenset(("false", "False", "FALSE"))

BAD = object()  # what by_tag returns for a value its tag does not allow
SCALAR_TAGS = ("int", "float", "bool", "null")


def plain(text: str) -> Any:
    """A plain scalar by YAML 1.2's core schema."""
    if text in _NULLS:
        return None
    first = text[0]
    if first in "tTfF":
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        return text
    if first in "0123456789+-.":
        return _number(text)
    return text


def _number(text: str) -> Any:
    if len(text) > MAX_NUMBER_CHARS:
        return text  # beyond any field's range, and past Python's int() digit limit
    if text[-1] not in _NUMBER_LAST:
        return text  # `20m`, `1h30m`, `-x`: a string, without trying every pattern
    if _INT.fullmatch(text):
        return int(text)
    if _OCT.fullmatch(text):
        return int(text[2:], 8)
    if _HEX.fullmatch(text):
        return int(text[2:], 16)
    if _FLOAT.fullmatch(text):
        return float(text)
    if _INF.fullmatch(text):
        return float("-inf") if text[0] == "-" else float("inf")
    if _NAN.fullmatch(text):
        return float("nan")
    return text


def by_tag(tag: str, text: str) -> Any:
    """A scalar with an explicit core tag (`!!int 12`), or BAD when it is not one."""
    name = tag[len(CORE) :] if tag.startswith(CORE) else ""
    if name not in SCALAR_TAGS:
        return BAD
    value = plain(text)
    if name == "bool":
        return value if isinstance(value, bool) else BAD
    if name == "null":
        return value if value is None else BAD
    if isinstance(value, bool) or not isinstance(value, int | float):
        return BAD
    if name == "int":
        return value if isinstance(value, int) else BAD
    return float(value)
