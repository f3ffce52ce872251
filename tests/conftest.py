"""Shared fixtures: a temporary config folder, a fake clock, and a home that is never the
working tree's."""

from __future__ import annotations

import os
import textwrap
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import configuration as hypothesis_configuration

from runner.clock import FakeClock
from runner.store import Store, open_store

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
    monkeypatch.delenv("RUNNER_SERVER", raising=False)  # every command acts on the home
    return home


@pytest.fixture
def home(_isolated_home: Path) -> Path:
    return _isolated_home


@pytest.fixture
def store(home: Path) -> Iterator[Store]:
    """A real SQLite store in the test's home (tests/store's own runs on PostgreSQL too)."""
    opened = open_store(home=home)
    try:
        yield opened
    finally:
        opened.close()


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


ADMIN_URL = os.environ.get("RUNNER_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1/postgres")


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str | None]:
    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"runner_test_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        if os.environ.get("RUNNER_REQUIRE_PG") == "1":
            raise
        admin.dispose()
        yield None
        print(f"PostgreSQL unavailable ({exc.orig}); its store tests are skipped")
        return
    url = sa.make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    yield url
    with admin.connect() as conn:
        conn.execute(
            sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
            {"n": name},
        )
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()
