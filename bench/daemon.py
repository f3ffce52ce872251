"""Benchmark `runner daemon`: firing delay, 1,000 jobs due at once, and a daemon holding
10,000 jobs (change latency, memory, idle CPU), beside APScheduler 3.11.

Usage (from the repository root, with runner installed in the running interpreter):

    python bench/daemon.py                        # every scenario, about 2.5 minutes
    python bench/daemon.py --quick                # fewer samples, about 1.5 minutes
    python bench/daemon.py --scenarios 1,2        # only some scenarios
    python bench/daemon.py --profile /tmp/prof    # each daemon under cProfile (slower!)
    python bench/daemon.py --strict               # exit 1 when a target is missed (CI)

Every scenario starts a fresh daemon (`python -m runner daemon --config DIR --home DIR
--log-format json --grace 5s`) in a new process, on a fresh home and configuration
folder under one temporary folder, and stops it with SIGTERM at the end (SIGKILL when it
has not exited 20 s later; the table's notes say so). Its stderr (one JSON line per
event) is read by a thread here that stamps every line with the time it arrived.

1. Firing delay, one job: `schedule: {every: 1s}`, one task
   `argv: [bash, -c, 'echo "$RUNNER_SCHEDULED_FOR $RUNNER_TRIGGER $RUNNER_JOB
   $EPOCHREALTIME" >> out']` (bash builtins only: no `date` process). Delay = the task's
   `$EPOCHREALTIME` - `$RUNNER_SCHEDULED_FOR`, over the runs triggered `schedule` and due
   after the daemon's `daemon-up` line (a tick that fell while it was still starting
   measures its start-up, not its firing), after a first round left out as a warm-up
   (the first pass through code, as the floor leaves out its first three spawns;
   APScheduler's first round is left out too). The JSON's `left_out` says how many.
   Target: p99 < 10 ms. The bash start-up is inside the delay; the floor row measures it
   (`subprocess.run` of the same command in a new session, as runner spawns, from a time
   taken just before the call).
2. Firing delay, 100 jobs `every: 1s` (due in the same second), `--max-parallel 128`,
   several rounds; p50/p99 over every sample. Target: p99 < 150 ms.
3. 1,000 jobs due at once, `--max-parallel 64`, one `true` task each (argv, no shell).
   The daemon starts on an empty folder; then 10 files of 100 jobs are written whose
   `every` (2h or more, found by search) has its next tick 5 to 8 s later (ticks of
   `every` are anchored at the Unix epoch), so they are applied through the folder watch
   and all fall due at one instant T. Measured from the store after the daemon stopped:
   each task's `started` (written by the daemon just before it spawns the process)
   minus T. Target: the last one < 2 s. The daemon's log stamps say when the tick had
   created the runs and when the last was claimed.
4. 10,000 jobs (100 files of 100; three tasks, labels, `cron: "M H * * *"` at an hour
   at least 10 hours away, so nothing fires), default `--max-parallel`. After start-up
   the daemon is left to settle (until a second passes with under 2 % CPU):
   (a) a file is rewritten (one job's cron minute changed, or a job added, in turns) and
   the time until the `config-applied` line arrives is taken; several repetitions, each
   once the daemon has gone quiet after the one before (no CPU for 0.5 s; how long after
   the write that was, and the CPU used, are reported too: the loop does nothing else
   meanwhile); median. The default `--debounce` (100 ms) is inside it. Target < 500 ms.
   (b) VmRSS of the daemon (/proc/PID/status) after settling, and again after the
   changes; target < 150 MB (10^6 bytes), judged on the larger. (c) idle
   CPU: utime + stime of the daemon (/proc/PID/stat, every thread) over a window with
   nothing to do, as % of one core; target < 1 %. Voluntary + involuntary context
   switches of all its threads over the window are shown too (wake-ups).
5. APScheduler 3.11 (skipped, with a message, when not importable): a
   BackgroundScheduler in this process, ThreadPoolExecutor (10 threads for one job, 128
   for 100 jobs), IntervalTrigger(seconds=1) started on a whole second, misfire grace
   off, coalesce off; each job `subprocess.run`s the same bash command in a new session.
   Its scheduled time is the `scheduled_run_time` of the job's EVENT_JOB_EXECUTED events
   (the k-th call of a job is its k-th event: max_instances=1). Same delay definition.

The delay table also splits runner's delay with the daemon's own log stamps
(millisecond, truncated): `run-created` - due and `run-started` - due. A job with no
active run has its tick's run made 15 ms ahead (negative `created`); `run-started` is
said once the pass's tasks have been spawned (nothing is written to the log before a
task starts), so it marks the end of the pass, not its steps. p99 is interpolated between
samples (inclusive), so with 25 samples it is near the maximum. On a 2-core VM figures
swing between runs: repeat before drawing conclusions. Results go to
bench/results/daemon.json (ignored by git). Linux only (/proc).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import IO, Any

from runner.daemon.service import DEBOUNCE
from runner.domain import RunState
from runner.spec.durations import format_seconds
from runner.spec.schedules import every_times
from runner.store import open_store

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # bench/common.py, beside this file

NAME = "daemon"  # bench/results/daemon.json

TARGET_ONE_P99_MS = 10.0
TARGET_HUNDRED_P99_MS = 150.0
TARGET_THOUSAND_S = 2.0
TARGET_CHANGE_MS = 500.0
TARGET_RSS_MB = 150.0
TARGET_IDLE_PCT = 1.0

GRACE = "5s"  # --grace of every daemon: tasks here end in milliseconds
STOP_WAIT_S = 20.0  # after SIGTERM, before SIGKILL
UP_TIMEOUT_S = 120.0  # for daemon-up (10,000 jobs applied at start)
CLK_TCK = os.sysconf("SC_CLK_TCK")
HUNDRED_PARALLEL = 128
DEBOUNCE_MS = round(DEBOUNCE * 1000)  # the daemon's default --debounce
THOUSAND_PARALLEL = 64
THOUSAND_MARGIN_S = 5.0  # the tick of the 1,000 jobs falls at least this long after writing
BIG_FILES, BIG_PER_FILE = 100, 100
SETTLE_PCT = 2.0  # "settled": a second with less CPU than this
SETTLE_MAX_S = 120.0
CHANGE_GAP_S = 0.5  # after the daemon went quiet

ECHO = 'echo "$RUNNER_SCHEDULED_FOR $RUNNER_TRIGGER $RUNNER_JOB $EPOCHREALTIME" >> {out}'


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


WARMUP = 1  # rounds of ticks left out at the start of a firing-delay case (runner, APScheduler)


def parse_time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


# ---------------------------------------------------------------------------- daemon


class DaemonProc:
    """`runner daemon` in a new process; its stderr lines, each stamped on arrival."""

    def __init__(
        self,
        config: Path,
        home: Path,
        *,
        max_parallel: int | None = None,
        profile: Path | None = None,
        args: Sequence[str] = (),
        env: dict[str, str] | None = None,
    ) -> None:
        argv = [sys.executable]
        if profile is not None:
            profile.parent.mkdir(parents=True, exist_ok=True)
            argv += ["-m", "cProfile", "-o", str(profile)]
        argv += ["-m", "runner", "daemon", "--config", str(config), "--home", str(home)]
        argv += ["--grace", GRACE, "--log-format", "json"]
        if max_parallel is not None:
            argv += ["--max-parallel", str(max_parallel)]
        argv += args  # more options (bench/api.py: --api)
        self.lines: list[tuple[float, str]] = []
        self.cond = threading.Condition()
        self.spawned = time.time()
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env={**os.environ, **(env or {}), "LC_ALL": "C"},  # tasks: LANG only
            cwd=str(config.parent),
        )
        self.pid = self.proc.pid
        self.stopped: dict[str, Any] | None = None
        self.reader = threading.Thread(target=self._read, args=(self.proc.stderr,), daemon=True)
        self.reader.start()

    def __enter__(self) -> DaemonProc:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def _read(self, stream: IO[bytes]) -> None:
        for raw in stream:
            at = time.time()
            with self.cond:
                self.lines.append((at, raw.decode("utf-8", "replace").rstrip("\n")))
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def events(self, name: str, since: int = 0) -> list[tuple[int, float, dict[str, Any]]]:
        """(line index, arrival time, fields) of every `name` event from line `since`."""
        marker = f'"event": "{name}"'
        with self.cond:
            lines = self.lines[since:]
        out = []
        for i, (at, text) in enumerate(lines, start=since):
            if marker in text:
                out.append((i, at, json.loads(text)))
        return out

    def count(self, name: str) -> int:
        marker = f'"event": "{name}"'
        with self.cond:
            return sum(1 for _, text in self.lines if marker in text)

    def wait_event(
        self,
        name: str,
        *,
        timeout: float,
        since: int = 0,
        match: Callable[[dict[str, Any]], bool] = lambda _d: True,
    ) -> tuple[int, float, dict[str, Any]]:
        deadline = time.monotonic() + timeout
        marker = f'"event": "{name}"'
        seen = since
        while True:
            with self.cond:
                while len(self.lines) <= seen:
                    left = deadline - time.monotonic()
                    if left <= 0 or self.proc.poll() is not None:
                        break
                    self.cond.wait(min(left, 0.5))
                fresh = self.lines[seen:]
            for i, (at, text) in enumerate(fresh, start=seen):
                if marker in text:
                    data = json.loads(text)
                    if match(data):
                        return i, at, data
            seen += len(fresh)
            if not fresh and (time.monotonic() >= deadline or self.proc.poll() is not None):
                state = "exited" if self.proc.poll() is not None else "still running"
                raise RuntimeError(
                    f"no {name} event from the daemon (pid {self.pid}, {state}) in {timeout:g} s; "
                    f"its last lines: {self.tail()}"
                )

    def tail(self, n: int = 8) -> list[str]:
        with self.cond:
            return [text for _, text in self.lines[-n:]]

    def problems(self) -> list[str]:
        """Lines that are not JSON events, and events that say something went wrong."""
        bad = {"config-error", "config-rejected", "run-stale", "run-discarded", "hold-placed"}
        out = []
        with self.cond:
            lines = list(self.lines)
        for _, text in lines:
            try:
                data = json.loads(text)
            except ValueError:
                out.append(text)
                continue
            if data.get("event") in bad or (
                data.get("event") == "run-ended" and data.get("state") != "success"
            ):
                out.append(text)
        return out

    def cpu_seconds(self) -> float:
        with open(f"/proc/{self.pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime (fields 14, 15)

    def memory_mb(self) -> dict[str, float]:
        """VmRSS and VmHWM (peak) in MB (10^6 bytes)."""
        out = {}
        with open(f"/proc/{self.pid}/status", encoding="ascii") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    out[key] = int(value.split()[0]) * 1024 / 1e6
        return out

    def switches(self) -> int:
        """Context switches of all the daemon's threads so far."""
        total = 0
        for task in Path(f"/proc/{self.pid}/task").iterdir():
            try:
                text = (task / "status").read_text(encoding="ascii")
            except OSError:
                continue
            for line in text.splitlines():
                if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                    total += int(line.split()[1])
        return total

    def threads(self) -> int:
        return len(list(Path(f"/proc/{self.pid}/task").iterdir()))

    def stop(self) -> dict[str, Any]:
        if self.stopped is not None:
            return self.stopped
        started = time.monotonic()
        killed = False
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_WAIT_S)
            except subprocess.TimeoutExpired:
                killed = True
                self.proc.kill()
                self.proc.wait()
        self.reader.join(5)
        if self.proc.stderr is not None:
            self.proc.stderr.close()
        stopped = bool(self.events("daemon-stopped"))
        self.stopped = {
            "exit_code": self.proc.returncode,
            "stop_s": round(time.monotonic() - started, 3),
            "sigkill": killed,
            "daemon_stopped_logged": stopped,
        }
        return self.stopped


