"""The CLI driving a remote daemon (SPEC 7, issue 15): `--server URL --token T` (or
`RUNNER_SERVER`, `RUNNER_API_TOKEN`) against a real `runner daemon --api`, with the same
output, `--json` and exit codes as the same command on the daemon's home; a wrong token
and an unreachable server in one line each. The event stream that `run --wait` follows
is also read from a fake server that drops the connection."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import httpx
import pytest

from runner.cli import run
from runner.cli import stream as stream_module
from runner.cli.remote import Api
from runner.cli.stream import Events, parse
from tests.daemon.conftest import Env
from tests.daemon.test_api_daemon import free_port
from tests.daemon.test_task_actions import waiting_at
from tests.waiting import wait_for

TOKEN = "remote-s3cret"
JOBS = """
apiVersion: runner/v1
kind: Job
name: gated
labels: {team: release}
schedule: {mode: manual}
tasks:
  - {name: build, run: "echo built"}
  - {name: approve, kind: manual}
  - {name: publish, run: "echo published"}
---
apiVersion: runner/v1
kind: Job
name: fine
schedule: {mode: manual}
tasks:
  - {name: hello, run: "echo hello; echo to-stderr >&2"}
  - {name: again, run: "echo again"}
---
apiVersion: runner/v1
kind: Job
name: broken
schedule: {mode: manual}
tasks:
  - {name: fail, run: "echo oops; exit 3"}
