"""What the tests of runs share: the home of the test (see tests/conftest.py) and a
SQLite store in it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.store import Store, open_store


@pytest.fixture
def home(_isolated_home: Path) -> Path:
    return _isolated_home


@pytest.fixture
def store(home: Path) -> Iterator[Store]:
    opened = open_store(home=home)
    yield opened
    opened.close()
