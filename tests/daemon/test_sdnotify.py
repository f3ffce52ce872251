"""Issue 17, item 12: a hung daemon is restarted by systemd's watchdog. The daemon
speaks sd_notify(3) to `$NOTIFY_SOCKET`: READY=1 once up, WATCHDOG=1 from its loop.
A real datagram socket stands in for systemd."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from runner.system.sdnotify import Notifier
from tests.daemon.conftest import Env
from tests.waiting import wait_for


def _listen(path: Path) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(str(path))
    s.setblocking(False)
    return s


def _received(s: socket.socket, into: list[str]) -> list[str]:
    while True:
        try:
            into.append(s.recv(4096).decode())
        except BlockingIOError:
            return into


def test_the_daemon_says_ready_and_pings_the_watchdog(env: Env) -> None:
    path = env.root / "notify.sock"
    listening = _listen(path)
    got: list[str] = []
    os.environ["NOTIFY_SOCKET"] = str(path)
    os.environ["WATCHDOG_USEC"] = "2000000"  # a ping at least every second
    try:
        daemon = env.start()
    finally:
        del os.environ["NOTIFY_SOCKET"], os.environ["WATCHDOG_USEC"]
    try:
        daemon.wait_up()
        wait_for("READY=1", lambda: "READY=1" in _received(listening, got))
        wait_for("two pings", lambda: _received(listening, got).count("WATCHDOG=1") >= 2)
        assert got[0] == "READY=1"
    finally:
        listening.close()


def test_without_a_socket_nothing_is_sent_and_no_watchdog_is_set() -> None:
    quiet = Notifier({})
    quiet.alive()  # no socket: nothing to do, no error
    assert quiet.watchdog is None
    assert Notifier({"WATCHDOG_USEC": "90000000"}).watchdog == 90.0


def test_an_abstract_socket_name_is_used_as_systemd_gives_it(tmp_path: Path) -> None:
    name = f"runner-test-{os.getpid()}"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind("\0" + name)
    try:
        Notifier({"NOTIFY_SOCKET": "@" + name}).send("READY=1")
        assert s.recv(64) == b"READY=1"
    finally:
        s.close()