"""


class Daemon:
    """One daemon with its API on a loopback port, shared by the tests of this module."""

    def __init__(self, env: Env, url: str) -> None:
        self.env, self.url = env, url


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    env = Env(tmp_path_factory.mktemp("remote"))
    env.write("jobs.yaml", JOBS)
    port = free_port()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RUNNER_API_TOKEN", TOKEN)
        started = env.start("--api", f"127.0.0.1:{port}")
    try:
        started.wait_up()
        yield Daemon(env, f"http://127.0.0.1:{port}")
    finally:
        env.stop_all()


@pytest.fixture
def on(daemon: Daemon, monkeypatch: pytest.MonkeyPatch) -> Daemon:
    """In the daemon's folder (sources print relative to it), without its token in the
    environment unless a test puts it there."""
    monkeypatch.chdir(daemon.env.root)
    monkeypatch.delenv("RUNNER_API_TOKEN", raising=False)
    return daemon


Result = tuple[int, str, str]


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> Result:
    code = run(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def remote(capsys: pytest.CaptureFixture[str], d: Daemon, *args: str) -> Result:
    return cli(capsys, *args, "--server", d.url, "--token", TOKEN)


def local(capsys: pytest.CaptureFixture[str], d: Daemon, *args: str) -> Result:
    return cli(capsys, *args, "--home", str(d.env.home))


def run_id(out: str) -> int:
    found = re.search(r"run (\d+) of", out)
    assert found, out
    return int(found.group(1))


def one_error(result: Result, code: int, expected: str) -> None:
    got, out, err = result
    assert got == code, (out, err)
    assert err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err, err
    assert expected in err, err


# --- reads -----------------------------------------------------------------------------


def test_reads_print_what_they_print_on_the_home(
    on: Daemon, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    done = remote(capsys, on, "run", "fine", "--wait")
    assert done[0] == 0, done
    ran = str(run_id(done[1]))
    for command in (
        ["jobs"],
        ["jobs", "--json"],
        ["jobs", "--label", "team=release", "--json"],
        ["history", "--json"],
        ["status"],
        ["status", "--json"],
        ["status", ran],
        ["status", ran, "--json"],
        ["status", "gated", "--json"],
        ["tasks", "fine", "--json"],
    ):
        there, here = remote(capsys, on, *command), local(capsys, on, *command)
        assert there == here, command
        assert there[0] == 0 and there[1], command
    listed = json.loads(remote(capsys, on, "jobs", "--json")[1])
    assert [j["name"] for j in listed] == ["broken", "fine", "gated"]
    # RUNNER_SERVER and RUNNER_API_TOKEN serve as well as the options
    monkeypatch.setenv("RUNNER_SERVER", on.url)
    monkeypatch.setenv("RUNNER_API_TOKEN", TOKEN)
    assert cli(capsys, "jobs") == local(capsys, on, "jobs", "--server", "")


def test_logs_are_the_same_bytes_and_follow_is_refused(
    on: Daemon, capsys: pytest.CaptureFixture[str]
) -> None:
    ran = str(run_id(remote(capsys, on, "run", "fine", "--wait")[1]))
    for command in (["logs", ran], ["logs", ran, "hello"], ["logs", ran, "--json"]):
        assert remote(capsys, on, *command) == local(capsys, on, *command), command
    assert "hello\nto-stderr\n" in remote(capsys, on, "logs", ran, "hello")[1]
    one_error(remote(capsys, on, "logs", ran, "nope"), 1, 'has no task "nope"')
    one_error(remote(capsys, on, "logs", ran, "--follow"), 2, "--follow needs a local home")


# --- actions ---------------------------------------------------------------------------


def test_run_wait_exits_as_the_run_ended(on: Daemon, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = remote(capsys, on, "run", "fine", "--wait")
    assert code == 0, (out, err)
    ran = run_id(out)
    assert out.splitlines() == [
        f"run {ran} of fine queued to the daemon (pid {on.env.daemons[0].pid}); waiting for it",
        f"run {ran} success",
    ]
    code, out, err = remote(capsys, on, "run", "broken", "--wait")
    failed = run_id(out)
    assert code == 1
    assert out.splitlines()[-1] == f"run {failed} failed: task fail failed: exit code 3"
    assert err == f"logs: runner logs {failed}\n"
    code, out, _ = remote(capsys, on, "run", "broken", "--wait", "--json")
    assert code == 1 and json.loads(out)["state"] == "failed"
    one_error(remote(capsys, on, "run", "nope", "--wait"), 1, 'unknown job "nope"')


def test_a_manual_task_is_finished_remotely(on: Daemon, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = remote(capsys, on, "run", "gated")
    assert code == 0 and "queued to the daemon" in out
    ran = run_id(out)
    waiting_at(on.env, ran, "approve")
    one_error(remote(capsys, on, "finish", str(ran), "build"), 1, "only a waiting or stopped task")
    code, out, err = remote(capsys, on, "finish", str(ran), "approve")
    assert code == 0, err
    assert out.splitlines()[0] == f"run {ran} of gated: task approve success (finished by env)"
    on.env.wait_runs("the run to succeed", lambda r: r.id == ran and r.state == "success")
    code, out, err = remote(capsys, on, "finish", str(ran), "approve", "--json")
    assert code == 1 and json.loads(out)["results"][0]["status"] == "refused"
    assert err == f"error: run {ran} of gated already ended (success): nothing to finish\n"
    one_error(remote(capsys, on, "cancel", str(ran)), 1, "already ended")


def test_hold_and_release_remotely(on: Daemon, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = remote(capsys, on, "hold", "fine", "--reason", "look first")
    assert code == 0
    assert out.splitlines()[0] == "placed hold fine-1 (runtime) on fine"
    assert "fine-1 (runtime)" in remote(capsys, on, "jobs")[1]
    ran = run_id(remote(capsys, on, "run", "fine")[1])

    def held() -> bool:
        status = json.loads(remote(capsys, on, "status", str(ran), "--json")[1])
        return status["state"] == "scheduled" and "fine-1" in (status["waiting"] or "")

    wait_for(f"run {ran} to wait for the hold", held)
    code, out, _ = remote(capsys, on, "release", "fine")
    assert (code, out) == (0, "released fine-1 (runtime) on fine\n")
    on.env.wait_runs("the held run to succeed", lambda r: r.id == ran and r.state == "success")
    one_error(remote(capsys, on, "release", "fine"), 1, "no runtime hold on fine")
    code, out, _ = remote(capsys, on, "hold", "--selector", "team=release", "--json")
    placed = json.loads(out)
    assert code == 0 and placed["holds"][0]["covers"] == ["gated"]
    code, out, _ = remote(capsys, on, "release", "--name", placed["holds"][0]["name"])
    assert out == f"released {placed['holds'][0]['name']} (runtime) on jobs labelled team=release\n"
    one_error(remote(capsys, on, "hold"), 2, "give a JOB, or --selector K=V")
    audit = remote(capsys, on, "audit", "--json")
    assert ("env", "hold", "ok") in [
        (e["who"], e["action"], e["status"]) for e in json.loads(audit[1])
    ]


# --- errors ----------------------------------------------------------------------------


def test_a_wrong_token_and_a_read_token(on: Daemon, capsys: pytest.CaptureFixture[str]) -> None:
    wrong = cli(capsys, "jobs", "--server", on.url, "--token", "not-it")
    one_error(wrong, 2, "refused the token: give a valid token with --token or RUNNER_API_TOKEN")
    assert "not-it" not in wrong[2]
    one_error(cli(capsys, "jobs", "--server", on.url), 2, "needs a token")
    code, out, _ = local(capsys, on, "token", "add", "viewer", "--role", "read")
    assert code == 0
    viewer = out.split()[0]
    assert cli(capsys, "jobs", "--server", on.url, "--token", viewer)[0] == 0
    one_error(
        cli(capsys, "run", "fine", "--server", on.url, "--token", viewer),
        1,
        "token viewer has role read",
    )


def test_an_unreachable_server_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    one_error(
        cli(capsys, "jobs", "--server", url, "--token", "t"),
        1,
        f"cannot reach runner API at {url}: ",
    )
    one_error(cli(capsys, "status", "--server", "http://[::1"), 2, '--server "http://[::1"')


# --- the event stream ------------------------------------------------------------------


def test_sse_lines_are_read_as_events() -> None:
    lines = [": keep-alive", "id: 7", "event: run", 'data: {"state":', "data: 1}", "", ""]
    assert list(parse(lines)) == [("7", "run", '{"state":\n1}')]


def test_a_dropped_stream_is_opened_again_after_the_last_event(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(stream_module, "RECONNECT_AFTER", 0.0)
    asked: list[str | None] = []

    def event(n: int, state: str) -> bytes:
        data = json.dumps({"id": n, "kind": "run", "run": 5, "state": state})
        return f"id: {n}\nevent: run\ndata: {data}\n\n".encode()

    def dropped() -> Iterator[bytes]:
        yield b": ping\n\n" + event(1, "running")
        raise httpx.ReadError("connection reset")

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(request.headers.get("last-event-id"))
        assert request.url.params["run"] == "5"
        if len(asked) == 1:
            return httpx.Response(200, content=dropped())
        return httpx.Response(200, content=event(2, "success"))

    with Api("http://runner.invalid:8080", "t") as api:
        api.client = httpx.Client(base_url=api.url, transport=httpx.MockTransport(handler))
        events = iter(Events(api, {"run": 5}))
        assert [next(events)["state"], next(events)["state"]] == ["running", "success"]
    assert asked == [None, "1"]
