"""Every store test runs against SQLite and against the PostgreSQL server on the machine.

PostgreSQL: one throwaway database per test session (dropped at the end), emptied
between tests. Set RUNNER_TEST_PG to the admin URL (default: the local server as
postgres). Without a reachable server the PostgreSQL cases are skipped, unless
RUNNER_REQUIRE_PG=1 (CI sets it), which makes them fail instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from runner.store import Store, open_store
from runner.store.tables import metadata


@pytest.fixture(params=["sqlite", "postgresql"])
def store_spec(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    """How to open the store under test: `open_store(**store_spec)`."""
    if request.param == "sqlite":
        yield {"home": str(tmp_path / "home")}
        return
    url = request.getfixturevalue("pg_url")
    if url is None:
        pytest.skip("PostgreSQL is not reachable")
    yield {"home": str(tmp_path / "home"), "url": url}
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        metadata.drop_all(conn)
    engine.dispose()


@pytest.fixture
def store(store_spec: dict[str, str]) -> Iterator[Store]:
    opened = open_store(**store_spec)
    yield opened
    opened.close()
