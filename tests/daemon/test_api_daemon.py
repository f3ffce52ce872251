"""`runner daemon --api` (SPEC 7) as an operator runs it: the API on a loopback port of
a real daemon, driven over HTTP (a run, the manual task finished, the audit by token
name), and refused on a public address without a token."""

from __future__ import annotations

import socket
import subprocess
import sys

import httpx
import pytest

from tests.daemon.conftest import Env
from tests.daemon.test_task_actions import waiting_at

GATED = """
apiVersion: runner/v1
kind: Job
name: gated
schedule: {mode: manual}
tasks:
  - {name: build, run: "true"}
  - {name: approve, kind: manual}
  - {name: publish, run: "true"}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_api_of_a_daemon_runs_and_finishes_a_task(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNNER_API_TOKEN", "s3cret-token")
    env.write("gated.yaml", GATED)
    port = free_port()
    daemon = env.start("--api", f"127.0.0.1:{port}")
    daemon.wait_up()
    assert f"service-up      API on http://127.0.0.1:{port}" in daemon.log()
    auth = {"Authorization": "Bearer s3cret-token"}
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=auth, timeout=10) as api:
        made = api.post("/v1/jobs/gated/runs", json={})
        assert made.status_code == 201, made.text
        run_id = made.json()["id"]
        assert made.json()["state"] == "scheduled"  # queued to the daemon, not run here
        waiting_at(env, run_id, "approve")
        done = api.post(f"/v1/runs/{run_id}/actions", json={"type": "finish", "task": "approve"})
        assert done.status_code == 200, done.text
        assert done.json()["results"][0] == {
            "task": "approve",
            "status": "ok",
            "state": "success",
            "detail": "finished by env",
        }
        env.wait_runs("the run to succeed", lambda r: r.state == "success", job="gated")
        audit = api.get("/v1/audit").json()
        assert [(e["who"], e["action"]) for e in audit] == [("env", "run"), ("env", "finish")]
        assert api.get("/v1/jobs", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert "s3cret-token" not in daemon.log()  # never logged


def test_the_api_refuses_a_public_address_without_a_token(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RUNNER_API_TOKEN", raising=False)
    env.write("gated.yaml", GATED)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "runner",
            "daemon",
            "--config",
            "jobs.d",
            "--home",
            "home",
            "--api",
            f"0.0.0.0:{free_port()}",
        ],
        cwd=env.root,
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "no API token is configured" in done.stderr


def test_the_daemons_event_stream_follows_a_run_it_executes(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The daemon's executor writes the events; the stream of its API delivers them in
    order, while the run goes on, and every read answers on the same daemon."""
    import queue
    import threading

    from tests.api.test_events import read_events, take

    monkeypatch.setenv("RUNNER_API_TOKEN", "s3cret-token")
    env.write("gated.yaml", GATED)
    port = free_port()
    daemon = env.start("--api", f"127.0.0.1:{port}")
    daemon.wait_up()
    auth = {"Authorization": "Bearer s3cret-token"}
    url = f"http://127.0.0.1:{port}"
    events: queue.Queue[dict[str, object]] = queue.Queue()
    stop = threading.Event()
    listener = httpx.Client(base_url=url, headers=auth, timeout=10)
    connected = threading.Event()
    reader = threading.Thread(
        target=read_events,
        args=(listener, events, stop, connected),
        kwargs={"params": {"job": "gated"}},
    )
    reader.start()
    assert connected.wait(10), "the event stream did not answer"
    with httpx.Client(base_url=url, headers=auth, timeout=10) as api:
        run_id = api.post("/v1/jobs/gated/runs", json={}).json()["id"]
        told = take(events, 5)
        assert [(e["kind"], e["task"], e["state"]) for e in told] == [
            ("run", None, "scheduled"),
            ("run", None, "running"),
            ("task", "build", "running"),
            ("task", "build", "success"),
            ("task", "approve", "waiting"),
        ]
        assert {e["run"] for e in told} == {run_id}
        finish = {"type": "finish", "task": "approve"}
        assert api.post(f"/v1/runs/{run_id}/actions", json=finish).status_code == 200
        rest = take(events, 4)
        assert [(e["kind"], e["task"], e["state"]) for e in rest] == [
            ("task", "approve", "success"),
            ("task", "publish", "running"),
            ("task", "publish", "success"),
            ("run", None, "success"),
        ]
        for path in (
            "/v1/jobs",
            "/v1/jobs/gated",
            "/v1/jobs/gated/status",
            "/v1/jobs/gated/tasks",
            "/v1/runs",
            f"/v1/runs/{run_id}",
            f"/v1/runs/{run_id}/tasks/build/log",
            "/v1/plan",
            "/v1/audit",
            "/v1/status",
            "/metrics",
        ):
            assert api.get(path).status_code == 200, path
    daemon.stop()  # the server ends the open stream as it stops
    reader.join(timeout=10)
    assert not reader.is_alive()
    listener.close()
