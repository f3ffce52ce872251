"""Raw HTTP/1.1 over a socket, for tests/faults/api.py: what a client library would not
send (a lying Content-Length, bytes that are not UTF-8 in a header, a body streamed
until the server answers), the table of malformed requests it sends, and two measures
(a process's peak memory, a summary of delays)."""

from __future__ import annotations

import json
import select
import socket
import statistics
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MB = 1_000_000
CHUNK = b"x" * (64 * 1024)


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None


def exchange(port: int, head: bytes, body: Iterable[bytes] = (), timeout: float = 30) -> Reply:
    """Send `head` then `body`'s chunks, stopping as soon as an answer comes (a server
    that refuses a body answers before it is all sent, and a client that kept sending
    would get its answer reset); the answer, status 0 when none came."""
    deadline = time.monotonic() + timeout
    got = b""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(head)
        s.setblocking(False)
        chunks: Iterator[bytes] | None = iter(body)
        pending = b""
        while time.monotonic() < deadline and not _complete(got):
            writing = [s] if chunks is not None else []
            readable, writable, _ = select.select([s], writing, [], 0.5)
            if readable:
                chunks = None  # an answer: stop sending
                try:
                    part = s.recv(65536)
                except (BlockingIOError, InterruptedError):
                    continue
                except ConnectionResetError:
                    break
                if not part:
                    break
                got += part
            elif writable and chunks is not None:
                if not pending:
                    pending = next(chunks, b"")
                    if not pending:
                        chunks = None
                        continue
                try:
                    pending = pending[s.send(pending) :]
                except (BlockingIOError, InterruptedError):
                    pass
                except OSError:
                    chunks = None
    return _parse(got)


def _complete(data: bytes) -> bool:
    _, sep, rest = data.partition(b"\r\n\r\n")
    if not sep:
        return False
    reply = _parse(data)
    length = reply.headers.get("content-length")
    return length is not None and len(rest) >= int(length)


def _parse(data: bytes) -> Reply:
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    try:
        status = int(lines[0].split()[1])
    except (IndexError, ValueError):
        return Reply(0, {}, data)
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Reply(status, headers, rest)


def request_head(method: str, path: str, headers: dict[str, str] | None = None) -> bytes:
    lines = [
        f"{method} {path} HTTP/1.1",
        "Host: 127.0.0.1",
        *(f"{k}: {v}" for k, v in (headers or {}).items()),
    ]
    return ("\r\n".join(lines) + "\r\n").encode("utf-8", "surrogateescape") + b"\r\n"


def filler(size: int) -> Iterator[bytes]:
    """`size` bytes (an "x" each), 64 KiB at a time (never all in memory)."""
    while size > 0:
        yield CHUNK[:size]
        size -= len(CHUNK)


def chunked(size: int) -> Iterator[bytes]:
    """`size` bytes as HTTP/1.1 chunks."""
    for part in filler(size):
        yield b"%x\r\n" % len(part) + part + b"\r\n"
    yield b"0\r\n\r\n"


# --- the malformed requests ---------------------------------------------------------


def _deep(depth: int) -> bytes:
    return b'{"tasks": ' + b"[" * depth + b'"\\u0000"' + b"]" * depth + b"}"


