from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runner.spec.durations import format_seconds, parse_seconds


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("0s", 0),
        ("30s", 30),
        ("15m", 900),
        ("1h30m", 5400),
        ("2d", 172800),
        ("90m", 5400),
        ("1d2h3m4s", 93784),
    ],
)
def test_parse(text: str, seconds: int) -> None:
    assert parse_seconds(text) == seconds


@pytest.mark.parametrize(
    "text", ["", "0", "1.5h", "20x", "30", "1m1h", "-5s", "1 h", "s", "1h 30m"]
)
def test_not_durations(text: str) -> None:
    assert parse_seconds(text) is None


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "0s"), (5400, "1h30m"), (86400, "1d"), (93784, "1d2h3m4s")]
)
def test_canonical_spelling(seconds: int, text: str) -> None:
    assert format_seconds(seconds) == text


@given(st.integers(min_value=0, max_value=10**9))
def test_round_trip(seconds: int) -> None:
    assert parse_seconds(format_seconds(seconds)) == seconds
