"""The container image: what the Dockerfile and .dockerignore promise (checked without
docker: CI builds the image only where a Docker engine runs, see .ci/run), and the
image's HEALTHCHECK, deploy/healthcheck.py, against a real daemon."""

from __future__ import annotations

import importlib.util
import re
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import ROOT
from tests.daemon.conftest import Env

DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"


def load_healthcheck() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "runner_healthcheck", ROOT / "deploy" / "healthcheck.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


hc = load_healthcheck()


def instructions() -> list[tuple[str, str]]:
    """The Dockerfile's instructions (continuation lines joined), comments left out."""
    text = re.sub(r"\\\n(\s*#.*\n)*", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def final_stage() -> list[tuple[str, str]]:
    found = instructions()
    last = max(i for i, (word, _) in enumerate(found) if word == "FROM")
    return found[last:]


# --- the Dockerfile ---------------------------------------------------------------------


def test_the_image_runs_the_daemon_as_a_user_that_is_not_root() -> None:
    users = [rest for word, rest in final_stage() if word == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0"), users


def test_the_image_keeps_its_state_on_a_volume_it_uses_as_runners_home() -> None:
    stage = final_stage()
    assert ("VOLUME", '["/var/lib/runner"]') in stage
    env = " ".join(rest for word, rest in stage if word == "ENV")
    assert "RUNNER_HOME=/var/lib/runner" in env
    assert "RUNNER_CONFIG=/etc/runner/jobs.d" in env


def test_the_entrypoint_is_the_daemon_under_an_init_that_reaps_orphans() -> None:
    stage = final_stage()
    assert ("ENTRYPOINT", '["tini", "--", "runner", "daemon"]') in stage
    assert any(word == "RUN" and "install" in rest and "tini" in rest for word, rest in stage)


def test_the_healthcheck_runs_the_script_the_build_copies_in() -> None:
    found = instructions()
    check = next(rest for word, rest in final_stage() if word == "HEALTHCHECK")
    assert check.endswith('CMD ["/opt/runner/bin/python", "/opt/runner/libexec/healthcheck.py"]')
    assert ("COPY", "deploy/healthcheck.py /opt/runner/libexec/healthcheck.py") in found
    assert ("COPY", "--from=build /opt/runner /opt/runner") in final_stage()


def test_the_git_flag_to_come_is_marked_where_it_goes() -> None:
    assert DOCKERFILE.read_text().count("TODO(--git)") >= 2


def test_every_file_the_build_copies_gets_past_dockerignore() -> None:
    allowed = [
        line[1:].rstrip("/")
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.startswith("!")
    ]
    assert DOCKERIGNORE.read_text().splitlines()[2] == "*"  # an allow list: all else stays out
    sources = []
    for word, rest in instructions():
        if word == "COPY" and not rest.startswith("--from"):
            sources += rest.split()[:-1]
    assert sources
    for source in sources:
        assert (ROOT / source).exists(), source
        assert any(source == a or source.startswith(a + "/") for a in allowed), source


# --- deploy/healthcheck.py ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "value"),
    [
        (["runner", "daemon", "--api", "0.0.0.0:8080"], "0.0.0.0:8080"),
        (["runner", "daemon", "--api=127.0.0.1:9"], "127.0.0.1:9"),
        (["runner", "daemon", "--api", "a:1", "--api", "b:2"], "b:2"),
        (["runner", "daemon", "--api-tokens", "t.yaml"], None),
        (["runner", "daemon", "--api"], None),
    ],
)
def test_option(argv: list[str], value: str | None) -> None:
    assert hc.option(argv, "--api") == value


@pytest.mark.parametrize(
    ("argv", "daemon"),
    [
        (["/opt/runner/bin/python3", "/opt/runner/bin/runner", "daemon", "--api", "x"], True),
        (["tini", "--", "runner", "daemon"], True),
        (["/usr/bin/python3", "-m", "runner", "daemon", "--home", "h"], True),
        (["runner", "status"], False),
        (["/opt/runner/bin/python", "/opt/runner/libexec/healthcheck.py"], False),
        ([], False),
    ],
)
def test_is_daemon(argv: list[str], daemon: bool) -> None:
    assert hc.is_daemon(argv) is daemon


@pytest.mark.parametrize(
    ("api", "url"),
    [
        ("0.0.0.0:8080", "http://127.0.0.1:8080/healthz"),
        ("127.0.0.1:9", "http://127.0.0.1:9/healthz"),
        ("[::]:8080", "http://[::1]:8080/healthz"),
        ("[::1]:8080", "http://[::1]:8080/healthz"),
        ("runner.internal:80", "http://runner.internal:80/healthz"),
    ],
)
def test_healthz_url(api: str, url: str) -> None:
    assert hc.healthz_url(api) == url


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    made = Env(tmp_path)
    try:
        yield made
    finally:
        made.stop_all()


def test_healthy_while_a_daemon_with_the_api_runs_and_not_after(env: Env) -> None:
    port = free_port()
    daemon = env.start("--api", f"127.0.0.1:{port}")
    daemon.wait_event("service-up")
    seen = dict(hc.daemon_commands())
    assert str(env.root) in seen, seen  # found in /proc, with the folder it runs in
    argv = seen[str(env.root)]
    assert hc.option(argv, "--api") == f"127.0.0.1:{port}"
    assert hc.api_healthy(hc.option(argv, "--api")) == (
        True,
        f"http://127.0.0.1:{port}/healthz: ok",
    )
    daemon.stop()
    healthy, said = hc.api_healthy(f"127.0.0.1:{port}")
    assert not healthy and said.startswith(f"http://127.0.0.1:{port}/healthz: "), said


def test_healthy_without_the_api_while_runner_status_sees_the_daemon(env: Env) -> None:
    argv = [sys.executable, "-m", "runner", "daemon", "--config", "jobs.d", "--home", "home"]
    assert hc.status_healthy(str(env.root), argv) == (False, "runner status: daemon not running")
    daemon = env.start()
    daemon.wait_up()
    # --home is relative: the healthcheck asks from the daemon's folder, as it found it.
    assert hc.status_healthy(str(env.root), argv) == (True, "runner status: daemon running")
    daemon.stop()
    assert hc.status_healthy(str(env.root), argv)[0] is False
