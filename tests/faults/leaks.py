"""Task faults at volume (issue 17), shared by tests/faults/test_leaks.py and
bench/faults.py, against real `runner daemon` processes and real task processes:

* A task that writes far more than its log's cap (1 GiB in the bench): the run
  succeeds, the log keeps its head and tail and says how many bytes were dropped, the
  daemon's memory (VmRSS) stays bounded, and another job's ticks go on meanwhile.
* Many runs through one daemon (100,000 in the bench: hundreds of jobs `every: 1s`
  running `true`, or forking a child and exiting): the daemon's open file descriptors,
  its threads and its zombie children are read from /proc when no task runs, after
  the first runs, midway and at the end; a leak is growth past a small constant. No
  task process may outlive the daemon, and each job's history (its log files) must
  stay within `keepRuns` plus the runs kept 30 s for their reports.
* pid reuse: tests/faults/reuse.py; `bench` here runs it too."""

from __future__ import annotations

import contextlib
import functools
import os
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner.domain import RunState
from runner.store import RunRecord
from tests.daemon.conftest import DaemonProcess
from tests.faults.scenarios import (
    FaultEnv,
    Tally,
    _environment,
    check,
    postgresql_database,
    tick_job,
)
from tests.waiting import DEADLINE, wait_for

MiB = 1024 * 1024
GiB = 1024 * MiB
RUNS_PER_CYCLE = 500  # bench(cycles=200): 100,000 runs
FD_SLACK = 4  # descriptors a daemon may open for good after its first runs (a cache)
THREAD_SLACK = 1
KEEP_RUNS = 5  # each job's history


@dataclass
class LeakTally(Tally):
    """A Tally with the figures read from /proc: `figures[label]` for each moment."""

    figures: dict[str, Any] = field(default_factory=dict)


# --- what /proc says of the daemon -----------------------------------------------------


@dataclass(frozen=True)
class Resources:
    fds: int
    threads: int
    zombies: int  # children ended and not reaped
    live: int  # children still running (tasks)
    rss_kib: int

    def as_json(self) -> dict[str, int]:
        return {"fds": self.fds, "threads": self.threads, "zombies": self.zombies}


def _stat(pid: str) -> tuple[bytes, int] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    fields = raw[raw.rindex(b")") + 2 :].split()
    return fields[0], int(fields[1])


def resources(pid: int) -> Resources:
    """The daemon's open descriptors, threads, resident memory, and its children."""
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    status = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    zombies = live = 0
    for entry in os.listdir("/proc"):
        found = _stat(entry) if entry.isdigit() else None
        if found is not None and found[1] == pid:
            zombies += found[0] == b"Z"
            live += found[0] != b"Z"
    rss = int(status["VmRSS"].split()[0])
    return Resources(fds, int(status["Threads"]), zombies, live, rss)


def at_rest(pid: int, within: float = 20.0) -> Resources:
    """The daemon's resources at a moment no task of it runs (the fewest descriptors of
    such moments over a short while): between two ticks' bursts. A zombie not reaped
    shows then; a descriptor or thread kept after its task shows as growth."""
    best: Resources | None = None
    began = time.monotonic()
    while time.monotonic() - began < within:
        now = resources(pid)
        if now.live == 0 and (best is None or now.fds < best.fds):
            best = now
        if best is not None and time.monotonic() - began >= 1.1:
            return best
        time.sleep(0.005)
    if best is None:
        raise AssertionError(f"no moment within {within:g}s with no task of the daemon running")
    return best


# --- a task writing far more than its log's cap ------------------------------------------


def _big_job(env: FaultEnv, size: int) -> None:
    """A manual job that runs once as it is applied: FIRST, `size` bytes of lines, LAST."""
    env.write(
        "big.yaml",
        f"""
        apiVersion: runner/v1
        kind: Job
        name: big
        schedule: {{mode: manual}}
        status: start
        tasks:
          - name: work
            run: "echo FIRST; yes 0123456789abcdef | head -c {size}; echo; echo LAST"
        """,
    )


