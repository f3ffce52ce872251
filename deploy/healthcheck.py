"""The container image's HEALTHCHECK: exit 0 when runner's daemon is alive, 1 when not.

It finds the daemon's own command line in /proc (however it was started, whatever
arguments `docker run` appended). With `--api HOST:PORT` the daemon is healthy when the
API answers `GET /healthz` (no token needed); without it, when `runner status` on the
daemon's home (or store) says a daemon holds it. Only the standard library: it runs on
the image's Python, next to the daemon, as its user.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator, Sequence

TIMEOUT = 4.0  # seconds; the HEALTHCHECK's own --timeout is 5s


def option(argv: Sequence[str], name: str) -> str | None:
    """The value of `--name VALUE` or `--name=VALUE` in `argv` (the last one wins)."""
    found = None
    for i, arg in enumerate(argv):
        if arg == name and i + 1 < len(argv):
            found = argv[i + 1]
        elif arg.startswith(name + "="):
            found = arg[len(name) + 1 :]
    return found


def is_daemon(argv: Sequence[str]) -> bool:
    """`runner daemon ...`, `python -m runner daemon ...`, `tini -- runner daemon ...`."""
    for i, arg in enumerate(argv):
        if os.path.basename(arg) == "runner":
            return "daemon" in argv[i + 1 :]
    return False


def daemon_commands(proc: str = "/proc") -> Iterator[tuple[str, list[str]]]:
    """The working folder and command line of each runner daemon this process can see."""
    for entry in sorted((e for e in os.listdir(proc) if e.isdigit()), key=int):
        if int(entry) == os.getpid():
            continue
        try:
            with open(os.path.join(proc, entry, "cmdline"), "rb") as handle:
                raw = handle.read()
        except OSError:  # ended meanwhile, or not ours to read
            continue
        argv = [part.decode(errors="replace") for part in raw.split(b"\0") if part]
        if is_daemon(argv):
            try:
                cwd = os.readlink(os.path.join(proc, entry, "cwd"))
            except OSError:
                cwd = "/"
            yield cwd, argv


def healthz_url(api: str) -> str:
    """Where to ask: the address `--api` listens on, the wildcard one as loopback."""
    host, _, port = api.rpartition(":")
    host = host.strip("[]")
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/healthz"


def api_healthy(api: str) -> tuple[bool, str]:
    url = healthz_url(api)
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as answer:
            body = json.loads(answer.read())
    except (OSError, ValueError) as exc:
        return False, f"{url}: {exc}"
    if body.get("status") != "ok":
        return False, f"{url}: answered {body!r}"
    return True, f"{url}: ok"


def status_healthy(cwd: str, argv: Sequence[str]) -> tuple[bool, str]:
    """`runner status --json` on the daemon's home and store (from its folder, so that a
    relative --home means the same): is a daemon holding it?"""
    runner = os.path.join(os.path.dirname(sys.executable), "runner")
    command = [runner, "status", "--json"]
    for name in ("--home", "--store"):
        value = option(argv, name)
        if value is not None:
            command += [name, value]
    env = {k: v for k, v in os.environ.items() if k != "RUNNER_SERVER"}  # the home, not an API
    try:
        done = subprocess.run(
            command, cwd=cwd, env=env, capture_output=True, timeout=TIMEOUT, check=False
        )
        running = json.loads(done.stdout)["daemon"]["running"]
    except (OSError, subprocess.TimeoutExpired, ValueError, KeyError, TypeError) as exc:
        return False, f"runner status: {exc}"
    return bool(running), "runner status: daemon " + ("running" if running else "not running")


def main() -> int:
    daemons = list(daemon_commands())
    if not daemons:
        print("no runner daemon process")
        return 1
    cwd, argv = daemons[-1]  # after tini's own line (`tini -- runner daemon ...`), if any
    api = option(argv, "--api")
    healthy, said = api_healthy(api) if api else status_healthy(cwd, argv)
    print(said)
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
