"""Benchmark the HTTP API of `runner daemon --api` (issue 15): real daemons on a loopback
port, driven over HTTP as a dashboard or CI would.

Requests (`requests`): a daemon holding 1,000 jobs, one client.

* `GET /v1/jobs` with 1,000 jobs: p99 under 50 ms.
* `POST /v1/jobs/{job}/runs`: p99 under 20 ms, up to the run's commit (the answer comes
  once the run is in the store).

Event stream (`sse`): with 100 clients connected to `GET /v1/events`, the daemon's
firing delay worsens by less than 10 % (p50 and p99).

* A daemon with `--api` (bench/daemon.py's `DaemonProc`: `--log-format json`, `--grace
  5s`, default `--max-parallel`) and one job `schedule: {every: 1s}` whose task stamps
  its firing delay exactly as bench/daemon.py's scenario 1 (its `delay_job`): delay =
  the task's `$EPOCHREALTIME` - `$RUNNER_SCHEDULED_FOR`.
* (a) no SSE client; (b) 100 clients on `GET /v1/events` (from now), each a real
  streaming HTTP connection reading and parsing every event (httpx.AsyncClient, all in
  one process of their own, spawned once: their CPU is not the daemon's, but on a small
  machine they share its cores, and the output says so).
* The same number of ticks for each (`--ticks`; 30 with --quick, 60 otherwise), in
  blocks of about 10 on the same daemon, in ABBA order (a b, b a, a b, ...), so that
  drift on a noisy shared VM falls on both alike. The clients connect at the start of
  each (b) block and disconnect at its end. A block measures the ticks due after every
  client has its answer's headers (and 0.5 s more), leaving out its first tick (a first
  pass through code, or the clients' first reads: bench/daemon.py leaves out the first
  round the same way), and lasts 1 s past its last measured tick, so that the clients
  have that run's events before they go.
* Checked: every client connected, and each received every event (`run` and `task`) of
  every measured run exactly once by the block's end: its ids against the store's (read
  at the block's end, before the daemon prunes old runs; the run is the one the
  daemon's `run-created` line gives for the due time). Shown: those verdicts, events per
  client and block (min/max), how long after it was written each event first reached a
  client (the server's tail reads the store every 0.2 s), the daemon's CPU (% of a
  core) during (a) and during (b), the clients' process's, and the daemon's log trouble
  (tracebacks counted by their exception lines).
* Target: p50 and p99 of (b) below 1.10 x those of (a), with every client complete.
  p99 of 30 samples is near the maximum: one slow tick moves it, so repeat a run before
  believing a miss.

Usage (from the repository root): `python bench/api.py [--quick] [--strict]`,
`--cases sse` (or `requests`) for one part, `--ticks N --sse-clients N` to size it; it
prints a table and writes bench/results/api.json (or --results DIR/api.json).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import multiprocessing
import os
import re
import resource
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx

from runner.store import open_store

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # bench/common.py, beside this file
import daemon as firing  # bench/daemon.py: the firing-delay job, the daemon, the delays

TOKEN = "bench-token"
JOBS = 1000
TARGETS = {"GET /v1/jobs (1,000 jobs)": 0.050, "POST /v1/jobs/{job}/runs": 0.020}
MANUAL = """apiVersion: runner/v1
kind: Job
name: bench-manual
schedule: {mode: manual, overlap: allow}
tasks:
  - {name: t, run: "true"}