def stop_note(stop: dict[str, Any]) -> str | None:
    if stop["sigkill"]:
        return f"did not exit {STOP_WAIT_S:g} s after SIGTERM: SIGKILLed"
    if stop["exit_code"] != 0 or not stop["daemon_stopped_logged"]:
        return (
            f"exit code {stop['exit_code']} after SIGTERM (daemon-stopped logged: "
            f"{stop['daemon_stopped_logged']})"
        )
    return None


# ---------------------------------------------------------------------------- files


def one_task_job(name: str, schedule: str, task: str, argv: list[str]) -> str:
    """A job of one task, run with `argv` (no shell)."""
    return "\n".join(
        [
            "apiVersion: runner/v1",
            "kind: Job",
            f"name: {name}",
            f"schedule: {schedule}",
            "tasks:",
            f"  - name: {task}",
            f"    argv: {json.dumps(argv)}",
        ]
    )


def delay_job(name: str, out: Path) -> str:
    argv = ["bash", "-c", ECHO.format(out=shlex.quote(str(out)))]
    return one_task_job(name, "{every: 1s}", "stamp", argv)


def true_job(name: str, schedule: str) -> str:
    return one_task_job(name, schedule, "t", ["true"])


def big_job(i: int, cron: str) -> str:
    """A job as a person writes it: labels, a cron in UTC, three tasks in a chain."""
    return "\n".join(
        [
            "apiVersion: runner/v1",
            "kind: Job",
            f"name: job-{i:05d}",
            f"description: Export batch {i} to the warehouse",
            f"labels: {{team: {('data', 'web', 'ops', 'billing')[i % 4]}, tier: gold}}",
            "schedule:",
            f'  cron: "{cron}"',
            "  timezone: UTC",
            "tasks:",
            "  - name: extract",
            f'    run: ./extract.sh --batch {i} --day "$RUNNER_SCHEDULED_FOR"',
            "  - name: transform",
            '    argv: [python3, transform.py, "--strict"]',
            "    timeout: 20m",
            "  - name: load",
            "    run: ./load.sh",
            "    retries: {limit: 2, delay: 30s}",
        ]
    )


