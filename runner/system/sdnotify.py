"""systemd's notify protocol (sd_notify(3)): `READY=1` once the daemon is up, and
`WATCHDOG=1` from its loop, so that a unit with `Type=notify` and `WatchdogSec=` has a
hung daemon killed and restarted (issue 17). One datagram to `$NOTIFY_SOCKET` (a path,
or an abstract name when it starts with "@"); nothing at all without one."""

from __future__ import annotations

import contextlib
import os
import socket
import time


class Notifier:
    def __init__(self, environ: dict[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET", "")
        self.address = "\0" + address[1:] if address.startswith("@") else address
        usec = env.get("WATCHDOG_USEC", "")
        # a ping at least twice per period, as sd_watchdog_enabled(3) advises
        self.every = int(usec) / 2e6 if usec.isdigit() and int(usec) > 0 else None
        self._pinged = float("-inf")
        self._ready = False

    def send(self, state: str) -> None:
        if not self.address:
            return
        kind = socket.SOCK_DGRAM | socket.SOCK_CLOEXEC
        # systemd gone: nothing to tell
        with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX, kind) as s:
            s.sendto(state.encode(), self.address)

    def alive(self) -> None:
        """From each pass of the loop: ready the first time, then the watchdog's ping
        (at most twice per `WatchdogSec=`)."""
        if not self._ready:
            self._ready = True
            self.send("READY=1")
        now = time.monotonic()
        if self.every is not None and now - self._pinged >= self.every:
            self._pinged = now
            self.send("WATCHDOG=1")

    @property
    def watchdog(self) -> float | None:
        """The watchdog's period in seconds, when systemd set one."""
        return None if self.every is None else self.every * 2