"""

SSE_CLIENTS = 100
SSE_TARGET_RATIO = 1.10  # (b)/(a), for p50 and for p99
BLOCK_TICKS = 10  # measured ticks in one block of (a) or (b)
SETTLE_S = 0.5  # after the clients' headers (or the block before), before a block
DRAIN_S = 1.0  # after a block's last tick: its run's events reach the clients
CONNECT_TIMEOUT_S = 60.0
NO_CLIENT, CLIENTS = "a", "b"
EXACT, MISSING, DUPLICATED = "exactly once", "missing some", "duplicated"
BUG = "the API hit a bug"  # what runner's API logs before an unexpected traceback
ADDRESS = re.compile(r" at 0x[0-9a-f]+")  # an object's, in a log line
EXCEPTION = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Group))\b")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------------------- requests


def start_daemon(root: Path, port: int) -> subprocess.Popen[bytes]:
    config = root / "jobs.d"
    config.mkdir()
    common.write_jobs(config, JOBS)
    (config / "bench-manual.yaml").write_text(MANUAL)
    env = {**os.environ, "RUNNER_API_TOKEN": TOKEN}
    command = [
        *common.runner_command(),
        "daemon",
        "--config",
        str(config),
        "--home",
        str(root / "home"),
        "--api",
        f"127.0.0.1:{port}",
        "--max-parallel",
        "4",
    ]
    return subprocess.Popen(command, env=env, stderr=(root / "daemon.log").open("wb"))


def wait_ready(api: httpx.Client, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            if len(api.get("/v1/jobs").json()) == JOBS + 1:
                return
        except (httpx.HTTPError, ValueError, TypeError):
            pass
        time.sleep(0.2)
    raise SystemExit("the daemon's API did not come up with every job applied")


def timed(fn: Callable[[], httpx.Response], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        began = time.perf_counter()
        response = fn()
        out.append(time.perf_counter() - began)
        if response.status_code >= 300:
            raise SystemExit(f"{response.status_code}: {response.text[:200]}")
    return out


def request_samples(reads: int, posts: int) -> dict[str, list[float]]:
    """The two request cases' samples (seconds)."""
    samples: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="runner-bench-api-") as tmp:
        root, port = Path(tmp), free_port()
        daemon = start_daemon(root, port)
        auth = {"Authorization": f"Bearer {TOKEN}"}
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=auth) as api:
                wait_ready(api, time.monotonic() + 120)
                samples["GET /v1/jobs (1,000 jobs)"] = timed(lambda: api.get("/v1/jobs"), reads)
                samples["POST /v1/jobs/{job}/runs"] = timed(
                    lambda: api.post("/v1/jobs/bench-manual/runs", json={}), posts
                )
        finally:
            daemon.terminate()
            daemon.wait(timeout=60)
    return samples


# ---------------------------------------------------------------------------- SSE clients
# They run in a process of their own (spawned), told over a pipe when to connect and when
# to go; each block's counts come back over it.


def cpu_self() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    return me.ru_utime + me.ru_stime


@dataclass
class Listener:
    """One SSE client: what it received, by kind, and each run's event ids."""

    connected: asyncio.Event = field(default_factory=asyncio.Event)
    kinds: Counter[str] = field(default_factory=Counter)
    by_run: dict[int, list[int]] = field(default_factory=dict)
    seen: set[int] = field(default_factory=set)
    lags_ms: list[float] = field(default_factory=list)  # each event's first arrival
    error: str | None = None

    async def listen(self, http: httpx.AsyncClient) -> None:
        try:
            async with http.stream("GET", "/v1/events") as response:
                if response.status_code != 200:
                    self.error = f"HTTP {response.status_code}"
                    return
                self.connected.set()
                await self.read(response.aiter_lines())
                self.error = "the server ended the stream"
        except httpx.HTTPError as exc:
            self.error = f"{type(exc).__name__}: {exc}"

    async def read(self, lines: Any) -> None:
        kind, data = "", ""
        async for line in lines:
            if line.startswith(":"):
                self.kinds["keep-alive"] += 1
            elif line.startswith("event:"):
                kind = line[6:].strip()
            elif line.startswith("data:"):
                data = line[5:].strip()
            elif not line and kind:
                self.received(kind, data)
                kind, data = "", ""

    def received(self, kind: str, data: str) -> None:
        event = json.loads(data)
        self.kinds[kind] += 1
        if event.get("run") is not None:
            self.by_run.setdefault(event["run"], []).append(event["id"])
        if event["id"] not in self.seen:  # a duplicate's lag would say nothing
            self.seen.add(event["id"])
            written = firing.parse_time(event["at"]).timestamp()
            self.lags_ms.append((time.time() - written) * 1000)

    def report(self) -> dict[str, Any]:
        return {"kinds": dict(self.kinds), "by_run": self.by_run, "error": self.error}