def documents(texts: Sequence[str]) -> str:
    return "\n---\n".join(texts) + "\n"


@dataclass(frozen=True)
class Stamp:
    scheduled: str  # RFC 3339, or "-" (APScheduler: resolved by token)
    trigger: str
    job: str
    started: float  # epoch seconds, the task's $EPOCHREALTIME


def read_stamps(path: Path) -> list[Stamp]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) == 4:
            out.append(Stamp(parts[0], parts[1], parts[2], float(parts[3].replace(",", "."))))
    return out


def wait_until(
    ready: Callable[[], bool], timeout: float, alive: Callable[[], bool] = lambda: True
) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and alive():
        if ready():
            return True
        time.sleep(0.2)
    return ready()


# ---------------------------------------------------------------------------- results


@dataclass
class Delays:
    """Firing delays of one case, in ms, with what else was seen."""

    case: str
    kind: str  # runner, apscheduler or floor
    samples_ms: list[float]
    created_ms: list[float] = field(default_factory=list)  # runner: run-created - due
    started_ms: list[float] = field(default_factory=list)  # runner: run-started - due
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "case": self.case,
            "kind": self.kind,
            "delay_ms": common.summary(self.samples_ms),
            "run_created_ms": common.summary(self.created_ms),
            "run_started_ms": common.summary(self.started_ms),
            "samples_ms": [round(x, 3) for x in self.samples_ms],
            "notes": self.notes,
            **self.extra,
        }


def runner_delays(case: str, stamps: list[Stamp], daemon: DaemonProc, dues: set[str]) -> Delays:
    """Delays of the scheduled runs due at `dues`, split with the daemon's log stamps."""
    samples = [
        (s.started - parse_time(s.scheduled).timestamp()) * 1000
        for s in stamps
        if s.trigger == "schedule" and s.scheduled in dues
    ]
    due_of: dict[int, dt.datetime] = {}
    created, started = [], []
    for _, _, ev in daemon.events("run-created"):
        due = parse_time(ev["due"])
        if ev.get("trigger") == "schedule" and _rfc(due) in dues:
            due_of[ev["run"]] = due
            created.append((parse_time(ev["time"]) - due).total_seconds() * 1000)
    for _, _, ev in daemon.events("run-started"):
        if ev["run"] in due_of:
            started.append((parse_time(ev["time"]) - due_of[ev["run"]]).total_seconds() * 1000)
    other = sum(1 for s in stamps if s.trigger != "schedule")
    notes = [f"{other} run(s) not triggered by the schedule left out"] if other else []
    return Delays(case, "runner", samples, created, started, notes)


