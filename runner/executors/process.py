"""Starting one task process, in a process group of its own.

`start_new_session` (setsid in the child) rather than `preexec_fn`: a `preexec_fn`
forces a full fork, which costs about 14 ms a task once the parent is large, while
without it CPython starts the child with vfork. Being a session leader, the task leads
its process group, so a timeout or cancel can signal everything it started.

A pidfd (Linux 5.3) says when the child has ended, so one selector can wait on every
running task, on timers and on wake-ups at once, without a thread per task.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from runner.system.accounts import Account, NoAccount, account
from runner.system.procs import start_time


@dataclass(slots=True)
class Child:
    popen: subprocess.Popen[bytes]
    pidfd: int
    started: float = 0.0  # the process's start time, with the pid its identity

    def read_started(self) -> float:
        """Its start time, read once it has started: reading it while the new program
        loads waits for the loader (0.7 ms a task), so a burst reads after spawning."""
        if not self.started:
            self.started = start_time(self.pid, ended_too=True) or 0.0
        return self.started

    @property
    def pid(self) -> int:
        return self.popen.pid

    def reap(self) -> int:
        """The exit code once the pidfd said it ended: negative for a signal."""
        code = self.popen.wait()
        os.close(self.pidfd)
        return code


class SpawnFailed(Exception):
    """The task could not start; `reason` says why, as the task's failure."""

    def __init__(self, reason: str, exit_code: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.exit_code = exit_code


class Programs:
    """Where a command's program is on its PATH, found once and kept for a burst of
    spawns (`forget` between bursts, so that a program installed or moved meanwhile is
    found anew). Without it, each spawn tries every PATH folder in turn in the child
    (an `execve` each) while the daemon waits for it."""

    def __init__(self) -> None:
        self._found: dict[tuple[str, str], str | None] = {}

    def forget(self) -> None:
        self._found.clear()

    def find(self, name: str, env: Mapping[str, str]) -> str | None:
        """The absolute path of program `name`, or None: leave it to the spawn (a path
        already, a PATH with a relative folder, which the task's workdir decides, or
        nothing found, which the spawn reports). The first executable file on PATH;
        should it fail to start (no `#!` line, a missing interpreter), the spawn tries
        again with the usual search, which goes on to the next folder."""
        path = env.get("PATH", os.defpath)
        key = (name, path)
        if key not in self._found:
            plain = "/" not in name and all(os.path.isabs(d) for d in path.split(os.pathsep))
            self._found[key] = shutil.which(name, path=path) if plain else None
        return self._found[key]


def spawn(
    argv: Sequence[str],
    *,
    cwd: str,
    env: Mapping[str, str],
    log_fd: int,
    shown: str,
    programs: Programs | None = None,
    user: str | None = None,
    group: str | None = None,
) -> Child:
    if not os.path.isdir(cwd):
        raise SpawnFailed(f"workdir not found: {cwd}", 127)
    try:
        who = account(user, group)
    except NoAccount as exc:
        raise SpawnFailed(f"cannot run {shown} as {user or group}: {exc}", 126) from None
    if who is not None:
        env = _login_env(env, who)
    found = programs.find(argv[0], env) if programs is not None else None
    try:
        try:
            popen = _popen(argv, found, cwd=cwd, env=env, log_fd=log_fd, who=who)
        except OSError:
            if found is None:
                raise
            popen = _popen(argv, None, cwd=cwd, env=env, log_fd=log_fd, who=who)  # PATH
    except FileNotFoundError:
        raise SpawnFailed(f"command not found: {shown}", 127) from None
    except PermissionError:
        raise SpawnFailed(f"permission denied: {shown} (is it executable?)", 126) from None
    except OSError as exc:
        raise SpawnFailed(f"cannot start {shown}: {exc.strerror or exc}", 126) from None
    except ValueError as exc:  # a NUL byte in an argument or a variable, say
        raise SpawnFailed(f"cannot start {shown}: {exc}", 126) from None
    try:
        pidfd = os.pidfd_open(popen.pid)
    except OSError as exc:  # pragma: no cover - only on kernels before 5.3
        popen.kill()
        popen.wait()
        raise SpawnFailed(f"cannot watch the task's process: {exc.strerror}", 126) from None
    return Child(popen=popen, pidfd=pidfd)


def _login_env(env: Mapping[str, str], who: Account) -> dict[str, str]:
    """What a login as `who` sets: USER and LOGNAME, and HOME unless the job set one."""
    out = {**env, "USER": who.name, "LOGNAME": who.name}
    if env.get("HOME") == os.environ.get("HOME"):  # inherited from the daemon
        out["HOME"] = who.home
    return out


def _popen(
    argv: Sequence[str],
    executable: str | None,
    *,
    cwd: str,
    env: Mapping[str, str],
    log_fd: int,
    who: Account | None = None,
) -> subprocess.Popen[bytes]:
    # another account: CPython forks for it rather than vforks (credentials change)
    as_who: dict[str, Any] = {}
    if who is not None:
        as_who = {"user": who.uid, "group": who.gid}
        if os.geteuid() == 0:
            as_who["extra_groups"] = list(who.groups)
    return subprocess.Popen(
        list(argv),
        executable=executable,
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=log_fd,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        close_fds=True,
        **as_who,
    )


def describe_exit(code: int, *, shell: bool) -> str:
    """A failed exit, as a reason: `exit code 3`, `killed by SIGKILL`, `command not found`."""
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"killed by {name}"
    if shell and code == 127:
        return "command not found (exit code 127; see the log)"
    if shell and code == 126:
        return "command not executable (exit code 126; see the log)"
    return f"exit code {code}"