def client_process(conn: Connection, url: str, token: str, clients: int) -> None:
    """The clients' process: a block of listening per `connect` until `quit`."""
    asyncio.run(serve_blocks(conn, url, token, clients))


async def serve_blocks(conn: Connection, url: str, token: str, clients: int) -> None:
    loop = asyncio.get_running_loop()
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=0)
    timeout = httpx.Timeout(30.0, read=None)  # an event stream is quiet between ticks
    auth = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(
        base_url=url, headers=auth, limits=limits, timeout=timeout
    ) as http:
        while await loop.run_in_executor(None, conn.recv) == "connect":
            await listen_block(conn, http, clients)


async def listen_block(conn: Connection, http: httpx.AsyncClient, clients: int) -> None:
    """Connect `clients`, say so, read until told to disconnect, send what each got."""
    loop = asyncio.get_running_loop()
    cpu, began = cpu_self(), time.monotonic()
    listeners = [Listener() for _ in range(clients)]
    tasks = [asyncio.create_task(one.listen(http)) for one in listeners]
    while time.monotonic() - began < CONNECT_TIMEOUT_S:
        if all(one.connected.is_set() or t.done() for one, t in zip(listeners, tasks, strict=True)):
            break
        await asyncio.sleep(0.02)
    connected = sum(one.connected.is_set() for one in listeners)
    conn.send({"connected": connected, "connect_s": round(time.monotonic() - began, 3)})
    await loop.run_in_executor(None, conn.recv)  # "disconnect"
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    conn.send(
        {
            "clients": [one.report() for one in listeners],
            "lags_ms": [x for one in listeners for x in one.lags_ms],
            "cpu_s": cpu_self() - cpu,
        }
    )


class Clients:
    """The SSE clients' process, seen from here."""

    def __init__(self, url: str, clients: int) -> None:
        spawn = multiprocessing.get_context("spawn")  # nothing of this process's state
        self.conn, theirs = spawn.Pipe()
        self.proc = spawn.Process(
            target=client_process, args=(theirs, url, TOKEN, clients), daemon=True
        )
        self.proc.start()
        theirs.close()

    def ask(self, command: str, timeout: float) -> dict[str, Any]:
        self.conn.send(command)
        if not self.conn.poll(timeout):
            raise RuntimeError(f"the SSE clients did not answer {command!r} in {timeout:g} s")
        answer: dict[str, Any] = self.conn.recv()
        return answer

    def close(self) -> None:
        with contextlib.suppress(OSError):  # it has gone already
            self.conn.send("quit")
        self.proc.join(10)
        if self.proc.is_alive():
            self.proc.terminate()
            self.proc.join(5)


# ---------------------------------------------------------------------------- SSE blocks


@dataclass
class Block:
    """A stretch of ticks measured with the clients connected (b) or not (a)."""

    phase: str
    dues: list[str]  # the measured ticks (RFC 3339)
    wanted: int
    seconds: float
    daemon_cpu_s: float
    connected: dict[str, Any] | None = None  # (b): the clients' answer to `connect`
    received: dict[str, Any] | None = None  # (b): what they received
    runs: dict[str, int] = field(default_factory=dict)  # (b): the run made for each due
    stored: dict[int, list[int]] = field(default_factory=dict)  # (b): its events' ids