def _rfc(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------------- floor


def bash_floor(samples: int) -> Delays:
    """subprocess.run of the task's bash command in a new session: from a time taken just
    before the call to the child's $EPOCHREALTIME (the spawn and bash's start-up)."""
    argv = ["bash", "-c", 'echo "$EPOCHREALTIME"']
    env = {**os.environ, "LC_ALL": "C"}
    out = []
    for _ in range(samples + 3):
        before = time.time()
        done = subprocess.run(argv, capture_output=True, text=True, env=env, start_new_session=True)
        out.append((float(done.stdout) - before) * 1000)
    return Delays("floor: bash echo spawn, new session", "floor", out[3:])  # 3 warm-ups


# ---------------------------------------------------------------------------- scenarios 1, 2


def runner_firing(
    root: Path, name: str, jobs: int, rounds: int, max_parallel: int | None, profile: Path | None
) -> Delays:
    """`jobs` jobs every 1s; the first `rounds` seconds that fire (all jobs each)."""
    folder = root / name
    config = folder / "jobs.d"
    config.mkdir(parents=True)
    out = folder / "out.txt"
    texts = [delay_job(f"tick-{i:03d}", out) for i in range(jobs)]
    (config / "ticks.yaml").write_text(documents(texts), encoding="utf-8")
    with DaemonProc(config, folder / "home", max_parallel=max_parallel, profile=profile) as daemon:
        daemon.wait_event("daemon-up", timeout=UP_TIMEOUT_S)
        ((_, _, up),) = list(daemon.events("daemon-up"))
        ready = parse_time(up["time"])

        def fired() -> list[str]:  # the ticks due once the daemon was up, that fired
            found = {s.scheduled for s in read_stamps(out) if s.trigger == "schedule"}
            return sorted(s for s in found if parse_time(s) > ready)

        def enough() -> bool:  # a second past the last round: it has all it will get
            return len(fired()) > WARMUP + rounds

        wait_until(enough, rounds + 15, lambda: daemon.proc.poll() is None)
        memory = daemon.memory_mb() if daemon.proc.poll() is None else {}
        stop = daemon.stop()
    stamps = read_stamps(out)
    dues = fired()[WARMUP : WARMUP + rounds]
    early = {s.scheduled for s in stamps if s.trigger == "schedule" and s.scheduled not in dues}
    early = {s for s in early if parse_time(s) <= ready or s < min(dues, default="")}
    result = runner_delays(
        f"runner: {jobs} job{'s' if jobs > 1 else ''} every 1s", stamps, daemon, set(dues)
    )
    result.extra["left_out"] = len(early)  # ticks due before daemon-up, or in the warm-up
    expected = jobs * rounds
    if len(result.samples_ms) < expected:
        result.notes.append(
            f"{expected - len(result.samples_ms)} of {expected} expected runs missing "
            f"(skipped: {daemon.count('tick-skipped')} tick-skipped events)"
        )
    result.extra.update(
        jobs=jobs,
        rounds=len(dues),
        max_parallel=max_parallel,
        stop=stop,
        dues=dues,
        memory_mb=memory,
    )
    if (note := stop_note(stop)) is not None:
        result.notes.append(note)
    result.notes += [f"daemon: {p}" for p in daemon.problems()[:5]]
    return result


def aps_firing(
    aps: dict[str, ModuleType], root: Path, name: str, jobs: int, rounds: int, workers: int
) -> Delays:
    """The same jobs on APScheduler's BackgroundScheduler, the same command spawned."""
    folder = root / name
    folder.mkdir(parents=True)
    out = folder / "out.txt"
    argv = ["bash", "-c", ECHO.format(out=shlex.quote(str(out)))]
    base = {**os.environ, "LC_ALL": "C"}
    lock = threading.Lock()
    calls: dict[str, int] = defaultdict(int)
    scheduled: dict[str, list[float]] = defaultdict(list)
    trouble: list[str] = []

    def fire(job: str) -> None:
        with lock:
            k = calls[job]
            calls[job] += 1
        env = {**base, "RUNNER_SCHEDULED_FOR": "-", "RUNNER_TRIGGER": "aps"}
        env["RUNNER_JOB"] = f"{job}#{k}"
        subprocess.run(argv, env=env, start_new_session=True, check=False)

    events = aps["events"]

    def executed(event: Any) -> None:
        with lock:
            scheduled[event.job_id].append(event.scheduled_run_time.timestamp())

    def failed(event: Any) -> None:
        trouble.append(f"{type(event).__name__} code {event.code} job {event.job_id}")

    pool = aps["executors.pool"].ThreadPoolExecutor(max_workers=workers)
    scheduler = aps["schedulers.background"].BackgroundScheduler(
        executors={"default": pool},
        job_defaults={"misfire_grace_time": None, "coalesce": False, "max_instances": 1},
        timezone=dt.UTC,
    )
    scheduler.add_listener(executed, events.EVENT_JOB_EXECUTED | events.EVENT_JOB_ERROR)
    scheduler.add_listener(failed, events.EVENT_JOB_MISSED | events.EVENT_JOB_MAX_INSTANCES)
    scheduler.start()
    try:
        first = dt.datetime.fromtimestamp(math.floor(time.time()) + 2, dt.UTC)
        for i in range(jobs):
            job = f"tick-{i:03d}"
            scheduler.add_job(
                fire, "interval", seconds=1, start_date=first, args=[job], id=job, name=job
            )
        wait_until(lambda: len(read_stamps(out)) >= jobs * (WARMUP + rounds), rounds + 15)
    finally:
        scheduler.shutdown(wait=True)
    samples = []
    for stamp in read_stamps(out):
        job, _, k = stamp.job.partition("#")
        times = scheduled.get(job, [])
        if WARMUP <= int(k) < len(times):
            samples.append((stamp.started - times[int(k)]) * 1000)
    samples = samples[: jobs * rounds]
    result = Delays(
        f"APScheduler: {jobs} job{'s' if jobs > 1 else ''} every 1s", "apscheduler", samples
    )
    result.extra.update(jobs=jobs, workers=workers)
    if trouble:
        result.notes.append(f"{len(trouble)} APScheduler events: {trouble[:3]}")
    return result


# ---------------------------------------------------------------------------- scenario 3


def common_tick(at_least: float) -> tuple[int, int]:
    """An `every` of 2 h or more whose next tick (anchored at the epoch) falls soon after
    `at_least` (epoch seconds), usually within a second or two: (its seconds, the tick)."""
    best: tuple[float, int, int] | None = None
    for every in range(7_200, 7 * 86_400):
        due = math.ceil(at_least / every) * every
        if best is None or due - at_least < best[0]:
            best = (due - at_least, every, due)
            if best[0] <= 1.0:
                break
    assert best is not None
    return best[1], best[2]


def thousand(root: Path, jobs: int, profile: Path | None) -> dict[str, Any]:
    folder = root / "thousand"
    config = folder / "jobs.d"
    config.mkdir(parents=True)
    home = folder / "home"
    notes: list[str] = []
    with DaemonProc(config, home, max_parallel=THOUSAND_PARALLEL, profile=profile) as daemon:
        up, _, _ = daemon.wait_event("daemon-up", timeout=UP_TIMEOUT_S)
        written = time.time()
        every, due = common_tick(written + THOUSAND_MARGIN_S)
        # check the interval with runner's own tick maths
        after = dt.datetime.fromtimestamp(written, dt.UTC)
        tick = next(every_times(every, after=after)).timestamp()
        if tick != due:
            raise AssertionError(f"every {every}s: runner ticks at {tick}, expected {due}")
        schedule = f"{{every: {format_seconds(every)}}}"
        per_file = 100
        for f in range(math.ceil(jobs / per_file)):
            names = range(f * per_file, min(jobs, (f + 1) * per_file))
            text = documents([true_job(f"burst-{i:04d}", schedule) for i in names])
            (config / f"burst-{f:02d}.yaml").write_text(text, encoding="utf-8")
        _, applied_at, applied = daemon.wait_event(
            "config-applied", since=up, timeout=due - time.time() + 10
        )
        cpu_before = daemon.cpu_seconds()  # the apply's child is not counted: it has ended
        if applied_at >= due:
            notes.append(
                f"the 1,000 jobs were applied {applied_at - due:.2f} s after their tick: "
                "no run could fire"
            )
        wait_until(
            lambda: daemon.count("run-ended") >= jobs,
            due - time.time() + 30,
            lambda: daemon.proc.poll() is None,
        )
        burst_cpu = daemon.cpu_seconds() - cpu_before  # steadier than the wall clock
        stop = daemon.stop()
    store = open_store(home=home)
    try:
        due_at = dt.datetime.fromtimestamp(due, dt.UTC)
        runs = store.history(since=due_at, until=due_at + dt.timedelta(seconds=1), limit=10 * jobs)
    finally:
        store.close()
    # the daemon's log stamps (ms): when the tick had created each run, when it was claimed
    logged = {
        name: [
            (parse_time(ev["time"]) - due_at).total_seconds()
            for _, _, ev in daemon.events(name)
            if name == "run-started" or (ev.get("due") and parse_time(ev["due"]) == due_at)
        ]
        for name in ("run-created", "run-started")
    }
    started = [
        (t.started - due_at).total_seconds() for r in runs for t in r.tasks if t.started is not None
    ]
    ended = [
        (t.ended - due_at).total_seconds() for r in runs for t in r.tasks if t.ended is not None
    ]
    ok = sum(1 for r in runs if r.state == RunState.SUCCESS)
    if len(started) < jobs:
        notes.append(f"only {len(started)} of {jobs} tasks started")
    if ok < jobs:
        notes.append(f"{ok} of {jobs} runs succeeded")
    if (note := stop_note(stop)) is not None:
        notes.append(note)
    notes += [f"daemon: {p}" for p in daemon.problems()[:5]]
    return {
        "jobs": jobs,
        "max_parallel": THOUSAND_PARALLEL,
        "every": format_seconds(every),
        "due": _rfc(due_at),
        "written_before_due_s": round(due - written, 3),
        "apply_s": round(applied_at - written, 3),
        "applied_message": applied.get("message"),
        "runs": len(runs),
        "succeeded": ok,
        "burst_cpu_s": round(burst_cpu, 3),
        "run_created_logged_s": common.summary(logged["run-created"]),
        "run_started_logged_s": common.summary(logged["run-started"]),
        "task_started_s": common.summary(started),
        "task_ended_s": common.summary(ended),
        "last_started_s": max(started) if len(started) >= jobs else None,
        "stop": stop,
        "notes": notes,
    }


# ---------------------------------------------------------------------------- scenario 4


def far_hour() -> int:
    return (utc_now().hour + 12) % 24


def write_big(config: Path, hour: int) -> list[list[str]]:
    """100 files of 100 jobs; returns each file's job texts."""
    files = []
    for f in range(BIG_FILES):
        texts = [
            big_job(i, f"{i % 60} {hour} * * *")
            for i in range(f * BIG_PER_FILE, (f + 1) * BIG_PER_FILE)
        ]
        (config / f"batch-{f:03d}.yaml").write_text(documents(texts), encoding="utf-8")
        files.append(texts)
    return files


def settle(daemon: DaemonProc) -> float:
    """Wait until a second passes with the daemon under SETTLE_PCT % CPU; how long it took."""
    started = time.monotonic()
    before = daemon.cpu_seconds()
    while time.monotonic() - started < SETTLE_MAX_S and daemon.proc.poll() is None:
        time.sleep(1.0)
        now = daemon.cpu_seconds()
        if (now - before) * 100 < SETTLE_PCT:
            return time.monotonic() - started
        before = now
    raise RuntimeError(f"the daemon did not settle in {SETTLE_MAX_S:g} s: {daemon.tail()}")


def busy_until(daemon: DaemonProc, quiet_s: float = 0.5, timeout: float = 60.0) -> float:
    """When (epoch seconds) the daemon last used CPU before `quiet_s` without any: the end
    of the work a change set off (CPU time moves in 10 ms ticks; polled every 20 ms)."""
    last_cpu, last_change = daemon.cpu_seconds(), time.time()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.02)
        cpu = daemon.cpu_seconds()
        if cpu != last_cpu:
            last_cpu, last_change = cpu, time.time()
        elif time.time() - last_change >= quiet_s:
            return last_change
    raise RuntimeError(f"the daemon was still busy {timeout:g} s after a change")


