"""The HTTP API under bad input, oversized bodies, slow clients and load (issue 17), shared
by tests/faults/test_api.py (the quick form) and bench/faults.py: a real `runner daemon
--api` on a loopback port, a job ticking every second, and requests sent over real
sockets (raw ones where a client library would refuse to send them).

* Bad tokens: none, malformed, wrong, revoked, a read token where operate is needed:
  401 or 403 with the API's JSON error (SPEC 7), never a 5xx.
* Oversized bodies, to every POST endpoint: 10 MB with its Content-Length, 100 MB
  declared and not sent, 100 MB streamed in chunks: 413 with the API's JSON error,
  and the daemon's peak memory grows by less than a body.
* Malformed input: broken JSON, wrong types, huge numbers, deep nesting, unicode junk
  and NULs in paths and queries: 4xx.
* Slow clients: connections that send their headers a byte a second, one that never
  reads its answer: meanwhile a plain GET answers within a deadline. Then 400 idle
  connections, more than the daemon's soft limit on open files (256 when it starts):
  meanwhile `/healthz` answers and the ticks' runs succeed.
* Load: clients hammering `GET /v1/runs` for some seconds: no 5xx; the job's firing
  delay (a run's start minus its due time, from the store) during the load and in an
  equal window without, reported, not asserted.

Counted per cycle: faults = bad requests sent; problems = a 5xx, a wrong answer, a
traceback in the daemon's log, a daemon that stops answering; lost and doubled ticks
by `scenarios.check`."""

from __future__ import annotations

import contextlib
import resource
import socket
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from runner.api.limits import HOOK
from runner.cli.token import TOKENS_FILE
from runner.ops import tokens
from tests.daemon.conftest import DaemonProcess
from tests.faults.rawhttp import (
    MALFORMED,
    MB,
    ODD,
    RAW,
    Reply,
    chunked,
    exchange,
    filler,
    peak_memory,
    request_head,
    summary,
)
from tests.faults.scenarios import (
    FaultEnv,
    Tally,
    _environment,
    check,
    postgresql_database,
    tick_job,
)
from tests.waiting import DEADLINE, wait_for

ANSWER_WITHIN = 5.0  # seconds a plain GET may take while slow clients hang on
FILES = 256  # the daemon's soft limit on open files when it starts
IDLE = 400  # idle connections opened at once: more than FILES
GROWTH = 8 * 1024 * 1024  # the most the daemon's peak memory may grow by, oversized bodies in
POSTS = (
    "/v1/jobs/tick/runs",
    "/v1/runs/1/cancel",
    "/v1/runs/1/actions",
    "/v1/jobs/tick/holds",
    "/v1/holds",
    HOOK,
)
HOOK_CODES = ("no-git-hook", "too-large")


@dataclass
class ApiTally(Tally):
    """A Tally with the firing delays (ms, p50/p99/max, samples) without and with load,
    and the answers counted by status class."""

    delays: dict[str, dict[str, float]] = field(default_factory=dict)
    answers: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.samples: dict[str, list[float]] = {}  # the delays behind `delays`, not in JSON


class Api:
    """A daemon with `--api` on a loopback port, a token per role (`read`, `operate`,
    and `gone`, revoked), and the answers counted by status class."""

    def __init__(self, env: FaultEnv) -> None:
        self.env = env
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # what `runner token add` and `revoke` do, in this process (each command would
        # cost a second of start-up): the daemon reads HOME/api-tokens.yaml
        env.home.mkdir(exist_ok=True)
        file = env.home / TOKENS_FILE
        self.secrets = {name: tokens.add(file, name, role) for name, role in ROLES}
        tokens.revoke(file, "gone")
        with _environment("RUNNER_STORE", env.url), _soft_files(FILES):
            self.daemon: DaemonProcess = env.start("--api", f"127.0.0.1:{self.port}")
        self.daemon.wait_up()
        self.client = httpx.Client(base_url=self.url, timeout=DEADLINE)
        self.answers: Counter[str] = Counter()

    def auth(self, who: str = "operate") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secrets[who]}"}

    def close(self) -> None:
        self.client.close()


ROLES = (("read", "read"), ("operate", "operate"), ("gone", "read"))