def big_output(env: FaultEnv, size: int, *, cap: str | None) -> LeakTally:
    """A daemon (its log cap `cap`, None for the default) runs a job every second and,
    once up, a task writing `size` bytes as fast as it can. Checked: the run succeeds;
    its log is within the cap, starts FIRST, ends LAST, and says how many bytes were
    dropped, the sum right; the daemon's VmRSS stays within 64 MiB of what it was; the
    ticks run meanwhile (`check`: none lost, none doubled)."""
    tally = LeakTally(
        scenario=f"task writing {size // MiB:,} MiB, log cap {cap or '100MiB'}",
        store="postgresql" if env.url else "sqlite",
        cycles=1,
    )
    began = time.monotonic()
    tick_job(env, catchup="all", overlap="allow")
    args = ("--max-log-size", cap) if cap else ()
    with _environment("RUNNER_STORE", env.url):
        daemon = env.start(*args, grace="1s")
    daemon.wait_up()
    wait_for("two ticks' runs", lambda: len(env.runs("tick")) >= 2, DEADLINE * 3)
    before = resources(daemon.pid).rss_kib
    _big_job(env, size)
    peak = _peak_rss_until_ended(env, daemon, tally)
    tally.faults = 1
    after = resources(daemon.pid).rss_kib
    tally.figures = {"rss_kib": {"before": before, "peak": peak, "after": after}}
    if peak - before > 64 * 1024:
        tally.problems.append(f"the daemon's VmRSS grew from {before} to {peak} KiB")
    (run,) = env.runs("big")
    if run.state != RunState.SUCCESS:
        tally.problems.append(f"the big run ended {run.state}: {run.reason}")
    _check_log(env, run.id, size, tally)
    _ticks_meanwhile(env, run, tally)
    if daemon.stop() != 0:
        tally.problems.append(f"the daemon exited {daemon.proc.returncode} on SIGTERM")
    check(env, tally)
    tally.runs += 1
    tally.seconds = time.monotonic() - began
    return tally


def _peak_rss_until_ended(env: FaultEnv, daemon: DaemonProcess, tally: LeakTally) -> int:
    peak = 0

    def ended() -> bool:
        nonlocal peak
        peak = max(peak, resources(daemon.pid).rss_kib)
        runs = env.runs("big")
        return bool(runs) and runs[0].state not in (RunState.SCHEDULED, RunState.RUNNING)

    try:
        wait_for("the big task's run to end", ended, DEADLINE * 18)
    except AssertionError as exc:
        tally.problems.append(str(exc))
    return peak


NOTE = re.compile(rb"\[runner: (\d+) bytes dropped.* first (\d+) and the last (\d+) bytes\]")


def _check_log(env: FaultEnv, run_id: int, size: int, tally: LeakTally) -> None:
    """Within the cap (100 MiB at most), head and tail kept, the dropped bytes said."""
    path = env.home / "logs" / "big" / str(run_id) / "work.1.log"
    log = path.read_bytes() if path.exists() else b""
    written = len(b"FIRST\n") + size + len(b"\nLAST\n")
    tally.figures["log_bytes"] = len(log)
    lines = log.splitlines()
    said = NOTE.search(log)
    if not lines or lines[0] != b"FIRST" or lines[-1] != b"LAST":
        tally.lost += 1
        tally.problems.append(f"the log does not keep its head and tail ({len(log)} bytes)")
    if said is None:
        tally.problems.append("the log does not say how many bytes were dropped")
    elif sum(int(n) for n in said.groups()) != written:
        tally.problems.append(f"the log says {said.group(0)!r} of {written} bytes written")
    if len(log) > min(written, 100 * MiB):
        tally.problems.append(f"the log holds {len(log)} bytes, past its cap")