def ten_thousand(root: Path, idle_s: float, changes: int, profile: Path | None) -> dict[str, Any]:
    folder = root / "ten-thousand"
    config = folder / "jobs.d"
    config.mkdir(parents=True)
    hour = far_hour()
    files = write_big(config, hour)
    notes: list[str] = []
    with DaemonProc(config, folder / "home", profile=profile) as daemon:
        _, up_at, up_event = daemon.wait_event("daemon-up", timeout=UP_TIMEOUT_S)
        start_s = up_at - daemon.spawned
        start_cpu = daemon.cpu_seconds()
        settled_s = settle(daemon)
        settle_cpu = daemon.cpu_seconds() - start_cpu
        mem_loaded = daemon.memory_mb()

        # (c) idle CPU
        cpu0, sw0, t0 = daemon.cpu_seconds(), daemon.switches(), time.monotonic()
        time.sleep(idle_s)
        cpu1, sw1, t1 = daemon.cpu_seconds(), daemon.switches(), time.monotonic()
        window = t1 - t0
        idle_pct = (cpu1 - cpu0) / window * 100
        threads = daemon.threads()

        # (a) change latency
        latencies, stamped, cpu_per_change, messages = [], [], [], []
        child_peaks: list[float] = []  # each apply runs in a child: its own peak
        busy: list[float] = []
        since = len(daemon.lines)
        for rep in range(changes):
            f = (rep * 37) % BIG_FILES
            texts = list(files[f])
            if rep % 2 == 0:
                i = f * BIG_PER_FILE + rep % BIG_PER_FILE
                texts[rep % BIG_PER_FILE] = big_job(i, f"{(i + 17 + rep) % 60} {hour} * * *")
                expect = "0 added, 1 changed"
            else:
                texts.append(big_job(50_000 + rep, f"7 {hour} * * *"))
                expect = "1 added, 0 changed"
            files[f] = texts
            cpu_before = daemon.cpu_seconds()
            wrote = time.time()
            (config / f"batch-{f:03d}.yaml").write_text(documents(texts), encoding="utf-8")
            since, at, event = daemon.wait_event(
                "config-applied",
                since=since,
                timeout=30,
                match=lambda d: "(change)" in d["message"],
            )
            since += 1
            quiet = busy_until(daemon)
            latencies.append((at - wrote) * 1000)
            stamped.append((parse_time(event["time"]).timestamp() - wrote) * 1000)
            busy.append(quiet - wrote)
            cpu_per_change.append(daemon.cpu_seconds() - cpu_before)
            messages.append(event["message"])
            child_peaks.append(float(event.get("apply_peak_mb") or 0))
            if not event["message"].startswith(expect):
                notes.append(f"change {rep + 1}: expected {expect!r}, got {event['message']!r}")
            time.sleep(CHANGE_GAP_S)
        extra_applies = len(daemon.events("config-applied", since)) + len(
            daemon.events("config-rejected", since)
        )
        if extra_applies:
            notes.append(f"{extra_applies} more config-applied/-rejected event(s) than changes")
        mem_after = daemon.memory_mb()
        stop = daemon.stop()
    if (note := stop_note(stop)) is not None:
        notes.append(note)
    notes += [f"daemon: {p}" for p in daemon.problems()[:5]]
    rss = max(mem_loaded["VmRSS"], mem_after["VmRSS"])
    return {
        "jobs": BIG_FILES * BIG_PER_FILE,
        "files": BIG_FILES,
        "cron_hour_utc": hour,
        "up_message": up_event.get("message"),
        "startup_s": round(start_s, 3),
        "settle_s": round(settled_s, 3),
        "settle_cpu_s": round(settle_cpu, 3),
        "memory_loaded_mb": mem_loaded,
        "memory_after_changes_mb": mem_after,
        "rss_mb": rss,
        "idle_window_s": round(window, 3),
        "idle_cpu_s": round(cpu1 - cpu0, 3),
        "idle_cpu_pct": idle_pct,
        "idle_switches_per_s": (sw1 - sw0) / window,
        "threads": threads,
        "change_ms": latencies,
        "change_ms_by_daemon_stamp": stamped,
        "change_median_ms": statistics.median(latencies) if latencies else None,
        "change_cpu_s": cpu_per_change,
        "change_busy_s": busy,
        "change_messages": messages,
        "debounce_ms": DEBOUNCE_MS,
        "apply_child_peak_mb": max(child_peaks, default=0.0),
        "stop": stop,
        "notes": notes,
    }


