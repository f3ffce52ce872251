"""Shared fixtures: a temporary config folder, a fake clock, and a home that is never the
working tree's."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import configuration as hypothesis_configuration

from runner.clock import FakeClock

ROOT = Path(__file__).resolve().parent.parent


def pytest_configure(config: pytest.Config) -> None:
    """Hypothesis keeps its cache out of the working tree, like everything else."""
    cache = Path(config.rootpath) / ".pytest_cache" / "hypothesis"
    hypothesis_configuration.set_hypothesis_home_dir(str(cache))


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test writes into the working tree or the user's home."""
    home = tmp_path / "home"
    monkeypatch.setenv("RUNNER_HOME", str(home))
    monkeypatch.delenv("RUNNER_CONFIG", raising=False)
    monkeypatch.delenv("RUNNER_STORE", raising=False)
    return home


@pytest.fixture
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty `jobs.d/` in a temporary working directory (paths print relative to it)."""
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "jobs.d"
    folder.mkdir()
    return folder


WriteFile = Callable[[str, str], Path]


@pytest.fixture
def write(config_dir: Path) -> WriteFile:
    """Write a file under the config folder, dedenting its text."""

    def _write(name: str, text: str) -> Path:
        path = config_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
        return path

    return _write


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 23, 12, 0, tzinfo=UTC))