def _ticks_meanwhile(env: FaultEnv, run: RunRecord, tally: LeakTally) -> None:
    """The tick runs started while the big task ran (reported; `check` finds gaps)."""
    if run.started is None or run.ended is None:
        return
    began, ended = run.started, run.ended
    starts = [(r.started, r.due) for r in env.runs("tick") if r.started is not None]
    late = [(at - due).total_seconds() for at, due in starts if began <= at <= ended]
    seconds = (ended - began).total_seconds()
    tally.figures["big_task_seconds"] = round(seconds, 1)
    tally.figures["ticks_started_meanwhile"] = len(late)
    tally.figures["latest_tick_start_s"] = round(max(late, default=0.0), 3)
    if seconds >= 3 and not late:
        tally.problems.append(f"no tick started in the {seconds:.1f}s the big task ran")


# --- many runs through one daemon ----------------------------------------------------------


def _many_jobs(env: FaultEnv, jobs: int) -> None:
    """`jobs` jobs every second: most run `true`; one in four forks a child that
    outlives it (stopped by the daemon as the task ends). Every task carries the
    folder's path in FAULTS_ROOT, so that what is left of them can be found."""
    for n in range(jobs):
        run = "sleep 30 & exit 0" if n % 4 == 3 else "true"
        env.write(
            f"j{n:04d}.yaml",
            f"""
            apiVersion: runner/v1
            kind: Job
            name: j{n:04d}
            schedule: {{every: 1s}}
            history: {{keepRuns: {KEEP_RUNS}}}
            env: {{FAULTS_ROOT: "{env.root}"}}
            tasks:
              - {{name: t, run: "{run}"}}
            """,
        )