# ---------------------------------------------------------------------------- output


def ms(value: float | None) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.1f}"


@dataclass
class Row:
    scenario: str
    measured: str
    target: str
    passed: bool | None
    value: float | None = None
    unit: str = ""

    def as_json(self) -> dict[str, Any]:
        keys = ("scenario", "measured", "value", "unit", "target", "passed")
        return {k: getattr(self, k) for k in keys}


def delay_row(d: Delays, target_ms: float, expected: int) -> Row:
    s = common.summary(d.samples_ms)
    if not d.samples_ms:
        return Row(d.case, "no samples", f"p99 < {target_ms:g} ms", False)
    short = f", {expected - s['n']} missing" if s["n"] < expected else ""
    return Row(
        f"{d.case}: firing delay",
        f"p50 {s['p50']:.1f} ms, p99 {s['p99']:.1f} ms (n={s['n']}{short})",
        f"p99 < {target_ms:g} ms",
        s["p99"] < target_ms and s["n"] >= expected,
        s["p99"],
        "ms",
    )


def main_rows(results: dict[str, Any], expect: dict[str, int]) -> list[Row]:
    rows: list[Row] = []
    if "one" in results:
        rows.append(delay_row(results["one"], TARGET_ONE_P99_MS, expect["one"]))
    if "hundred" in results:
        rows.append(delay_row(results["hundred"], TARGET_HUNDRED_P99_MS, expect["hundred"]))
    if "thousand" in results:
        t = results["thousand"]
        last = t["last_started_s"]
        st, en = t["task_started_s"], t["task_ended_s"]
        measured = (
            f"last started {last:.2f} s after due (p50 {st['p50']:.2f} s; "
            f"all ended by {en['max']:.2f} s)"
            if last is not None
            else f"{st.get('n', 0)} of {t['jobs']} started"
        )
        rows.append(
            Row(
                f"runner: {t['jobs']:,} jobs due at once, max-parallel {t['max_parallel']}",
                measured,
                f"all started < {TARGET_THOUSAND_S:g} s",
                last is not None and last < TARGET_THOUSAND_S,
                last,
                "s",
            )
        )
    if "big" in results:
        b = results["big"]
        lat = b["change_ms"]
        rows.append(
            Row(
                f"runner: {b['jobs']:,} jobs, file changed -> config-applied",
                f"median {statistics.median(lat):.0f} ms (min {min(lat):.0f}, max "
                f"{max(lat):.0f}; n={len(lat)}; debounce {b['debounce_ms']} ms included)",
                f"< {TARGET_CHANGE_MS:g} ms",
                statistics.median(lat) < TARGET_CHANGE_MS,
                statistics.median(lat),
                "ms",
            )
        )
        rows.append(
            Row(
                f"runner: {b['jobs']:,} jobs, daemon RSS",
                f"{b['memory_loaded_mb']['VmRSS']:.0f} MB settled, "
                f"{b['memory_after_changes_mb']['VmRSS']:.0f} MB after changes "
                f"(peak {b['memory_after_changes_mb']['VmHWM']:.0f} MB; each apply's "
                f"child, gone after: {b.get('apply_child_peak_mb', 0):.0f} MB)",
                f"< {TARGET_RSS_MB:g} MB",
                b["rss_mb"] < TARGET_RSS_MB,
                b["rss_mb"],
                "MB",
            )
        )
        rows.append(
            Row(
                f"runner: {b['jobs']:,} jobs, idle CPU",
                f"{b['idle_cpu_pct']:.2f} % of a core ({b['idle_cpu_s']:.2f} s CPU in "
                f"{b['idle_window_s']:.0f} s; {b['idle_switches_per_s']:.1f} switches/s)",
                f"< {TARGET_IDLE_PCT:g} %",
                b["idle_cpu_pct"] < TARGET_IDLE_PCT,
                b["idle_cpu_pct"],
                "%",
            )
        )
    return rows


