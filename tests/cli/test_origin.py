"""Where an applied configuration came from (issue 16): the git commit, branch, dirty
state and remote of the folder (credentials stripped), and who applied it, recorded by
every apply and shown by `plan`, `status` and the API; `apply --require-clean`. On a real
git repository."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from runner.cli import run
from runner.config.origin import strip_credentials
from tests.conftest import WriteFile

JOB = "apiVersion: runner/v1\nkind: Job\nname: {name}\ntasks: [{{name: a, run: 'true'}}]\n"


def git(folder: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


@pytest.fixture
def repo(write: WriteFile, config_dir: Path) -> Path:
    root = config_dir.parent
    git(root, "init", "-q", "-b", "main")
    git(root, "remote", "add", "origin", "https://deploy:s3cret@git.example.org/ops/jobs.git")
    write("a.yaml", JOB.format(name="a"))
    git(root, "add", "jobs.d")
    git(root, "commit", "-q", "-m", "a")
    return root


def call(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = run(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_plan_and_apply_name_the_commit_and_status_shows_where_it_came_from(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    commit = git(repo, "rev-parse", "HEAD")
    code, out, _ = call(capsys, "plan")
    assert out.splitlines()[0] == f"jobs.d at {commit[:7]} (main, clean)"
    code, out, err = call(capsys, "apply", "--require-clean")
    assert code == 0, err
    assert out.splitlines()[0] == f"jobs.d at {commit[:7]} (main, clean)"
    code, out, _ = call(capsys, "status")
    line = next(x for x in out.splitlines() if x.startswith("source"))
    assert f"{commit[:7]} (main, clean)" in line and " ago, " in line
    assert "from https://git.example.org/ops/jobs.git, by " in line
    assert "s3cret" not in out
    _, out, _ = call(capsys, "status", "--json")
    source = json.loads(out)["configuration"]["last_reconcile"]["source"]
    assert source["commit"] == commit and source["branch"] == "main" and source["dirty"] == 0
    assert source["remote"] == "https://git.example.org/ops/jobs.git"
    assert source["user"] and source["host"]


def test_a_dirty_tree_is_said_by_plan_and_refused_by_require_clean(
    repo: Path, write: WriteFile, capsys: pytest.CaptureFixture[str]
) -> None:
    write("b.yaml", JOB.format(name="b"))  # new, not committed
    (repo / "jobs.d" / "a.yaml").write_text(JOB.format(name="a2"))  # changed
    _, out, _ = call(capsys, "plan")
    assert "(main, 2 file(s) changed): the plan is of the files as they are" in out
    _, out, _ = call(capsys, "plan", "--format", "json")
    assert json.loads(out)["source"]["dirty"] == 2
    code, out, err = call(capsys, "apply", "--require-clean")
    assert code == 1 and "nothing was applied" in err
    assert "--require-clean: 2 file(s) under jobs.d differ from commit" in err
    _, out, _ = call(capsys, "jobs", "--json")
    assert json.loads(out) == []
    code, _, err = call(capsys, "apply")  # without the flag: applied, and recorded dirty
    assert code == 0, err
    _, out, _ = call(capsys, "status")
    assert "(main, 2 file(s) changed)" in out


def test_a_folder_outside_git_plans_as_before_and_require_clean_refuses(
    write: WriteFile, capsys: pytest.CaptureFixture[str]
) -> None:
    write("a.yaml", JOB.format(name="a"))
    _, out, _ = call(capsys, "plan")
    assert out.startswith("  + job a")
    code, _, err = call(capsys, "apply", "--require-clean")
    assert code == 1 and "jobs.d is not in a git work tree" in err
    assert call(capsys, "apply")[0] == 0
    _, out, _ = call(capsys, "status")
    assert "source         a folder not in git" in out


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://user:token@github.com/o/r.git", "https://github.com/o/r.git"),
        ("https://x-access-token@github.com/o/r", "https://github.com/o/r"),
        ("ssh://git@host:2222/o/r.git", "ssh://host:2222/o/r.git"),
        ("git@github.com:o/r.git", "git@github.com:o/r.git"),
        ("/srv/git/jobs.git", "/srv/git/jobs.git"),
    ],
)
def test_credentials_are_stripped_from_the_remote(url: str, shown: str) -> None:
    assert strip_credentials(url) == shown