def block_order(ticks: int) -> Iterator[tuple[str, int]]:
    """(phase, measured ticks) of every block: ABBA, `ticks` for each phase."""
    k = max(1, round(ticks / BLOCK_TICKS))
    sizes = [ticks // k + (1 if i < ticks % k else 0) for i in range(k)]
    for i, size in enumerate(sizes):
        pair = (NO_CLIENT, CLIENTS) if i % 2 == 0 else (CLIENTS, NO_CLIENT)
        for phase in pair:
            yield phase, size


def fired_after(out: Path, after: float) -> list[str]:
    """The scheduled ticks due after `after` (epoch seconds) whose task has run."""
    found = {s.scheduled for s in firing.read_stamps(out) if s.trigger == "schedule"}
    return sorted(s for s in found if firing.parse_time(s).timestamp() > after)


def run_block(
    daemon: firing.DaemonProc, where: tuple[Path, Path], clients: Clients, phase: str, size: int
) -> Block:
    """One block; `where`: the daemon's home and the file the task stamps."""
    home, out = where
    connected = clients.ask("connect", CONNECT_TIMEOUT_S + 10) if phase == CLIENTS else None
    time.sleep(SETTLE_S)
    began, cpu = time.time(), daemon.cpu_seconds()
    firing.wait_until(
        lambda: len(fired_after(out, began)) > size,  # the first is left out
        size + 15,
        lambda: daemon.proc.poll() is None,
    )
    time.sleep(DRAIN_S)
    seconds, cpu = time.time() - began, daemon.cpu_seconds() - cpu
    received = clients.ask("disconnect", 60) if phase == CLIENTS else None
    block = Block(phase, fired_after(out, began)[1 : size + 1], size, seconds, cpu)
    if phase == CLIENTS:  # what the clients should have had, before the daemon prunes it
        block.connected, block.received = connected, received
        block.runs = runs_of(daemon, set(block.dues))
        block.stored = stored_events(home, set(block.runs.values()))
    return block


@dataclass
class Stream:
    """The event-stream case: each phase's delays, the blocks, the daemon's stop and
    what its log said."""

    delays: dict[str, firing.Delays]  # by phase
    blocks: list[Block]
    stop: dict[str, Any]
    notes: list[str]


def sse(root: Path, ticks: int, clients: int) -> Stream:
    """The event-stream case: both phases' delays, the blocks, the daemon's notes."""
    folder = root / "sse"
    config = folder / "jobs.d"
    config.mkdir(parents=True)
    out = folder / "out.txt"
    text = firing.documents([firing.delay_job("tick", out)])
    (config / "tick.yaml").write_text(text, encoding="utf-8")
    port = free_port()
    api = ["--api", f"127.0.0.1:{port}"]
    home = folder / "home"
    with firing.DaemonProc(config, home, args=api, env={"RUNNER_API_TOKEN": TOKEN}) as daemon:
        daemon.wait_event("daemon-up", timeout=firing.UP_TIMEOUT_S)
        pool = Clients(f"http://127.0.0.1:{port}", clients)
        try:
            where = (home, out)
            blocks = [run_block(daemon, where, pool, p, n) for p, n in block_order(ticks)]
        finally:
            pool.close()
        stop = daemon.stop()
    stamps = firing.read_stamps(out)
    delays = {
        phase: firing.runner_delays(
            f"runner --api: 1 job every 1s, {label}",
            stamps,
            daemon,
            {d for b in blocks if b.phase == phase for d in b.dues},
        )
        for phase, label in ((NO_CLIENT, "no SSE client"), (CLIENTS, f"{clients} SSE clients"))
    }
    notes = log_notes(daemon.problems())
    if (note := firing.stop_note(stop)) is not None:
        notes.append(note)
    return Stream(delays, blocks, stop, notes)


def stored_events(home: Path, runs: set[int]) -> dict[int, list[int]]:
    """The ids of every event of each run, as the store holds them."""
    store = open_store(home=home)
    try:
        return {run: [e.id for e in store.events_after(0, run_id=run)] for run in runs}
    finally:
        store.close()


def log_notes(problems: list[str]) -> list[str]:
    """The daemon's log lines that say something went wrong, counted, with its
    tracebacks summed up by their exceptions."""
    bugs = sum(1 for line in problems if line.startswith(BUG))
    errors: Counter[str] = Counter()
    other: Counter[str] = Counter()
    for line in problems:
        text = ADDRESS.sub("", line.strip(" |+-"))[:120]
        if EXCEPTION.match(text) is not None:
            errors[text] += 1
        elif text and not line.startswith((" ", "Traceback", BUG)):
            other[text] += 1
    notes = [f"daemon: {line}" + (f" (x{n})" if n > 1 else "") for line, n in other.most_common(5)]
    if bugs or errors:
        top = "; ".join(f"{text} x{n}" for text, n in errors.most_common(4))
        notes.append(f'daemon: {bugs} "{BUG}" in its log, with tracebacks ({top})')
    return notes


def runs_of(daemon: firing.DaemonProc, dues: set[str]) -> dict[str, int]:
    """The scheduled run made for each due time, by the daemon's log."""
    out = {}
    for _, _, ev in daemon.events("run-created"):
        if ev.get("trigger") == "schedule" and ev.get("due"):
            due = firing.parse_time(ev["due"]).astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            if due in dues:
                out[due] = int(ev["run"])
    return out


def client_check(result: Stream, clients: int) -> dict[str, Any]:
    """Did every client connect, and receive every event of every measured run exactly
    once (the store's ids), before the block ended?"""
    blocks = [b for b in result.blocks if b.phase == CLIENTS]
    verdicts: Counter[str] = Counter()  # one per client and measured run
    totals: list[int] = []  # events of every kind received by one client in one block
    kinds: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    lags: list[float] = []
    for b in blocks:
        got = b.received or {"clients": [], "lags_ms": []}
        lags += got["lags_ms"]
        for c in got["clients"]:
            by_run = {int(k): v for k, v in c["by_run"].items()}
            runs = [b.runs.get(d, 0) for d in b.dues]
            verdicts.update(received(b.stored.get(r, []), by_run.get(r)) for r in runs)
            totals.append(sum(v for k, v in c["kinds"].items() if k != "keep-alive"))
            kinds.update(c["kinds"])
            if c["error"] and c["error"] != "the server ended the stream":
                errors[c["error"]] += 1
    connected = [b.connected["connected"] if b.connected else 0 for b in blocks]
    measured = sum(len(b.dues) for b in blocks)
    return {
        "blocks": len(blocks),
        "connected_min": min(connected, default=0),
        "connect_s_max": max((b.connected or {}).get("connect_s", 0) for b in blocks),
        "measured_runs": measured,
        "stored_events_per_run": sorted({len(v) for b in blocks for v in b.stored.values()}),
        "client_runs": dict(verdicts),  # exactly once / missing / duplicated
        "events_per_block_min": min(totals, default=0),
        "events_per_block_max": max(totals, default=0),
        "events_by_kind": dict(kinds),
        "errors": dict(errors),
        "delivery_lag_ms": common.summary(lags),
        "complete": measured > 0
        and min(connected, default=0) == clients
        and set(verdicts) == {EXACT}
        and verdicts[EXACT] == clients * measured,
    }


def received(stored: list[int], got: list[int] | None) -> str:
    """How one client received one run's events: exactly once, missing some, twice."""
    got = got or []
    if not stored or set(stored) - set(got):
        return MISSING
    return EXACT if len(got) == len(set(got)) else DUPLICATED


def cpu_pct(blocks: list[Block], phase: str) -> float:
    mine = [b for b in blocks if b.phase == phase]
    seconds = sum(b.seconds for b in mine)
    return 100 * sum(b.daemon_cpu_s for b in mine) / seconds if seconds else float("nan")


def clients_cpu_pct(blocks: list[Block]) -> float:
    mine = [b for b in blocks if b.phase == CLIENTS and b.received]
    seconds = sum(b.seconds for b in mine)
    used = sum((b.received or {}).get("cpu_s", 0.0) for b in mine)
    return 100 * used / seconds if seconds else float("nan")


# ---------------------------------------------------------------------------- output


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def request_rows(samples: dict[str, list[float]]) -> tuple[list[list[str]], list[dict[str, Any]]]:
    rows, cases = [], []
    for case, values in samples.items():
        p99, target = common.pct(values, 99), TARGETS[case]
        passed = p99 < target
        p50 = common.pct(values, 50)
        rows.append([case, ms(p50), ms(p99), f"p99 < {target * 1000:g} ms", common.verdict(passed)])
        cases.append(
            {
                "case": case,
                "target_p99_s": target,
                "passed": passed,
                "seconds": common.summary(values),
            }
        )
    return rows, cases


def sse_rows(
    result: Stream, check: dict[str, Any], clients: int
) -> tuple[list[list[str]], list[dict[str, Any]]]:
    a, b = (common.summary(result.delays[p].samples_ms) for p in (NO_CLIENT, CLIENTS))
    if not a["n"] or not b["n"]:
        row = [f"firing delay, {clients} SSE clients vs none", "-", "-", "-", "FAIL"]
        return [row], [{"case": row[0], "passed": False, "note": "no samples"}]
    ratio = {q: b[q] / a[q] for q in ("p50", "p99")}
    passed = all(r < SSE_TARGET_RATIO for r in ratio.values()) and check["complete"]
    target = f"p50, p99 < x{SSE_TARGET_RATIO:.2f}"
    rows = [
        ["firing delay, no SSE client", f"{a['p50']:.1f}", f"{a['p99']:.1f}", "", "-"],
        [f"firing delay, {clients} SSE clients", f"{b['p50']:.1f}", f"{b['p99']:.1f}", "", "-"],
        [
            f"  {clients} SSE clients / none",
            f"x{ratio['p50']:.2f}",
            f"x{ratio['p99']:.2f}",
            target + ("" if check["complete"] else ", clients complete"),
            common.verdict(passed),
        ],
    ]
    cases = [
        {
            "case": f"firing delay, {clients} SSE clients vs none",
            "target_ratio": SSE_TARGET_RATIO,
            "passed": passed,
            "ratio_p50": ratio["p50"],
            "ratio_p99": ratio["p99"],
            "no_client_ms": a,
            "clients_ms": b,
            "clients_complete": check["complete"],
        }
    ]
    return rows, cases


def sse_lines(result: Stream, check: dict[str, Any], clients: int) -> list[str]:
    blocks = result.blocks
    order = " ".join(b.phase for b in blocks)
    lag = check["delivery_lag_ms"]
    verdicts = ", ".join(f"{v} {k}" for k, v in check["client_runs"].items()) or "none"
    lines = [
        f"event stream: blocks in the order {order} (a: no client, b: {clients} clients); "
        f"each block's first tick left out",
        f"clients: {check['connected_min']} of {clients} connected in every block (at most "
        f"{check['connect_s_max']:.2f} s to connect all); each measured run's events (the "
        f"store holds {'/'.join(map(str, check['stored_events_per_run']))} a run), as each "
        f"client got them by its block's end, over {check['measured_runs']} runs x {clients} "
        f"clients: {verdicts}; events per client and block: min "
        f"{check['events_per_block_min']}, max {check['events_per_block_max']} (by kind, all "
        f"clients: {check['events_by_kind']})",
        f"an event reached the clients p50 {lag.get('p50', float('nan')):.0f} ms, p99 "
        f"{lag.get('p99', float('nan')):.0f} ms after it was written (the tail reads every "
        "0.2 s)",
        f"daemon CPU: {cpu_pct(blocks, NO_CLIENT):.1f} % of a core with no client, "
        f"{cpu_pct(blocks, CLIENTS):.1f} % with {clients}; the clients' process "
        f"{clients_cpu_pct(blocks):.1f} %, on the same {os.cpu_count()} CPUs as the daemon "
        "(they compete for them)",
    ]
    if check["errors"]:
        lines.append(f"client errors: {check['errors']}")
    short = [b for b in blocks if len(b.dues) < b.wanted]
    if short:
        lines.append(f"{len(short)} block(s) short of ticks: {[len(b.dues) for b in short]}")
    return lines + [f"problem: {n}" for n in result.notes]


def sse_json(result: Stream, check: dict[str, Any]) -> dict[str, Any]:
    blocks = result.blocks
    return {
        "check": check,
        "daemon_cpu_pct": {"a": cpu_pct(blocks, NO_CLIENT), "b": cpu_pct(blocks, CLIENTS)},
        "clients_cpu_pct": clients_cpu_pct(blocks),
        "blocks": [
            {
                "phase": b.phase,
                "dues": b.dues,
                "seconds": round(b.seconds, 3),
                "daemon_cpu_s": round(b.daemon_cpu_s, 3),
                "connected": b.connected,
                "clients_cpu_s": (b.received or {}).get("cpu_s"),
                "runs": {due: [run, len(b.stored.get(run, []))] for due, run in b.runs.items()},
            }
            for b in blocks
        ],
        "stop": result.stop,
        "notes": result.notes,
    }


# ---------------------------------------------------------------------------- main


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples")
    parser.add_argument(
        "--cases",
        type=lambda s: {x.strip() for x in s.split(",") if x.strip()},
        default={"requests", "sse"},
        help="comma-separated, of requests (GET and POST) and sse (the event stream's "
        "clients against the firing delay); default both",
    )
    parser.add_argument(
        "--ticks", type=int, help="firing delays for each of (a) and (b) (30 quick, else 60)"
    )
    parser.add_argument("--sse-clients", type=int, default=SSE_CLIENTS, help="default 100")
    common.output_args(parser, "api")
    common.strict_arg(parser)
    args = parser.parse_args()
    if not args.cases or not args.cases <= {"requests", "sse"}:
        parser.error("--cases: requests, sse or both")
    if args.ticks is None:
        args.ticks = 30 if args.quick else 60
    if args.ticks < 1 or args.sse_clients < 1:
        parser.error("--ticks and --sse-clients must be at least 1")
    return args


def main() -> int:
    args = parse_args()
    started = dt.datetime.now(dt.UTC)
    reads, posts = (30, 100) if args.quick else (200, 500)
    rows = [["case", "p50 ms", "p99 ms", "target", "result"]]
    cases: list[dict[str, Any]] = []
    extra: dict[str, Any] = {}
    lines: list[str] = []
    if "requests" in args.cases:
        got = request_rows(request_samples(reads, posts))
        rows += got[0]
        cases += got[1]
    if "sse" in args.cases:
        with tempfile.TemporaryDirectory(prefix="runner-bench-api-sse-") as tmp:
            result = sse(Path(tmp), args.ticks, args.sse_clients)
        check = client_check(result, args.sse_clients)
        got = sse_rows(result, check, args.sse_clients)
        rows += got[0]
        cases += got[1]
        lines = sse_lines(result, check, args.sse_clients)
        extra = {
            "sse": sse_json(result, check),
            "delays": [d.as_json() for d in result.delays.values()],  # for compare.py
        }
    print(f"\nrunner daemon --api, {os.cpu_count()} CPUs, clients on loopback\n")
    print(common.markdown_table(rows, left={0, 3, 4}))
    for line in lines:
        print(f"\n{line}" if line is lines[0] else line)
    options = {
        "quick": args.quick,
        "cases": sorted(args.cases),
        "reads": reads,
        "posts": posts,
        "ticks": args.ticks,
        "sse_clients": args.sse_clients,
        "block_ticks": BLOCK_TICKS,
    }
    report = common.new_report("api", started, common.machine(), options, cases=cases, **extra)
    common.write_report(report, common.out_path(args, "api"))
    passed: list[bool | None] = [c["passed"] for c in cases]
    return common.exit_code(args.strict, passed)


if __name__ == "__main__":
    sys.exit(main())
