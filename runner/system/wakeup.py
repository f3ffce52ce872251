"""Waking a runner process from another one on the same host, without polling.

A process that owns runs (a foreground `runner run`, the daemon) listens on a datagram
socket in Linux's abstract namespace, named after its home and pid: no file to clean
up after a crash, no path-length limit. Another command that changed the store for it
(a cancel, say) sends one byte; the owner then reads the store. The store stays the
truth: a lost wake-up only delays the owner until its next periodic look.
"""

from __future__ import annotations

import hashlib
import os
import socket
from pathlib import Path


def address(home: str | os.PathLike[str], pid: int) -> bytes:
    key = hashlib.sha256(str(Path(home).resolve()).encode()).hexdigest()[:24]
    return f"\0runner-{key}-{pid}".encode()


class Listener:
    """The socket an owner listens on; `fileno()` fits a selector."""

    def __init__(self, home: str | os.PathLike[str], pid: int | None = None) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self.sock.bind(address(home, pid or os.getpid()))
        self.sock.setblocking(False)

    def fileno(self) -> int:
        return self.sock.fileno()

    def drain(self) -> int:
        """Read every pending wake-up; return how many there were."""
        count = 0
        while True:
            try:
                self.sock.recv(64)
            except (BlockingIOError, InterruptedError):
                return count
            count += 1

    def close(self) -> None:
        self.sock.close()


def poke(home: str | os.PathLike[str], pid: int) -> bool:
    """Wake the owner `pid` of `home`; False when nothing listens there."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
        try:
            sock.sendto(b"!", address(home, pid))
        except (ConnectionRefusedError, FileNotFoundError, BlockingIOError):
            return False
        except OSError:
            return False
    return True
