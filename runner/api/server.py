"""The API served by uvicorn on a thread of the daemon (`runner daemon --api`): it shares
the daemon's home and store, and stops with it."""

from __future__ import annotations

import contextlib
import ipaddress
import sys
import threading
import time

import uvicorn
from anyio import to_thread
from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from runner.errors import RunnerError, UsageError

START_WAIT = 10.0
SWITCH_INTERVAL = 0.001
# Threads that do the API's synchronous work (anyio's pool; 40 by default). One: more
# only take turns at the GIL with each other and with the scheduler's thread. Measured
# (tests/faults/api.py, 8 clients on GET /v1/runs?limit=200, 2-core VM, 3 cycles), the
# firing delay's p50/p99 under that load and the requests answered: SQLite, 40 threads
# 21.3/57.9 ms and 3,674; 2 threads 1.4/8.6 ms and 5,608; 1 thread 0.7/3.1 ms and 6,911
# (quiet: 0.5/1.6). PostgreSQL, 40 threads 87.3/139.5 ms and 4,953; 1 thread 12.1/24.1
# ms and 4,518. A request waiting for the store (a write lock) holds the others up;
# /healthz does not use the pool.
WORKERS = 1
MAX_FILES = 65_536  # the soft limit on open files a daemon serving the API raises itself to


def parse_address(text: str) -> tuple[str, int]:
    """`HOST:PORT` (`[::1]:8080` for IPv6), or `:PORT` for the loopback address."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f'--api "{text}": give HOST:PORT, e.g. 127.0.0.1:8080')
    return (host.strip("[]") or "127.0.0.1"), int(port)


def loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def more_files(most: int = MAX_FILES) -> None:
    """Raise this process's soft limit on open files towards its hard limit (to `most`).
    Every connection holds a file, and uvicorn does not time out one that never sends
    its request: at a soft limit of 256, 400 idle connections left none for the tasks'
    logs, and every tick's run failed ("Too many open files") until they closed. The
    tasks inherit the limit (as they would in a container, whose limit is this high)."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = most if hard == resource.RLIM_INFINITY else min(hard, most)
    if soft != resource.RLIM_INFINITY and soft < want:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


class Workers:
    """The app, its thread pool set to WORKERS threads on the first request (anyio's
    limiter belongs to the server's event loop, which runs in the server's thread)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app, self.set = app, False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.set:
            to_thread.current_default_thread_limiter().total_tokens = WORKERS
            self.set = True
        await self.app(scope, receive, send)


class ApiServer:
    """uvicorn on a thread; `start` returns once it listens (or raises why it cannot)."""

    def __init__(self, app: FastAPI, host: str, port: int) -> None:
        self.host, self.port, self.app = host, port, app
        config = uvicorn.Config(
            Workers(app),
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=2,  # event streams never end by themselves
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="api", daemon=True)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> None:
        # The API's thread shares the interpreter with the scheduler's: a thread that
        # wants the GIL gets it within 1 ms rather than Python's 5, so that a burst of
        # requests or of events to stream delays a tick by a millisecond at most.
        sys.setswitchinterval(SWITCH_INTERVAL)
        more_files()
        self.thread.start()
        deadline = time.monotonic() + START_WAIT
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RunnerError(
                    f"the API cannot listen on {self.host}:{self.port} (in use, or not an "
                    "address of this host): pick another --api",
                    code="api-listen",
                )
            time.sleep(0.01)

    def stop(self) -> None:
        tail = getattr(self.app.state, "tail", None)
        if tail is not None:
            tail.close()  # the event streams end, so that the server stops at once
        self.server.should_exit = True
        self.thread.join(timeout=5)

    def describe(self) -> str:
        return f"API on {self.url}"
