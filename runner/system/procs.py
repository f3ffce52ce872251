"""Processes known for certain: a pid together with its start time.

A pid alone can be reused by an unrelated process after the original exits, so every
process the runner records (a run's owner, a task's process group) is recorded with the
time it started (from /proc, in seconds after boot). Only a process whose pid and start
time both match is treated as the same process: alive, or safe to kill.
"""

from __future__ import annotations

import os
import signal
import socket
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache

_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class ProcessId:
    """A process on a host: the owner of a run, or a task's process group leader."""

    host: str
    pid: int
    started: float

    @property
    def label(self) -> str:
        return f"pid {self.pid} on {self.host}"


@cache
def hostname() -> str:
    return socket.gethostname()


def start_time(pid: int, *, ended_too: bool = False) -> float | None:
    """When `pid` started, in seconds after boot; None when there is no such process
    (nor, unless `ended_too`, when it has ended and is a zombie not reaped yet)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            raw = stat.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ")".
    fields = raw[raw.rindex(b")") + 2 :].split()
    if fields[0] == b"Z" and not ended_too:  # a zombie has ended: its exit status is left
        return None
    return int(fields[19]) / _TICKS


def myself() -> ProcessId:
    pid = os.getpid()
    return ProcessId(host=hostname(), pid=pid, started=start_time(pid) or 0.0)


def is_alive(process: ProcessId) -> bool | None:
    """Whether the process still runs; None when it is on another host (unknown here)."""
    if process.host != hostname():
        return None
    found = start_time(process.pid)
    return found is not None and abs(found - process.started) < 0.02


def kill_group(pid: int, sig: int = signal.SIGTERM) -> bool:
    """Signal the process group led by `pid`; False when the group has no process left."""
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False
    return True


def group_alive(pgid: int) -> bool:
    """Whether the process group has a member that is not a zombie. (A zombie left for
    init to reap still counts for `killpg`, though it has ended.) Cheap when the group
    is empty: /proc is only read when `killpg` says there is someone."""
    if not kill_group(pgid, 0):
        return False
    return next(_members(pgid), None) is not None


def _members(pgid: int) -> Iterator[int]:
    """The pids of the group's members that have not ended (zombies left out)."""
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as stat:
                raw = stat.read()
        except OSError:
            continue
        fields = raw[raw.rindex(b")") + 2 :].split()
        if int(fields[2]) == pgid and fields[0] not in (b"Z", b"X"):
            yield int(entry.name)


def kill_group_if_marked(pgid: int, marks: Mapping[str, str], sig: int = signal.SIGKILL) -> bool:
    """Signal what is left of a task's group once its leader is gone: only when a member
    of group `pgid` carries every one of `marks` in its environment (the variables the
    runner set for the task). While a member lives, Linux does not reuse its group's id
    as a pid, so a group that holds a marked process is the task's; an unrelated group
    that took the id later holds no such process and is left alone."""
    wanted = {f"{k}={v}".encode() for k, v in marks.items()}
    if not wanted or not kill_group(pgid, 0):
        return False
    for pid in _members(pgid):
        try:
            with open(f"/proc/{pid}/environ", "rb") as environ:
                found = set(environ.read().split(b"\0"))
        except OSError:  # ended meanwhile, or not ours to read
            continue
        if wanted <= found:
            return kill_group(pgid, sig)
    return False


def kill_group_if_same(pid: int, started: float, sig: int = signal.SIGKILL) -> bool:
    """Signal a left-over task's group only when its leader is certainly the process
    that was recorded (same pid, same start time). Never by name, never a guess."""
    found = start_time(pid)
    if found is None or abs(found - started) >= 0.02:
        return False
    return kill_group(pid, sig)
