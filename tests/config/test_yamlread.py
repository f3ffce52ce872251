"""The strict reader: YAML 1.2 scalars, duplicate keys, tags, limits, positions."""

from __future__ import annotations

import math
from typing import Any

import pytest

from runner.config.yamlread import locate, read_yaml


def _data(text: str) -> Any:
    result = read_yaml(text.encode(), "f.yaml")
    assert not result.diagnostics, [d.text() for d in result.diagnostics]
    return result.documents[0].data


def _errors(raw: str | bytes) -> list[str]:
    result = read_yaml(raw.encode() if isinstance(raw, str) else raw, "f.yaml")
    return [d.text() for d in result.diagnostics]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("no", "no"),
        ("yes", "yes"),
        ("on", "on"),
        ("off", "off"),
        ("y", "y"),
        ("true", True),
        ("False", False),
        ("TRUE", True),
        ("~", None),
        ("null", None),
        ("", None),
        ("0755", 755),
        ("0o17", 15),
        ("0x1F", 31),
        ("-3", -3),
        ("1.5", 1.5),
        ("1e3", 1000.0),
        ("2026-01-01", "2026-01-01"),
        ("2026-01-01T08:00:00+01:00", "2026-01-01T08:00:00+01:00"),
        ("12:30", "12:30"),
        ("'true'", "true"),
        ('"3"', "3"),
        ("!!str 3", "3"),
        ("!!int 3", 3),
        ("!!float 3", 3.0),
        ("!!bool true", True),
        ("!!null ''", None),
    ],
)
def test_yaml_1_2_core_scalars(text: str, value: Any) -> None:
    assert _data(f"v: {text}\n") == {"v": value}


def test_infinity_and_nan() -> None:
    data = _data("a: .inf\nb: -.Inf\nc: .nan\n")
    assert data["a"] == math.inf and data["b"] == -math.inf and math.isnan(data["c"])


def test_keys_are_their_text() -> None:
    assert _data("1: a\ntrue: b\nno: c\n") == {"1": "a", "true": "b", "no": "c"}


def test_duplicate_key_points_at_the_second() -> None:
    assert _errors("a: 1\nb: 2\na: 3\n") == [
        'f.yaml:3:1: error: duplicate key "a" (first at line 1)'
    ]


def test_tags_other_than_core_are_refused() -> None:
    assert _errors("a: !!binary aGk=\nb: !!timestamp 2026-01-01\nc: !local x\n") == [
        "f.yaml:1:4: error: tag !!binary is not allowed; only the core tags "
        "(!!str, !!int, !!float, !!bool, !!null, !!map, !!seq)",
        "f.yaml:2:4: error: tag !!timestamp is not allowed; only the core tags "
        "(!!str, !!int, !!float, !!bool, !!null, !!map, !!seq)",
        "f.yaml:3:4: error: tag !local is not allowed; only the core tags "
        "(!!str, !!int, !!float, !!bool, !!null, !!map, !!seq)",
    ]


def test_python_tags_never_construct_anything() -> None:
    errors = _errors("a: !!python/object/apply:os.system ['echo pwned']\n")
    assert len(errors) == 1 and "tag !!python/object/apply:os.system is not allowed" in errors[0]


def test_aliases_and_merge_keys() -> None:
    data = _data("d: &d {x: 1, y: 2}\ne:\n  <<: *d\n  y: 3\nl: &l [1]\nm: *l\n")
    assert data["e"] == {"x": 1, "y": 3}
    assert data["m"] == [1]


def test_alias_bomb_is_refused_at_its_line() -> None:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for i, name in enumerate("bcdefg"):
        prev = "abcdefg"[i]
        lines.append(f"{name}: &{name} [{', '.join(['*' + prev] * 10)}]")
    errors = _errors("\n".join(lines) + "\n")
    assert len(errors) == 1
    assert "aliases expand past 10,000 nodes" in errors[0]


def test_recursive_alias_is_refused() -> None:
    assert _errors("a: &a [1, *a]\n") == [
        "f.yaml:1:4: error: an alias refers to a node that contains it"
    ]


def test_deep_nesting_is_refused_without_crashing() -> None:
    errors = _errors("[" * 200_000 + "]" * 200_000)
    assert errors == ["f.yaml:1:101: error: nesting deeper than 100 levels"]


def test_size_limit() -> None:
    errors = _errors(b"a: " + b"x" * (1024 * 1024))
    assert errors == [
        "f.yaml:1:1: error: file is 1,048,579 bytes; the limit is 1 MiB "
        "(1,048,576 bytes): split it into several files"
    ]


def test_not_utf8() -> None:
    assert _errors(b"a: 1\nb: \xff\n") == [
        "f.yaml:2:4: error: file is not UTF-8 text: save it as UTF-8"
    ]


def test_tab_indentation_says_so() -> None:
    errors = _errors("a:\n\tb: 1\n")
    assert len(errors) == 1 and errors[0].startswith("f.yaml:2:1: error: YAML syntax:")
    assert errors[0].endswith("; a tab: YAML is indented with spaces, not tabs")


def test_documents_and_their_lines() -> None:
    result = read_yaml(b"# c\na: 1\n---\n\nb: 2\n---\n", "f.yaml")
    assert [(d.data, d.line) for d in result.documents] == [({"a": 1}, 2), ({"b": 2}, 5), (None, 7)]


def test_locate_values_keys_and_missing_paths() -> None:
    text = "a:\n  list:\n    - x\n    - {k: v}\nd: &d {m: 1}\ne:\n  <<: *d\n"
    root = read_yaml(text.encode(), "f.yaml").documents[0].root
    assert locate(root, ("a", "list", 1, "k")) == (4, 11)
    assert locate(root, ("a", "list", 1, "k"), at_key=True) == (4, 8)
    assert locate(root, ("a", "missing")) == (2, 3)
    assert locate(root, ("a", "list", 7)) == (3, 5)
    assert locate(root, ("e", "m")) == (5, 11)
