"""A task's defined environment (SPEC 3, issue 17 defects 5 and 8), through real
`runner` processes: what a task gets of the daemon's environment, the values read when
it starts, and that none of the daemon's secrets reach it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from runner.store.lock import describe_holder, holder_info
from runner.system.urls import redact_argv, redact_url

JOB = """
apiVersion: runner/v1
kind: Job
name: envjob
envPassthrough: [PASSED]
env:
  FROM_ENV: {fromEnv: DAEMON_ONLY_VALUE}
  FROM_FILE: {fromFile: pw.txt}
  SECRET: {value: hunter2-s3cr3t, secret: true}
  PLAIN: plain-value
tasks:
  - name: t
    argv: [env]
    env: {TASK_SECRET: {value: task-s3cr3t, secret: true}}
"""


class Folder:
    def __init__(self, root: Path, store: str) -> None:
        self.root = root
        self.store = store
        (root / "jobs.d").mkdir()
        self.env = {
            "PATH": os.environ.get("PATH", os.defpath),
            "HOME": str(root),
            "LANG": "C.UTF-8",
            "TZ": "UTC",
            "USER": "someone",
            "PASSED": "passed-on",
            "NOT_LISTED": "stays",
            "DAEMON_ONLY_VALUE": "from-the-daemon",
            "RUNNER_HOME": str(root / "home"),
            "RUNNER_STORE": store,
            "RUNNER_API_TOKEN": "api-token-value",
            "RUNNER_GIT_TOKEN": "git-token-value",
            "RUNNER_GIT_WEBHOOK_SECRET": "hook-secret-value",
        }

    def write(self, name: str, text: str) -> None:
        (self.root / "jobs.d" / name).write_text(textwrap.dedent(text).lstrip())

    def runner(self, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "runner", *args],
            cwd=self.root,
            env={**self.env, **extra},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def run_json(self, *args: str) -> dict[str, Any]:
        done = self.runner("run", *args, "--json")
        data: dict[str, Any] = json.loads(done.stdout)
        return data

    def task_env(self, run_id: int) -> dict[str, str]:
        done = self.runner("logs", str(run_id), "t")
        assert done.returncode == 0, done.stderr
        return dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)


@pytest.fixture
def folder(tmp_path: Path) -> Folder:
    made = Folder(tmp_path, f"sqlite:///{tmp_path / 'home' / 'state.db'}")
    (tmp_path / "jobs.d" / "pw.txt").write_text("file-s3cr3t\n")
    made.write("env.yaml", JOB)
    applied = made.runner("apply")
    assert applied.returncode == 0, applied.stderr
    return made


def test_a_task_gets_the_defined_environment_and_no_secret_of_the_daemon(
    folder: Folder,
) -> None:
    run = folder.run_json("envjob", "--env", "GIVEN=at-run-time")
    assert run["state"] == "success", run
    env = folder.task_env(run["id"])
    assert (env["PATH"], env["HOME"], env["LANG"], env["TZ"], env["USER"]) == (
        folder.env["PATH"],
        str(folder.root),
        "C.UTF-8",
        "UTC",
        "someone",
    )
    assert env["PASSED"] == "passed-on"  # envPassthrough
    assert env["FROM_ENV"] == "from-the-daemon"
    assert env["FROM_FILE"] == "file-s3cr3t"  # the trailing newline dropped
    assert (env["SECRET"], env["TASK_SECRET"]) == ("hunter2-s3cr3t", "task-s3cr3t")
    assert (env["PLAIN"], env["GIVEN"]) == ("plain-value", "at-run-time")
    assert env["RUNNER_JOB"] == "envjob" and env["RUNNER_RUN_ID"] == str(run["id"])
    for name in ("NOT_LISTED", "DAEMON_ONLY_VALUE", "RUNNER_STORE", "RUNNER_API_TOKEN"):
        assert name not in env
    assert "RUNNER_GIT_TOKEN" not in env and "RUNNER_GIT_WEBHOOK_SECRET" not in env


def test_values_never_stored_are_not_in_the_store_and_run_env_shows_as_secret(
    folder: Folder,
) -> None:
    run = folder.run_json("envjob", "--env", "GIVEN=run-time-s3cr3t")
    assert run["env"] == {"GIVEN": "(secret)"}
    db = (folder.root / "home" / "state.db").read_bytes()
    for value in (b"hunter2-s3cr3t", b"task-s3cr3t", b"file-s3cr3t", b"from-the-daemon"):
        assert value not in db
    assert (folder.root / "home" / "state.db").stat().st_mode & 0o777 == 0o600
    outputs = [
        folder.runner("status", str(run["id"])).stdout,
        folder.runner("status", str(run["id"]), "--json").stdout,
        folder.runner("history", "--json").stdout,
        folder.runner("history").stdout,
    ]
    assert "GIVEN=(secret)" in outputs[0]
    assert json.loads(outputs[1])["env"] == {"GIVEN": "(secret)"}
    assert json.loads(outputs[2])[0]["env"] == {"GIVEN": "(secret)"}
    assert not any("run-time-s3cr3t" in out or "hunter2" in out for out in outputs)


def test_a_value_that_cannot_be_read_fails_the_attempt_saying_why(folder: Folder) -> None:
    folder.env.pop("DAEMON_ONLY_VALUE")
    run = folder.run_json("envjob")
    assert run["state"] == "failed"
    (task,) = run["tasks"]
    assert (
        task["reason"] == "env FROM_ENV: DAEMON_ONLY_VALUE is not set in the daemon's environment"
    )


def test_a_secret_changed_in_the_file_since_apply_is_not_used(folder: Folder) -> None:
    folder.write("env.yaml", JOB.replace("hunter2-s3cr3t", "not-applied-yet"))
    run = folder.run_json("envjob")
    assert run["state"] == "failed"
    assert "SECRET: its secret value is no longer in" in run["tasks"][0]["reason"]
    assert folder.runner("apply").returncode == 0
    run = folder.run_json("envjob")
    assert run["state"] == "success"
    assert folder.task_env(run["id"])["SECRET"] == "not-applied-yet"


def test_a_job_cannot_pass_on_the_store_or_a_token(folder: Folder) -> None:
    folder.write(
        "bad.yaml",
        """
        apiVersion: runner/v1
        kind: Job
        name: leaky
        envPassthrough: [RUNNER_STORE]
        env: {TOKEN: {fromEnv: RUNNER_API_TOKEN}}
        tasks: [{name: t, run: env}]
        """,
    )
    done = folder.runner("validate", "--format", "json")
    assert done.returncode == 1
    found = [(d["path"], d["code"]) for d in json.loads(done.stdout)["diagnostics"]]
    assert ("/envPassthrough/0", "env-never-passed") in found
    assert ("/env/TOKEN/fromEnv", "env-never-passed") in found


# --- a URL's password is never shown --------------------------------------------------


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("postgresql://runner:s3cret@db:5432/jobs", "postgresql://runner:***@db:5432/jobs"),
        ("postgresql://runner@db/jobs", "postgresql://runner@db/jobs"),
        ("https://ghp_token@github.com/o/r.git", "https://***@github.com/o/r.git"),
        ("--store=postgres://u:p%40ss@h/d x", "--store=postgres://u:***@h/d x"),
    ],
)
def test_urls_lose_their_password(text: str, shown: str) -> None:
    assert redact_url(text) == shown


def test_the_lock_holder_record_keeps_no_password(monkeypatch: pytest.MonkeyPatch) -> None:
    argv = ["runner", "apply", "--store", "postgresql://u:pw-s3cret@h/d", "--token", "tok"]
    monkeypatch.setattr(sys, "argv", argv)
    info = holder_info()
    assert "pw-s3cret" not in info["command"] and "tok" not in info["command"].split()
    assert "postgresql://u:***@h/d" in info["command"]
    old = {"command": "runner daemon --store postgresql://u:pw-s3cret@h/d", "pid": 1}
    assert "pw-s3cret" not in describe_holder(old)  # a record an older runner wrote
    assert redact_argv(["--token=abc"]) == ["--token=***"]


def test_a_store_error_never_shows_the_password(tmp_path: Path) -> None:
    for url in ("mysql://u:pw-s3cret@h/d", "postgresql://u:pw-s3cret@127.0.0.1:1/d"):
        (tmp_path / url[:5]).mkdir()
        result = Folder(tmp_path / url[:5], url).runner("jobs")
        assert result.returncode == 1
        assert result.stderr.startswith("error: ")
        assert "pw-s3cret" not in result.stderr + result.stdout