MALFORMED: list[tuple[str, str, bytes, dict[str, str]]] = [
    ("POST", "/v1/jobs/tick/runs", b"{", {}),
    ("POST", "/v1/jobs/tick/runs", b"[]", {}),
    ("POST", "/v1/jobs/tick/runs", b"null", {}),
    ("POST", "/v1/jobs/tick/runs", b'{"tasks": 5}', {}),
    ("POST", "/v1/jobs/tick/runs", b'{"env": {"A": 1}}', {}),
    ("POST", "/v1/jobs/tick/runs", b'{"tasks": ["nope"]}', {}),
    ("POST", "/v1/jobs/tick/runs", b'{"overlap": 1e999}', {}),
    ("POST", "/v1/jobs/tick/runs", b'{"tasks": [' + b"9" * 5000 + b"]}", {}),
    ("POST", "/v1/jobs/tick/runs", b'{"env": {"A": "\\u0000"}}', {}),
    ("POST", "/v1/jobs/tick/runs", b'{"env": {"A": "\\ud800"}}', {}),  # 503 on PostgreSQL
    ("POST", "/v1/jobs/tick/holds", b'{"name": "\\uDFFFx"}', {}),
    ("POST", "/v1/jobs/tick/runs", b"\xff\xfe{}", {}),
    ("POST", "/v1/jobs/tick/runs", _deep(50_000), {}),
    ("POST", "/v1/jobs/tick/runs", b"{}", {"Content-Type": "text/plain"}),
    ("POST", "/v1/runs/1/actions", b'{"type": "explode"}', {}),
    ("POST", "/v1/runs/1/actions", b'{"type": "retry", "from": []}', {}),
    ("POST", "/v1/jobs/tick/holds", b'{"until": "the end of time"}', {}),
    ("POST", "/v1/jobs/tick/holds", b'{"until": "99999-01-01"}', {}),
    ("POST", "/v1/holds", b'{"selector": "x"}', {}),
    ("POST", "/v1/runs/99999999999999999999999/cancel", b"{}", {}),
    ("GET", "/v1/runs/99999999999999999999999", b"", {}),
    ("GET", "/v1/runs/-1", b"", {}),
    ("GET", "/v1/runs/1e3", b"", {}),
    ("GET", "/v1/runs?limit=99999999999999999999", b"", {}),
    ("GET", "/v1/runs?limit=1e400", b"", {}),
    ("GET", "/v1/runs?start=99999-99-99", b"", {}),
    ("GET", "/v1/runs?start=" + "9" * 400, b"", {}),
    ("GET", "/v1/runs?state=%FF%FE", b"", {}),
    ("GET", "/v1/runs?job=%00", b"", {}),
    ("GET", "/v1/events?run=99999999999999999999", b"", {}),
    ("GET", "/v1/events", b"", {"Last-Event-ID": "9" * 100}),
    ("GET", "/v1/events", b"", {"Last-Event-ID": "9" * 5000}),
    ("GET", "/v1/events", b"", {"Last-Event-ID": "\udcb2"}),  # the byte of "²": a digit?
    ("GET", "/v1/audit?since=yesterday-ish", b"", {}),
    ("GET", "/v1/jobs/%F0%9F%92%A9", b"", {}),
    ("GET", "/v1/jobs/%ED%A0%80", b"", {}),
    ("GET", "/v1/jobs/%FF%FE", b"", {}),
    ("GET", "/v1/jobs/%00", b"", {}),
    ("GET", "/v1/jobs/%E2%80%AEkcit", b"", {}),
    ("GET", "/v1/jobs/" + "x" * 4000, b"", {}),
    ("GET", "/v1/runs/1/tasks/%2e%2e%2f%2e%2e%2fetc%2fpasswd/log", b"", {}),
    ("GET", "/v1/runs/1/tasks/work/log?attempt=-5", b"", {}),
    ("GET", "/v1/runs/1/tasks/work/log?attempt=99999999999999999999", b"", {}),
    ("DELETE", "/v1/jobs/%FF/holds/%00", b"", {}),
    ("DELETE", "/v1/holds/%F0%9F%92%A9", b"", {}),
    ("DELETE", "/v1/holds/x", _deep(50_000), {}),  # a body where none is parsed
    ("DELETE", "/v1/holds/x", b'"\\ud800"', {}),
]
# Odd but not wrong: answered as the API sees fit, but never with a 5xx (an unknown query
# parameter of junk bytes)
ODD: list[tuple[str, str, bytes, dict[str, str]]] = [
    ("GET", "/v1/jobs/tick/status?%FF=%FF", b"", {}),
]


# What uvicorn refuses before the app sees it: its own 400, or the connection closed
RAW = [
    b"GET /v1/runs\xff HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /v1/jobs/\xf0\x9f\x92\xa9 HTTP/1.1\r\nHost: x\r\n\r\n",
    b"POST /v1/holds HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
    b"POST /v1/holds HTTP/1.1\r\nHost: x\r\nContent-Length: 1, 2\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nX: " + b"y" * 70_000 + b"\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(32),  # a TLS hello
]


# --- measures ----------------------------------------------------------------------


def peak_memory(pid: int) -> int:
    """The process's peak resident memory (VmHWM), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def summary(values: list[float]) -> dict[str, float]:
    if not values:
        return {"samples": 0}
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {
        "samples": len(ordered),
        "p50": round(statistics.median(ordered), 1),
        "p99": round(p99, 1),
        "max": round(ordered[-1], 1),
    }