def marked_processes(root: Path) -> list[int]:
    """Live processes whose environment holds FAULTS_ROOT=`root`: what tasks left."""
    mark = f"FAULTS_ROOT={root}".encode()
    found = []
    for entry in os.listdir("/proc"):
        state = _stat(entry) if entry.isdigit() else None
        if state is None or state[0] in (b"Z", b"X"):
            continue
        try:
            environ = Path(f"/proc/{entry}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if mark in environ:
            found.append(int(entry))
    return found


class EndedRuns:
    """The runs the daemon says ended (`run-ended` lines), read on as its log grows."""

    def __init__(self, daemon: DaemonProcess) -> None:
        self.daemon = daemon
        self.offset = 0
        self.ended = 0
        self.failed: list[str] = []

    def count(self) -> int:
        with self.daemon.stderr.open("rb") as err:
            err.seek(self.offset)
            text = err.read()
        text = text[: text.rfind(b"\n") + 1]
        self.offset += len(text)
        for line in text.splitlines():
            if b" run-ended " in line:
                self.ended += 1
                if not line.rstrip().split(b" in ")[0].endswith(b"success"):
                    self.failed.append(line.decode(errors="replace"))
        return self.ended


def many_runs(env: FaultEnv, runs: int, *, jobs: int = 200, limit_s: float = 600.0) -> LeakTally:
    """`jobs` jobs every second running `true` through one daemon until `runs` runs have
    ended (or `limit_s` has passed: the runs reached are counted). The daemon's
    descriptors, threads and zombie children at rest after the first `jobs` runs, midway
    and at the end: growth past FD_SLACK descriptors or THREAD_SLACK threads, or a
    zombie, counts as leaked. Every run must succeed; log files must stay bounded."""
    tally = LeakTally(
        scenario=f"{jobs} jobs every 1s, 1 in 4 forking a child",
        store="postgresql" if env.url else "sqlite",
        cycles=1,
    )
    began = time.monotonic()
    _many_jobs(env, jobs)
    with _environment("RUNNER_STORE", env.url):
        daemon = env.start("--max-parallel", "16", grace="5s")
    daemon.wait_up()
    ended = EndedRuns(daemon)
    wait_for("the first runs", lambda: ended.count() >= jobs, DEADLINE * 6)
    samples = {"first": (ended.ended, at_rest(daemon.pid))}
    stop_at = time.monotonic() + limit_s

    def reached(n: int) -> bool:
        return ended.count() >= n or time.monotonic() >= stop_at or daemon.proc.poll() is not None

    wait_for("half the runs", lambda: reached(runs // 2), limit_s + DEADLINE)
    samples["midway"] = (ended.ended, at_rest(daemon.pid))
    wait_for("the runs", lambda: reached(runs), limit_s + DEADLINE)
    samples["end"] = (ended.ended, at_rest(daemon.pid))
    _count_leaks(tally, samples)
    _count_history(env, tally, jobs)
    tally.figures["rss_kib"] = {k: r.rss_kib for k, (_, r) in samples.items()}
    tally.runs = ended.count()  # the runs a stop cancels are not counted
    tally.lost = len(ended.failed)
    stopping = time.monotonic()
    if daemon.stop() != 0:
        tally.problems.append(f"the daemon exited {daemon.proc.returncode} on SIGTERM")
    tally.figures["stop_s"] = round(time.monotonic() - stopping, 1)
    left: list[int] = []

    def gone() -> bool:
        left[:] = marked_processes(env.root)
        return not left

    try:  # a SIGKILL just sent takes a moment
        wait_for("what the tasks left to go", gone)
    except AssertionError:
        tally.leaked += len(left)
        tally.problems.append(f"{len(left)} task processes left running: {left[:5]}")
    tally.problems += [f"a run did not succeed: {line}" for line in ended.failed[:3]]
    if tally.runs < runs:
        tally.problems.append(f"{tally.runs} runs of {runs} within {limit_s:g}s")
    tally.seconds = time.monotonic() - began
    return tally


def _count_history(env: FaultEnv, tally: LeakTally, jobs: int) -> None:
    """The log files left: each job keeps its last KEEP_RUNS runs, and those that ended
    in the last 30 s (run_reads.REPORTING), a run a second; past that, history leaks."""
    files = sum(len(names) for _, _, names in os.walk(env.home / "logs"))
    tally.figures["log_files"] = files
    if files > jobs * (KEEP_RUNS + 30 + 15):
        tally.problems.append(f"{files} log files kept by {jobs} jobs with keepRuns {KEEP_RUNS}")


def _count_leaks(tally: LeakTally, samples: dict[str, tuple[int, Resources]]) -> None:
    _, first = samples["first"]
    for label, (runs, r) in samples.items():
        tally.figures[label] = {"runs": runs, **r.as_json()}
        grew = max(0, r.fds - first.fds - FD_SLACK) + max(
            0, r.threads - first.threads - THREAD_SLACK
        )
        if grew or r.zombies:
            tally.leaked = max(tally.leaked, grew + r.zombies)
            tally.problems.append(f"after {runs} runs: {r.as_json()}, after the first {first}")


# --- the bench ------------------------------------------------------------------------------


def bench(store: str, cycles: int) -> list[Tally]:
    """For bench/faults.py: a task writing 1 GiB (the default cap, 100 MiB), then
    `cycles` x RUNS_PER_CYCLE runs through one daemon (at most 10 minutes), then
    min(cycles, 20) pid reuses of each kind, on `store` ("sqlite" or "postgresql")."""
    runs = cycles * RUNS_PER_CYCLE
    out: list[Tally] = [
        _fresh(store, lambda env: big_output(env, GiB, cap=None)),
        _fresh(store, lambda env: many_runs(env, runs, jobs=300, limit_s=600.0)),
    ]
    from tests.faults.reuse import can_choose_pids, pid_reuse  # it imports this module

    reuses = min(cycles, 20)
    if can_choose_pids():
        for marked in (False, True):
            out.append(_fresh(store, functools.partial(pid_reuse, cycles=reuses, marked=marked)))
    return out


def _fresh(store: str, scenario: Callable[[FaultEnv], LeakTally]) -> Tally:
    """`scenario` in a fresh folder (and PostgreSQL database), its processes stopped after."""
    pg = store == "postgresql"
    with (
        tempfile.TemporaryDirectory(prefix="runner-bench-faults-") as tmp,
        postgresql_database() if pg else contextlib.nullcontext(None) as url,
    ):
        if pg and url is None:
            raise SystemExit("PostgreSQL is not reachable (RUNNER_TEST_PG)")
        env = FaultEnv(Path(tmp), url)
        try:
            return scenario(env)
        finally:
            env.stop_all()
