"""systemd time spans (`5min`, `1h 30min`, `90`, `2d`) as whole seconds."""

from __future__ import annotations

import re
from fractions import Fraction

_UNITS: dict[str, Fraction] = {}
for _names, _size in (
    ("usec us µs μs", Fraction(1, 1_000_000)),
    ("msec ms", Fraction(1, 1000)),
    ("seconds second sec s", Fraction(1)),
    ("minutes minute min m", Fraction(60)),
    ("hours hour hr h", Fraction(3600)),
    ("days day d", Fraction(86400)),
    ("weeks week w", Fraction(604800)),
    ("months month M", Fraction(2_629_800)),  # 30.44 days, as systemd counts
    ("years year y", Fraction(31_557_600)),  # 365.25 days
):
    _UNITS.update(dict.fromkeys(_names.split(), _size))
_PART = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-zµμ]*)")


def span_seconds(text: str) -> int | None:
    """Whole seconds in `text` (a bare number is seconds), or None when it is not a span
    of whole seconds runner can write."""
    total, position = Fraction(0), 0
    text = text.strip()
    while position < len(text):
        part = _PART.match(text, position)
        if part is None or part.end() == position or part.group(2) not in _UNITS | {"": 1}:
            return None
        size = _UNITS.get(part.group(2), Fraction(1))
        total += Fraction(part.group(1)) * size
        position = part.end()
    if not text or total.denominator != 1:
        return None
    return int(total)
