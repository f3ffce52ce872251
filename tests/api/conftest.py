"""The API through its app (FastAPI's TestClient, in process) on a real home and store,
with one token of each role."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runner.cli import run
from runner.ops import tokens as token_ops
from runner.ops.common import Home
from tests.conftest import WriteFile

with warnings.catch_warnings():  # starlette's TestClient asks for httpx2 (not yet needed)
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

JOBS = """
apiVersion: runner/v1
kind: Job
name: export
labels: {team: data}
tasks:
  - {name: extract, run: echo extracted}
  - {name: load, run: "true"}
---
apiVersion: runner/v1
kind: Job
name: gated
labels: {team: finance}
tasks:
  - {name: build, run: "true"}
  - {name: approve, kind: manual, assignee: releasers}
  - {name: publish, run: "true"}
---
apiVersion: runner/v1
kind: Job
name: off
disabled: true
tasks:
  - {name: a, run: "true"}
"""


class Api:
    """A client per role (`read`, `operate`, `admin`, and `releasers`, an operate token
    named as the gated job's assignee), and none."""

    def __init__(self, client: TestClient, secrets: dict[str, str], home: Path) -> None:
        self.client = client
        self.secrets = secrets
        self.home = home

    def as_(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secrets[who]}"}

    def get(self, path: str, who: str = "read", **kw: Any) -> Any:
        return self.client.get(path, headers=self.as_(who), **kw)

    def post(self, path: str, who: str = "operate", **kw: Any) -> Any:
        headers = {**self.as_(who), **kw.pop("headers", {})}
        return self.client.post(path, headers=headers, **kw)

    def delete(self, path: str, who: str = "operate") -> Any:
        return self.client.delete(path, headers=self.as_(who))


@pytest.fixture
def api(write: WriteFile, home: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[Api]:
    from runner.api.app import create_app
    from runner.ops.tokens import TokenSet

    write("jobs.yaml", JOBS)
    assert run(["apply"]) == 0
    capsys.readouterr()
    file = home / "api-tokens.yaml"
    secrets = {
        "read": token_ops.add(file, "viewer", "read"),
        "operate": token_ops.add(file, "ops", "operate"),
        "admin": token_ops.add(file, "root", "admin"),
        "releasers": token_ops.add(file, "releasers", "operate"),
    }
    app = create_app(Home(home), TokenSet.load(file), config=["jobs.d"])
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client, secrets, home)