def main_table(rows: list[Row]) -> str:
    cells = [("scenario", "measured", "target", "result")]
    cells += [(r.scenario, r.measured, r.target, common.verdict(r.passed)) for r in rows]
    return common.markdown_table(cells, left={0, 1, 2})


def delay_table(delays: list[Delays]) -> str:
    cells = [
        (
            "case",
            "n",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "max ms",
            "created p50/p99 ms",
            "run-started p50/p99 ms",
        )
    ]
    for d in delays:
        s = common.summary(d.samples_ms)
        c, st = common.summary(d.created_ms), common.summary(d.started_ms)
        cells.append(
            (
                d.case,
                str(s["n"]),
                ms(s.get("p50")),
                ms(s.get("p90")),
                ms(s.get("p99")),
                ms(s.get("max")),
                f"{ms(c.get('p50'))} / {ms(c.get('p99'))}" if c["n"] else "-",
                f"{ms(st.get('p50'))} / {ms(st.get('p99'))}" if st["n"] else "-",
            )
        )
    return common.markdown_table(cells, left={0})


# ---------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples (about 1.5 min)")
    parser.add_argument(
        "--scenarios",
        type=lambda s: {int(x) for x in s.split(",") if x.strip()},
        default={1, 2, 3, 4},
        help="comma-separated, of 1 (one job), 2 (100 jobs), 3 (1,000 at once), "
        "4 (10,000 jobs); default all. APScheduler runs beside 1 and 2.",
    )
    common.output_args(parser, NAME)
    parser.add_argument(
        "--dir", type=Path, help="where the temporary homes go (default: the system's)"
    )
    parser.add_argument("--no-apscheduler", action="store_true", help="skip APScheduler")
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="run each daemon under cProfile, writing DIR/<scenario>.prof (figures suffer)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    if not args.scenarios <= {1, 2, 3, 4}:
        parser.error("--scenarios: numbers from 1 to 4")
    return args