@contextlib.contextmanager
def _soft_files(limit: int) -> Iterator[None]:
    """This process's soft limit on open files lowered to `limit` meanwhile (what it
    spawns inherits it), as a daemon started by hand under a low `ulimit -Sn` has."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(limit, soft), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- the checks -------------------------------------------------------------------------


def expect(
    api: Api,
    tally: Tally,
    what: str,
    reply: Reply,
    statuses: Iterable[int],
    code: str | tuple[str, ...] | None,
) -> None:
    """One bad request's answer: one of `statuses`, and with `code` (or one of them),
    the API's JSON error `{"error": code, "detail": ...}`."""
    tally.faults += 1
    api.answers[f"{reply.status // 100}xx" if reply.status else "none"] += 1
    statuses = set(statuses)
    body = reply.json()
    if reply.status not in statuses:
        want = "4xx" if len(statuses) > 10 else "/".join(map(str, sorted(statuses)))
        tally.problems.append(f"{what}: {reply.status}, not {want}: {reply.body[:200]!r}")
    elif code is not None and not (
        isinstance(body, dict) and body.get("error") in _codes(code) and "detail" in body
    ):
        tally.problems.append(f"{what}: not the API's {code!r} error: {reply.body[:200]!r}")


def _codes(code: str | tuple[str, ...]) -> tuple[str, ...]:
    return (code,) if isinstance(code, str) else code


