"""The home is safe against links and other users (issue 17, defect 7): a link planted in
it is never followed to write, empty or delete another file; a home others may write,
or another user's, is refused in one line; what runner creates is private whatever the
umask. Real processes (`runner` and `runner daemon`), real files, a real store."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from runner.executors.logs import LogFiles
from runner.runs.retention import prune_job
from runner.store import opened
from runner.store.run_reads import REPORTING
from tests.daemon.conftest import Env

JOB = """
apiVersion: runner/v1
kind: Job
name: job
schedule: {mode: manual}
history: {keepRuns: 1}
tasks:
  - name: t
    run: echo written by the task
"""


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    env = Env(tmp_path)
    env.write("job.yaml", JOB)
    try:
        yield env
    finally:
        env.stop_all()


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    """Someone else's file, outside the home, that runner must leave as it is."""
    path = tmp_path / "elsewhere" / "precious.txt"
    path.parent.mkdir()
    path.write_text("precious\n")
    return path


def applied(env: Env) -> Env:
    done = env.runner("apply", "jobs.d")
    assert done.returncode == 0, done.stderr
    return env


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_a_link_planted_at_a_tasks_log_is_replaced_not_followed(env: Env, victim: Path) -> None:
    applied(env)
    log = env.home / "logs/job/1/t.1.log"
    log.parent.mkdir(parents=True)
    log.symlink_to(victim)
    done = env.runner("run", "job")
    assert done.returncode == 0, done.stderr
    assert victim.read_text() == "precious\n"
    assert not log.is_symlink() and log.read_text() == "written by the task\n"


def test_a_link_in_place_of_a_jobs_log_folder_fails_the_task_not_the_daemon(
    env: Env, victim: Path
) -> None:
    (env.home / "logs").mkdir(parents=True, mode=0o700)
    (env.home / "logs/job").symlink_to(victim.parent, target_is_directory=True)
    daemon = env.start()
    daemon.wait_up()
    done = env.runner("run", "job", "--wait")
    assert done.returncode == 1
    (run,) = env.runs("job")
    (task,) = run.tasks
    assert task.state == "failed" and "symbolic link" in (task.reason or "")
    assert sorted(p.name for p in victim.parent.iterdir()) == ["precious.txt"]
    assert daemon.proc.poll() is None  # the daemon goes on
    (env.home / "logs/job").unlink()
    assert env.runner("run", "job", "--wait").returncode == 0


def test_pruning_never_deletes_through_a_linked_job_folder(env: Env, tmp_path: Path) -> None:
    applied(env)
    assert env.runner("run", "job").returncode == 0
    # the job's log folder moved away, a link left in its place (run 1's folder in it)
    outside = tmp_path / "elsewhere-logs"
    (env.home / "logs/job").rename(outside)
    (env.home / "logs/job").symlink_to(outside, target_is_directory=True)
    done = env.runner("run", "job")  # its log cannot be opened; it ends
    assert done.returncode == 1
    later = datetime.now(UTC) + REPORTING + timedelta(seconds=1)
    with opened(home=env.home) as store:  # run 1 pruned once it is no longer reported on
        prune_job(store, LogFiles(env.home), "job", now=later)
    assert [r.id for r in env.runs("job")] == [2]
    assert (outside / "1" / "t.1.log").read_text() == "written by the task\n"


def test_a_link_in_place_of_a_runs_log_folder_is_removed_itself(tmp_path: Path) -> None:
    home = tmp_path / "home"
    outside = tmp_path / "elsewhere"
    (outside / "keep").mkdir(parents=True)
    (home / "logs/job").mkdir(parents=True)
    (home / "logs/job/7").symlink_to(outside, target_is_directory=True)
    logs = LogFiles(home)
    assert logs.runs_with_logs("job") == [7]
    logs.remove_run("job", 7)
    assert not (home / "logs/job/7").is_symlink() and (outside / "keep").is_dir()


def test_a_link_at_the_daemons_lock_is_refused_and_left_alone(env: Env, victim: Path) -> None:
    applied(env)
    (env.home / "daemon.lock").symlink_to(victim)
    daemon = env.start()
    assert daemon.wait_exit(10) == 1
    assert "daemon.lock is a symbolic link" in daemon.log()
    assert victim.read_text() == "precious\n"


def test_a_link_at_the_stores_lock_is_refused_and_left_alone(env: Env, victim: Path) -> None:
    applied(env)
    (env.home / "state.db.lock").unlink(missing_ok=True)
    (env.home / "state.db.lock").symlink_to(victim)
    done = env.runner("apply", "jobs.d")
    assert done.returncode == 1
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1
    assert "state.db.lock is a symbolic link" in done.stderr
    assert victim.read_text() == "precious\n"


def test_under_umask_000_what_runner_creates_is_private(tmp_path: Path) -> None:
    (tmp_path / "jobs.d").mkdir()
    (tmp_path / "jobs.d/job.yaml").write_text(JOB)
    for args in (["apply", "jobs.d"], ["run", "job"]):
        done = subprocess.run(
            [sys.executable, "-m", "runner", *args, "--home", "home"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            umask=0,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
    home = tmp_path / "home"
    folders = [home, home / "logs", home / "logs/job", home / "logs/job/1"]
    assert [mode(p) for p in folders] == [0o700] * 4
    assert mode(home / "logs/job/1/t.1.log") == 0o600
    assert mode(home / "state.db") == 0o600


@pytest.mark.parametrize("bits", [0o777, 0o770, 0o702])
def test_a_home_others_may_write_is_refused_in_one_line(env: Env, bits: int) -> None:
    applied(env)
    env.home.chmod(bits)
    done = env.runner("jobs")
    assert done.returncode == 1
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1
    assert "chmod 700" in done.stderr
    daemon = env.start()
    assert daemon.wait_exit(10) == 1
    assert "chmod 700" in daemon.log()


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a folder to another user takes root")
def test_another_users_home_is_refused_in_one_line(env: Env) -> None:
    applied(env)
    os.chown(env.home, 65534, 65534)  # nobody
    done = env.runner("jobs")
    assert done.returncode == 1
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1
    assert "chown" in done.stderr
