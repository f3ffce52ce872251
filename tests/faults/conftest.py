"""The fault suite's folders: the daemon harness's `Env` on a SQLite home, or on a
PostgreSQL database of its own (skipped when no server answers, failed instead under
RUNNER_REQUIRE_PG=1, as CI sets it)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.scenarios import FaultEnv, postgresql_database


@pytest.fixture
def fenv(tmp_path: Path) -> Iterator[FaultEnv]:
    env = FaultEnv(tmp_path)
    try:
        yield env
    finally:
        env.stop_all()


@pytest.fixture
def pg_fenv(tmp_path: Path) -> Iterator[FaultEnv]:
    with postgresql_database() as url:
        if url is None:
            if os.environ.get("RUNNER_REQUIRE_PG") == "1":
                pytest.fail("PostgreSQL is not reachable and RUNNER_REQUIRE_PG=1")
            pytest.skip("PostgreSQL is not reachable")
        env = FaultEnv(tmp_path, url)
        try:
            yield env
        finally:
            env.stop_all()
