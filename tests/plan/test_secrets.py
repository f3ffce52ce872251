"""Env values that are never stored, in plans (SPEC 3 and 4, issue 17 defect 5): a
changed secret is a change shown as `(secret) -> (secret)`, its value is in no plan,
no saved plan and no store, and a saved plan is for its owner's eyes only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from runner.plan import field_changes
from runner.spec import normal_form, parse_resource

JOB = """
apiVersion: runner/v1
kind: Job
name: export
env:
  DB_PASSWORD: {{value: {password}, secret: true}}
  DB_USER: {user}
  TOKEN: {{fromEnv: {token}}}
tasks:
  - {{name: t, run: "true"}}
"""


def write(root: Path, **values: str) -> None:
    (root / "jobs.d" / "export.yaml").write_text(textwrap.dedent(JOB.format(**values)).lstrip())


def runner(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runner", *args],
        cwd=root,
        env={**os.environ, "RUNNER_HOME": str(root / "home")},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "jobs.d").mkdir()
    write(tmp_path, password="hunter2-s3cr3t", user="alice", token="EXPORT_TOKEN")
    done = runner(tmp_path, "apply")
    assert done.returncode == 0, done.stderr
    return tmp_path


def test_a_changed_secret_shows_as_secret_in_the_plan(root: Path) -> None:
    write(root, password="NEWPASS-9999", user="bob", token="OTHER_TOKEN")
    done = runner(root, "plan")
    assert done.returncode == 0, done.stderr
    lines = [line.strip() for line in done.stdout.splitlines()]
    assert "~ env.DB_PASSWORD: (secret) -> (secret)" in lines
    assert '~ env.DB_USER: "alice" -> "bob"' in lines  # not a secret: shown
    assert "~ env.TOKEN: (secret) from env EXPORT_TOKEN -> (secret) from env OTHER_TOKEN" in lines
    assert "hunter2" not in done.stdout and "NEWPASS" not in done.stdout


def test_no_plan_output_or_saved_plan_holds_a_secret(root: Path) -> None:
    write(root, password="NEWPASS-9999", user="alice", token="EXPORT_TOKEN")
    as_json = runner(root, "plan", "--format", "json")
    assert as_json.returncode == 0, as_json.stderr
    (change,) = json.loads(as_json.stdout)["changes"]
    assert change["fields"] == [
        {"path": "env.DB_PASSWORD", "op": "~", "before": "(secret)", "after": "(secret)"}
    ]
    assert change["after"]["env"]["DB_PASSWORD"] == "(secret)"
    saved = root / "export.plan"
    saved.write_text("")  # an existing file, made with the umask's mode, is narrowed too
    saved.chmod(0o644)
    done = runner(root, "plan", "--out", str(saved))
    assert done.returncode == 0, done.stderr
    assert saved.stat().st_mode & 0o777 == 0o600
    for text in (as_json.stdout, saved.read_text()):
        assert "NEWPASS" not in text and "hunter2" not in text
    applied = runner(root, "apply", "--plan", str(saved))
    assert applied.returncode == 0, applied.stderr
    db = (root / "home" / "state.db").read_bytes()
    assert b"NEWPASS" not in db and b"hunter2" not in db
    assert "No changes." in runner(root, "plan").stdout  # the saved plan applied the digest


def test_a_plan_out_that_cannot_be_written_is_one_line(root: Path) -> None:
    done = runner(root, "plan", "--out", str(root / "missing" / "x.plan"))
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1].startswith("error: cannot save the plan to ")


def spec(env: str) -> dict[str, object]:
    text = f"apiVersion: runner/v1\nkind: Job\nname: j\nenv: {env}\ntasks: [{{name: t, run: x}}]"
    parsed = parse_resource(yaml.safe_load(text))
    assert parsed.resource is not None, parsed.findings
    return normal_form(parsed.resource)


@pytest.mark.parametrize(
    ("before", "after", "changed"),
    [
        ("{P: {value: a, secret: true}}", "{P: {value: a, secret: true}}", []),
        ("{P: {value: a, secret: true}}", "{P: {value: b, secret: true}}", ["env.P"]),
        ("{P: a}", "{P: {value: a, secret: true}}", ["env.P"]),
        ("{P: a}", "{P: {value: a, secret: false}}", []),  # secret: false is a plain value
        ("{P: {fromEnv: A}}", "{P: {fromFile: A}}", ["env.P"]),
    ],
)
def test_an_env_value_is_one_field_whatever_its_form(
    before: str, after: str, changed: list[str]
) -> None:
    assert [c.path for c in field_changes(spec(before), spec(after))] == changed


def test_the_normal_form_keeps_the_form_never_the_value() -> None:
    env = spec("{P: {value: hunter2, secret: true}, E: {fromEnv: A}, F: {fromFile: f}}")["env"]
    assert "hunter2" not in json.dumps(env)
    assert env["E"] == {"fromEnv": "A"} and env["F"] == {"fromFile": "f"}
    assert set(env["P"]) == {"secret", "digest"}  # type: ignore[arg-type]