def _send(api: Api, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> Reply:
    if body or method in ("POST", "PUT"):
        headers = {"Content-Length": str(len(body)), **headers}
    return exchange(api.port, request_head(method, path, headers), [body] if body else [])


def bad_tokens(api: Api, tally: Tally) -> None:
    """No token, malformed ones, a wrong one, a revoked one: 401; a read token that
    acts: 403."""
    wrong = {
        "no Authorization": {},
        "an empty bearer": {"Authorization": "Bearer "},
        "Basic, not Bearer": {"Authorization": "Basic dXNlcjpwYXNz"},
        "a bearer and junk": {"Authorization": "Bearer a b c"},
        "an 8 KB token": {"Authorization": "Bearer " + "x" * 8000},
        "a token of Latin-1 bytes": {"Authorization": "Bearer \udcff\udcfe\udce9"},
        "a token with a NUL escape": {"Authorization": "Bearer rnr_%00"},
        "a wrong token": {"Authorization": "Bearer rnr_" + "A" * 43},
        "a revoked token": api.auth("gone"),
        "a token's prefix": {"Authorization": f"Bearer {api.secrets['read'][:-1]}"},
    }
    for what, headers in wrong.items():
        for method, path, body in (
            ("GET", "/v1/runs", b""),
            ("GET", "/v1/events", b""),
            ("POST", "/v1/jobs/tick/runs", b"{}"),
        ):
            reply = _send(api, method, path, headers, body)
            expect(api, tally, f"{what}, {method} {path}", reply, [401], "unauthorized")
            if reply.status == 401 and reply.headers.get("www-authenticate") != "Bearer":
                tally.problems.append(f"{what}: a 401 without WWW-Authenticate: Bearer")
    for method, path, body in (
        ("POST", "/v1/jobs/tick/runs", b"{}"),
        ("POST", "/v1/runs/1/cancel", b"{}"),
        ("POST", "/v1/runs/1/actions", b'{"type": "retry"}'),
        ("POST", "/v1/jobs/tick/holds", b"{}"),
        ("POST", "/v1/holds", b'{"selector": {"a": "b"}}'),
        ("DELETE", "/v1/holds/x", b""),
        ("DELETE", "/v1/jobs/tick/holds/x", b""),
    ):
        reply = _send(api, method, path, api.auth("read"), body)
        expect(api, tally, f"a read token, {method} {path}", reply, [403], "forbidden")


def oversized(api: Api, tally: Tally, big: int = 100 * MB) -> None:
    """To every POST endpoint: 10 MB with its length, `big` declared and not sent, `big`
    streamed in chunks. 413, and the daemon's peak memory grown by under GROWTH."""
    before = peak_memory(api.daemon.pid)
    for path in POSTS:
        auth = api.auth()
        cases = {
            "10 MB": (
                request_head("POST", path, {**auth, "Content-Length": str(10 * MB)}),
                filler(10 * MB),
            ),
            f"{big // MB} MB declared, 64 KB sent": (
                request_head("POST", path, {**auth, "Content-Length": str(big)}),
                filler(64 * 1024),
            ),
            f"{big // MB} MB chunked": (
                request_head("POST", path, {**auth, "Transfer-Encoding": "chunked"}),
                chunked(big),
            ),
        }
        for what, (head, body) in cases.items():
            reply = exchange(api.port, head, body)
            if path == HOOK:  # up to 25 MiB, hashed as it comes: no hook here, 404 first
                expect(api, tally, f"{what} to {path}", reply, [404, 413], HOOK_CODES)
            else:
                expect(api, tally, f"{what} to {path}", reply, [413], "too-large")
    grown = peak_memory(api.daemon.pid) - before
    if grown > GROWTH:
        tally.problems.append(f"the daemon's peak memory grew by {grown // 1024} KiB")


def malformed(api: Api, tally: Tally) -> None:
    """Broken JSON, wrong types, huge numbers, deep nesting, unicode junk: each a 4xx
    (the API's JSON error, but for what uvicorn refuses before the app sees it)."""
    for method, path, body, headers in MALFORMED:
        sent = {**api.auth(), "Content-Type": "application/json", **headers}
        reply = _send(api, method, path, sent, body)
        expect(api, tally, f"{method} {path[:60]} {body[:40]!r}", reply, range(400, 500), None)
    for method, path, body, headers in ODD:
        sent = {**api.auth(), "Content-Type": "application/json", **headers}
        reply = _send(api, method, path, sent, body)
        expect(api, tally, f"{method} {path[:60]} {body[:40]!r}", reply, range(200, 500), None)
    for head in RAW:
        reply = exchange(api.port, head, timeout=DEADLINE)
        tally.faults += 1
        api.answers[f"{reply.status // 100}xx" if reply.status else "none"] += 1
        if reply.status >= 500:
            tally.problems.append(f"{head[:40]!r}: {reply.status}")


# --- slow clients ---------------------------------------------------------------------


def slow_clients(api: Api, tally: Tally, seconds: float, count: int = 50) -> None:
    """`count` connections sending a request's headers a byte a second, and one that
    asks for the event stream and a big answer and never reads: meanwhile a plain GET
    answers within ANSWER_WITHIN, every time."""
    head = request_head("GET", "/v1/runs", api.auth("read"))
    slow = [socket.create_connection(("127.0.0.1", api.port)) for _ in range(count)]
    deaf = socket.socket()
    deaf.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    deaf.connect(("127.0.0.1", api.port))
    deaf.sendall(
        request_head("GET", "/openapi.json")
        + request_head("GET", "/v1/events?after=0", api.auth("read"))
    )
    tally.faults += count + 1
    try:
        end = time.monotonic() + seconds
        sent = 0
        while time.monotonic() < end:
            for s in slow:
                with contextlib.suppress(OSError):
                    s.send(head[sent : sent + 1])
            sent += 1
            began = time.monotonic()
            try:
                answer = api.client.get("/v1/runs", headers=api.auth("read"), timeout=ANSWER_WITHIN)
                api.answers[f"{answer.status_code // 100}xx"] += 1
                if answer.status_code != 200:
                    tally.problems.append(f"a GET among slow clients: {answer.status_code}")
            except httpx.HTTPError as exc:
                tally.problems.append(f"a GET among slow clients: {exc!r}")
            wait = 1.0 - (time.monotonic() - began)
            if wait > 0:
                time.sleep(wait)  # the slow clients' pace: a byte a second
    finally:
        for s in [*slow, deaf]:
            s.close()


def idle_connections(api: Api, tally: Tally, count: int = IDLE) -> None:
    """`count` connections (more than the daemon's soft limit on open files when it
    started) that send a byte and wait: meanwhile `/healthz` answers and two ticks' runs
    succeed (each opens its log file)."""
    opened_at = time.time()
    held = []
    try:
        for _ in range(count):
            s = socket.create_connection(("127.0.0.1", api.port), timeout=DEADLINE)
            s.send(b"G")
            held.append(s)
        tally.faults += count
        try:
            api.client.get("/healthz", timeout=ANSWER_WITHIN).raise_for_status()
        except httpx.HTTPError as exc:
            tally.problems.append(f"/healthz with {count} idle connections: {exc!r}")

        def ran() -> list[Any]:
            return [r for r in api.env.runs("tick") if r.due.timestamp() > opened_at and r.ended]

        try:
            wait_for(
                f"two ticks with {count} idle connections", lambda: len(ran()) >= 2, DEADLINE * 3
            )
        except AssertionError as exc:
            tally.problems.append(str(exc))
        failed = [f"{r.id} {r.reason}" for r in ran() if r.state != "success"]
        if failed:
            tally.problems.append(f"runs failed with {count} idle connections: {failed[:2]}")
    finally:
        for s in held:
            s.close()


# --- load -----------------------------------------------------------------------------


def load(api: Api, tally: ApiTally, seconds: float, clients: int = 8) -> None:
    """A window without load, then `clients` threads hammering `GET /v1/runs?limit=200`
    for `seconds`: the answers counted, the firing delays of the ticks due in each."""
    quiet_from = time.time()
    wait_for("a quiet window", lambda: time.time() > quiet_from + seconds, seconds + DEADLINE)
    quiet_to = time.time()
    stop = threading.Event()
    counts: Counter[str] = Counter()
    lock = threading.Lock()

    def hammer() -> None:
        with httpx.Client(base_url=api.url, headers=api.auth("read"), timeout=DEADLINE) as c:
            while not stop.is_set():
                try:
                    key = f"{c.get('/v1/runs', params={'limit': 200}).status_code // 100}xx"
                except httpx.HTTPError as exc:
                    key = type(exc).__name__
                with lock:
                    counts[key] += 1

    threads = [threading.Thread(target=hammer) for _ in range(clients)]
    for t in threads:
        t.start()
    loaded_from = time.time()
    try:
        wait_for("the load's end", lambda: time.time() > loaded_from + seconds, seconds + DEADLINE)
    finally:
        stop.set()
        for t in threads:
            t.join()
    loaded_to = time.time()
    api.answers.update(counts)
    bad = {k: n for k, n in counts.items() if k != "2xx"}
    if bad:
        tally.problems.append(f"under load, answers other than 2xx: {bad}")
    wait_for(
        "the load's last tick to start", lambda: _started_up_to(api.env, loaded_to), DEADLINE * 3
    )
    for name, (start, end) in {
        "quiet": (quiet_from, quiet_to),
        "load": (loaded_from, loaded_to),
    }.items():
        _add_delays(tally, name, delays_ms(api.env, start, end))
    tally.answers = dict(api.answers)


def _started_up_to(env: FaultEnv, until: float) -> bool:
    runs = env.runs("tick")
    return any(r.due.timestamp() >= until and r.started is not None for r in runs)


def delays_ms(env: FaultEnv, start: float, end: float) -> list[float]:
    """Started minus due, in ms, of the ticks due in [start, end)."""
    return [
        (r.started - r.due).total_seconds() * 1000
        for r in env.runs("tick")
        if r.started is not None and start <= r.due.timestamp() < end and r.trigger == "schedule"
    ]


def _add_delays(tally: ApiTally, name: str, samples: list[float]) -> None:
    kept = tally.samples.setdefault(name, [])
    kept.extend(samples)
    tally.delays[name] = summary(kept)


# --- the scenario ----------------------------------------------------------------------


def hostile_api(
    env: FaultEnv, cycles: int, *, big: int = 100 * MB, slow_s: float = 5, load_s: float = 10
) -> ApiTally:
    """`cycles` rounds of every fault against one daemon, then: it still answers, its
    log has no traceback, its ticks were neither lost nor doubled."""
    store = "postgresql" if env.url else "sqlite"
    tally = ApiTally(scenario="API: bad input, big bodies, slow clients, load", store=store)
    began = time.monotonic()
    tick_job(env)
    api = Api(env)
    try:
        for _ in range(cycles):
            tally.cycles += 1
            bad_tokens(api, tally)
            oversized(api, tally, big)
            malformed(api, tally)
            slow_clients(api, tally, slow_s)
            idle_connections(api, tally)
            load(api, tally, load_s)
        _still_answers(api, tally)
    finally:
        api.close()
    log = api.daemon.log()
    if "Traceback" in log:
        tally.problems.append(f"a traceback in the daemon's log: {_traceback(log)}")
    if api.daemon.stop() != 0:
        tally.problems.append(f"the daemon exited {api.daemon.proc.returncode}")
    check(env, tally)
    tally.answers = dict(api.answers)
    tally.seconds = time.monotonic() - began
    return tally


def _still_answers(api: Api, tally: Tally) -> None:
    for path in ("/healthz", "/v1/runs", "/v1/jobs/tick/status"):
        try:
            answer = api.client.get(path, headers=api.auth("read"), timeout=ANSWER_WITHIN)
        except httpx.HTTPError as exc:
            tally.problems.append(f"GET {path} after: {exc!r}")
            continue
        if answer.status_code != 200:
            tally.problems.append(f"GET {path} after: {answer.status_code}")


def _traceback(log: str) -> str:
    at = log.index("Traceback")
    return log[at : at + 2000].strip().splitlines()[-1][:300]


def bench(store: str, cycles: int) -> list[Tally]:
    """bench/faults.py's entry: the scenario for `cycles` rounds on `store` (sqlite or
    postgresql; none when no PostgreSQL server answers), its delays printed."""
    with tempfile.TemporaryDirectory(prefix="runner-faults-api-") as tmp:
        if store == "sqlite":
            tally = _in(FaultEnv(Path(tmp)), cycles)
        else:
            with postgresql_database() as url:
                if url is None:
                    return []
                tally = _in(FaultEnv(Path(tmp), url), cycles)
    for name, figures in tally.delays.items():
        print(f"API firing delay ({store}), {name}: {figures} ms; answers {tally.answers}")
    return [tally]


def _in(env: FaultEnv, cycles: int) -> ApiTally:
    try:
        return hostile_api(env, cycles)
    finally:
        env.stop_all()
