"""`GET /v1/events` (SPEC 7) on a real uvicorn server on a loopback port: a run's states
in order, a resume after a reconnect with `Last-Event-ID`, holds and an apply as they
happen, and the ids surviving a new server on the same store."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from runner.api.app import create_app
from runner.api.server import ApiServer
from runner.cli import run
from runner.ops import tokens as token_ops
from runner.ops.common import Home
from runner.ops.tokens import TokenSet
from tests.api.conftest import JOBS
from tests.conftest import WriteFile
from tests.daemon.test_api_daemon import free_port


class Server:
    def __init__(self, home: Path, secret: str) -> None:
        self.home, self.secret = home, secret
        self.api: ApiServer | None = None

    def start(self) -> None:
        tokens = TokenSet.load(self.home / "api-tokens.yaml")
        self.api = ApiServer(create_app(Home(self.home), tokens), "127.0.0.1", free_port())
        self.api.start()

    def stop(self) -> None:
        if self.api is not None:
            self.api.stop()

    def client(self) -> httpx.Client:
        assert self.api is not None
        auth = {"Authorization": f"Bearer {self.secret}"}
        return httpx.Client(base_url=self.api.url, headers=auth, timeout=10)


@pytest.fixture
def server(write: WriteFile, home: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[Server]:
    write("jobs.yaml", JOBS)
    assert run(["apply"]) == 0
    capsys.readouterr()
    secret = token_ops.add(home / "api-tokens.yaml", "root", "admin")
    served = Server(home, secret)
    served.start()
    yield served
    served.stop()


def read_events(
    client: httpx.Client,
    into: queue.Queue[dict[str, Any]],
    stop: threading.Event,
    connected: threading.Event | None = None,
    **kw: Any,
) -> None:
    """Parse the stream into `into` (each event's data, with its `event:` and `id:`);
    `connected` is set once the response's headers are in (the stream's start is fixed)."""
    with client.stream("GET", "/v1/events", timeout=httpx.Timeout(10, read=None), **kw) as r:
        assert r.status_code == 200, r.read()
        assert r.headers["content-type"].startswith("text/event-stream")
        if connected is not None:
            connected.set()
        fields: dict[str, str] = {}
        for line in r.iter_lines():
            if stop.is_set():
                return
            if not line:
                if "data" in fields:
                    into.put(
                        {
                            **json.loads(fields["data"]),
                            "_event": fields.get("event"),
                            "_id": fields.get("id"),
                        }
                    )
                fields = {}
            elif not line.startswith(":"):
                name, _, value = line.partition(":")
                fields[name] = value.removeprefix(" ")


def take(events: queue.Queue[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    return [events.get(timeout=10) for _ in range(count)]


def listen(server: Server, **kw: Any) -> tuple[queue.Queue[dict[str, Any]], threading.Event]:
    events: queue.Queue[dict[str, Any]] = queue.Queue()
    stop = threading.Event()
    client = server.client()
    threading.Thread(
        target=read_events, args=(client, events, stop), kwargs=kw, daemon=True
    ).start()
    return events, stop


def test_a_runs_events_in_order_and_a_resume_after_a_reconnect(server: Server) -> None:
    with server.client() as api:
        made = api.post("/v1/jobs/export/runs", json={})  # run here: no daemon
        assert made.status_code == 201 and made.json()["state"] == "success"
    events, stop = listen(server, params={"run": 1})
    got = take(events, 7)
    stop.set()
    told = [(e["kind"], e["task"], e["state"]) for e in got]
    assert told == [
        ("run", None, "scheduled"),
        ("run", None, "running"),
        ("task", "extract", "running"),
        ("task", "extract", "success"),
        ("task", "load", "running"),
        ("task", "load", "success"),
        ("run", None, "success"),
    ]
    assert all(e["job"] == "export" and e["run"] == 1 for e in got)
    assert [e["_event"] for e in got] == [k for k, _, _ in told]
    ids = [int(e["id"]) for e in got]
    assert ids == sorted(ids) and [e["_id"] for e in got] == [str(i) for i in ids]

    again, stop = listen(server, params={"run": 1}, headers={"Last-Event-ID": str(ids[2])})
    assert [e["id"] for e in take(again, 4)] == ids[3:]
    stop.set()


def test_holds_and_an_apply_are_streamed_as_they_happen(
    server: Server, write: WriteFile, capsys: pytest.CaptureFixture[str]
) -> None:
    events, stop = listen(server, params={"after": 0})
    with server.client() as api:
        placed = api.post("/v1/jobs/export/holds", json={"name": "maint", "reason": "disk"})
        assert placed.status_code == 201, placed.text
        assert api.delete("/v1/jobs/export/holds/maint").status_code == 200
    applied, *hold = take(events, 3)
    assert (applied["kind"], applied["state"], applied["job"]) == ("config", "applied", None)
    assert [(e["kind"], e["job"], e["state"]) for e in hold] == [
        ("hold", "export", "placed"),
        ("hold", "export", "released"),
    ]
    assert hold[0]["detail"] == "disk"
    write(
        "more.yaml",
        "apiVersion: runner/v1\nkind: Job\nname: extra\ntasks: [{name: a, run: 'true'}]\n",
    )
    assert run(["apply"]) == 0
    capsys.readouterr()
    (config,) = take(events, 1)
    assert (config["kind"], config["state"]) == ("config", "applied")
    assert "1 add" in config["message"]
    stop.set()


def test_event_ids_come_from_the_store_and_survive_a_new_server(server: Server) -> None:
    with server.client() as api:
        assert api.post("/v1/jobs/export/runs", json={}).status_code == 201
    first, stop = listen(server, params={"run": 1})
    ids = [e["id"] for e in take(first, 7)]
    stop.set()
    server.stop()
    server.start()  # another server (a restarted daemon) on the same store
    again, stop = listen(server, params={"run": 1}, headers={"Last-Event-ID": str(ids[0])})
    assert [e["id"] for e in take(again, 6)] == ids[1:]
    stop.set()


def test_a_bad_last_event_id_is_422(server: Server) -> None:
    with server.client() as api:
        bad = api.get("/v1/events", headers={"Last-Event-ID": "yesterday"})
    assert bad.status_code == 422 and bad.json()["error"] == "bad-event-id"
