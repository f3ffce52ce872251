"""Tasks that run as another account (`user:`, `group:`): real processes as `nobody`
when the tests run as root (CI does), the login variables, a group of the task's own,
and a user the host lacks; and `validate`'s warnings where the daemon could not do it."""

from __future__ import annotations

import os
import pwd
from pathlib import Path

import pytest

from runner.cli import run
from tests.conftest import WriteFile
from tests.executors.test_supervisor import Make, order

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="only root can run tasks as others")
NOBODY = pwd.getpwnam("nobody")


@root_only
def test_a_task_runs_as_the_user_with_its_login_variables(make: Make, tmp_path: Path) -> None:
    tmp_path.chmod(0o755)  # `nobody` must reach its workdir
    h = make()
    tasks = """
  - {name: who, run: 'echo "$(id -un) $(id -gn) $USER $LOGNAME $HOME"'}
  - {name: grouped, group: daemon, run: 'id -gn'}
  - {name: mine, user: root, run: 'id -un'}
"""
    ended = h.run(order(tmp_path, tasks, job="user: nobody"))
    assert ended.state == "success", h.journal.task_states()
    group = os.popen("id -gn nobody").read().strip()
    assert h.log("who").split() == ["nobody", group, "nobody", "nobody", NOBODY.pw_dir]
    assert h.log("grouped").strip() == "daemon"
    assert h.log("mine").strip() == "root"  # a task's own user wins over the job's


def test_a_user_the_host_lacks_fails_the_task_saying_so(make: Make, tmp_path: Path) -> None:
    h = make()
    ended = h.run(order(tmp_path, "  - {name: t, run: 'true'}", job="user: no-such-user"))
    assert ended.state == "failed"
    state, reason = h.journal.task_states()["t"]
    assert state == "failed"
    assert reason == 'cannot run true as no-such-user: there is no user "no-such-user" on this host'


JOB = """apiVersion: runner/v1
kind: Job
name: backup
user: {user}
tasks:
  - {{name: dump, run: pg_dump, group: {group}}}
"""


def test_validate_warns_at_the_line_of_a_user_the_host_lacks(
    write: WriteFile, capsys: pytest.CaptureFixture[str]
) -> None:
    write("backup.yaml", JOB.format(user="no-such-user", group="no-such-group"))
    assert run(["validate"]) == 0  # warnings: the files may be checked off the daemon's host
    out = capsys.readouterr().out
    assert 'backup.yaml:4:7: warning: user: there is no user "no-such-user" on this host (' in out
    assert "create it on the daemon's host, or correct the name" in out
    assert 'warning: tasks[0].group: there is no group "no-such-group" on this host' in out
    assert run(["validate", "--strict"]) == 1


def test_validate_warns_where_the_daemon_is_not_root(
    write: WriteFile, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write("backup.yaml", JOB.format(user="root", group="root"))
    monkeypatch.setattr(os, "geteuid", lambda: NOBODY.pw_uid)
    monkeypatch.setattr(os, "getegid", lambda: NOBODY.pw_gid)
    monkeypatch.setattr(os, "getgroups", lambda: [NOBODY.pw_gid])
    assert run(["validate"]) == 0
    out = capsys.readouterr().out
    assert (
        'warning: user: runner runs as "nobody", not root: it cannot run tasks as user "root"'
        in out
    )
    assert "run the daemon as root to use `user`" in out