def uncommitted() -> list[str] | None:
    """Files under runner/ that differ from the commit (`git status --porcelain`): the
    figures are of the working tree."""
    try:
        done = subprocess.run(
            ["git", "-C", str(common.ROOT), "status", "--porcelain", "--", "runner"],
            capture_output=True,
            text=True,
        )
    except OSError:
        return None
    return done.stdout.splitlines() if done.returncode == 0 else None


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    began = time.monotonic()
    one_n = 10 if args.quick else 25
    rounds = 3 if args.quick else 6
    idle_s = 8.0 if args.quick else 15.0
    changes = 3 if args.quick else 7
    started = utc_now()
    info = common.machine()
    info["packages"].update(
        {p: common.version(p) for p in ("SQLAlchemy", "APScheduler", "watchdog", "tzlocal")}
    )
    info["runner_changes_uncommitted"] = uncommitted()
    aps, aps_note = (None, "APScheduler skipped (--no-apscheduler)")
    if not args.no_apscheduler:
        aps, aps_note = common.import_apscheduler()
        if aps is None:
            print(aps_note)
    prof = args.profile

    def profile_to(name: str) -> Path | None:
        return None if prof is None else prof / f"{name}.prof"

    tmp = Path(tempfile.mkdtemp(prefix="runner-bench-daemon-", dir=args.dir))
    results: dict[str, Any] = {}
    delays: list[Delays] = []
    try:
        if args.scenarios & {1, 2}:
            say("floor: bash echo spawn")
            delays.append(bash_floor(30))
        if 1 in args.scenarios:
            say(f"1. one job every 1s, {one_n} samples")
            results["one"] = runner_firing(tmp, "one", 1, one_n, None, profile_to("one"))
            delays.append(results["one"])
            if aps is not None:
                say("   APScheduler")
                delays.append(aps_firing(aps, tmp, "aps-one", 1, one_n, 10))
        if 2 in args.scenarios:
            say(f"2. 100 jobs every 1s, {rounds} rounds")
            results["hundred"] = runner_firing(
                tmp, "hundred", 100, rounds, HUNDRED_PARALLEL, profile_to("hundred")
            )
            delays.append(results["hundred"])
            if aps is not None:
                say("   APScheduler")
                delays.append(aps_firing(aps, tmp, "aps-hundred", 100, rounds, HUNDRED_PARALLEL))
        if 3 in args.scenarios:
            say("3. 1,000 jobs due at once")
            results["thousand"] = thousand(tmp, 1000, profile_to("thousand"))
        if 4 in args.scenarios:
            say(f"4. 10,000 jobs: idle {idle_s:g} s, {changes} changes")
            results["big"] = ten_thousand(tmp, idle_s, changes, profile_to("big"))
    finally:
        if args.keep:
            say(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    rows = main_rows(results, {"one": one_n, "hundred": 100 * rounds})
    print()
    fs = common.filesystem(args.dir or Path(tempfile.gettempdir()))
    print(
        f"runner daemon, {os.cpu_count()} CPUs, SQLite store on "
        f"{fs or 'an unknown file system'}; "
        f"{aps_note}" + ("; UNDER cProfile" if prof else "")
    )
    print(main_table(rows))
    if delays:
        print()
        print(delay_table(delays))
        print(
            "\ndelay = the task's $EPOCHREALTIME - its scheduled time (bash builtins, no extra"
            " process);\ncreated / run-started: the daemon's own log stamps (ms, truncated)"
            " - due; a run made\nahead of its tick (no active run) is created before it;"
            " run-started is said once the\npass's tasks were spawned: the end of the pass."
        )
        ratios = []
        for runner_key, aps_case in (("one", "1 job"), ("hundred", "100 jobs")):
            theirs = [d for d in delays if d.kind == "apscheduler" and aps_case in d.case]
            if runner_key in results and theirs and theirs[0].samples_ms:
                ours = common.summary(results[runner_key].samples_ms)
                other = common.summary(theirs[0].samples_ms)
                ratios.append(
                    f"{aps_case}: runner p50 {ours['p50']:.1f} ms vs APScheduler "
                    f"{other['p50']:.1f} ms; p99 {ours['p99']:.1f} vs {other['p99']:.1f} ms"
                )
        if ratios:
            print("vs APScheduler: " + "; ".join(ratios))
    sizes = [
        f"{results[k].extra['jobs']} job(s) {results[k].extra['memory_mb'].get('VmRSS', 0):.0f} MB"
        for k in ("one", "hundred")
        if k in results
    ]
    if sizes:
        print("daemon RSS while firing: " + ", ".join(sizes))
    notes = [f"{d.case}: {n}" for d in delays for n in d.notes]
    if "thousand" in results:
        t = results["thousand"]
        made = t["run_created_logged_s"].get("max", math.nan)
        claimed = t["run_started_logged_s"].get("max", math.nan)
        print(
            f"\n1,000 jobs: every {t['every']}, written {t['written_before_due_s']:.1f} s before"
            f" due, applied through the watch in {t['apply_s']:.2f} s ({t['applied_message']});"
            f" by the daemon's log, the tick had created every run {made:.2f} s after due, the"
            f" last run-started at {claimed:.2f} s;"
            f" {t['succeeded']} of {t['jobs']} succeeded; the daemon used"
            f" {t.get('burst_cpu_s', math.nan):.2f} s CPU from the apply to the last run's end"
        )
        notes += [f"1,000 jobs: {n}" for n in t["notes"]]
    if "big" in results:
        b = results["big"]
        print(
            f"10,000 jobs: daemon-up {b['startup_s']:.1f} s after spawn (apply at start), "
            f"then {b['settle_s']:.1f} s ({b['settle_cpu_s']:.1f} s CPU) to settle; "
            f"{b['threads']} threads; change latency by the daemon's own stamp: median "
            f"{statistics.median(b['change_ms_by_daemon_stamp']):.0f} ms; after each change "
            f"the daemon was busy until {statistics.median(b['change_busy_s']):.2f} s after the "
            f"write (median; its loop does nothing else meanwhile), using "
            f"{statistics.median(b['change_cpu_s']):.2f} s CPU"
        )
        notes += [f"10,000 jobs: {n}" for n in b["notes"]]
    if notes:
        print("\nproblems seen:")
        for n in notes:
            print(f"- {n}")

    report: dict[str, Any] = {
        "benchmark": "runner daemon",
        "started": started.isoformat(timespec="seconds"),
        "duration_s": round(time.monotonic() - began, 1),
        "machine": info,
        "options": {
            "quick": args.quick,
            "scenarios": sorted(args.scenarios),
            "one_samples": one_n,
            "hundred_rounds": rounds,
            "idle_window_s": idle_s,
            "changes": changes,
            "profiled": prof is not None,
            "grace": GRACE,
        },
        "apscheduler": {"enabled": aps is not None, "note": aps_note},
        "targets": {
            "one_job_p99_ms": TARGET_ONE_P99_MS,
            "hundred_jobs_p99_ms": TARGET_HUNDRED_P99_MS,
            "thousand_all_started_s": TARGET_THOUSAND_S,
            "change_applied_median_ms": TARGET_CHANGE_MS,
            "rss_mb": TARGET_RSS_MB,
            "idle_cpu_pct": TARGET_IDLE_PCT,
        },
        "rows": [r.as_json() for r in rows],
        "delays": [d.as_json() for d in delays],
        "thousand": results.get("thousand"),
        "ten_thousand": results.get("big"),
    }
    common.write_report(report, common.out_path(args, NAME), f" ({report['duration_s']:.0f} s)")
    missed = [r for r in rows if r.passed is False]
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
