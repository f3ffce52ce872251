"""Benchmark runner's per-task overhead: 500 `true` tasks, in a chain and in parallel.

Usage (from the repository root, with runner installed in the running interpreter):

    python bench/overhead.py                      # 500 tasks, 5 repeats
    python bench/overhead.py --repeat 9 --out /tmp/overhead.json
    python bench/overhead.py --tasks 200 --parallel 4,16
    python bench/overhead.py --profile /tmp/overhead.prof   # also cProfile one chain run
    python bench/overhead.py --strict             # exit 1 when a target is missed (CI)

Two jobs of N tasks whose command is `true` (argv, no shell) are applied to a fresh home
per case (SQLite store, as `runner run` uses it), then run in this process: `trigger`
(the run's row) and `execute` (runner's executor, every state change committed before it
is acted on), timed together, asserted `success` with N tasks succeeded:

- runner: chain: each task `after` the one above, at the default max_parallel (the
  CPU count); one task runs at a time, so each task's overhead is on the critical path.
- runner: parallel: every task `after: []`, with max_parallel = the CPU count and = 16
  (`--parallel`).

Beside them, in the same run:

- floors: N x `subprocess.run(["true"])` in a Python loop (the floor the overhead is
  measured over), the same with `start_new_session=True` (what runner's spawn adds), and
  N `Popen(["true"])` kept K at a time with `os.wait` (the floor of a K-wide run).
- APScheduler 3.11 (skipped with a message when it is not importable): a
  BackgroundScheduler with a ThreadPoolExecutor of K threads (K = the CPU count for the
  chain, as runner's default max_parallel) whose jobs each run `subprocess.run(["true"])`.
  Chain: each job, once its process has ended, adds the next one (add_job without a
  trigger: run now); timed from the first add_job to the Nth process ended. Parallel: N
  add_job at once; timed until all N ended. Misfire grace is off, so queued jobs run
  late rather than being dropped. The scheduler is started before and shut down after
  the timed part.

Per-task overhead = (median - floor median) / N, over the bare loop floor; for parallel
rows also over the K-at-a-time floor. tasks/s = N / median. `vs APScheduler` = runner
median / APScheduler median of the same shape and width (below 1: runner is faster).
`commits/task` counts the store's committed transactions (SQLAlchemy commit events) per
task in the last run. Targets (issue): overhead under 2 ms a task on every runner row,
with the store at SQLite synchronous=FULL (the table states the level read back from
the store's engine), and at least 400 tasks/s on the chain; judged on the median.

Repeats are interleaved: one untimed warm-up round runs every case once, then each of
`--repeat` rounds runs every case once, in the same order, so drift on the machine (a
busy VM host) hits every case alike and ratios stay comparable. Each run starts from a
collected heap (bench/common.py's `timed`); checks are outside the timed part. The
`cpu s` column is the median user + system CPU seconds of this process and its waited-
for children (the `true` processes included). POSIX (Linux: runner watches tasks with
pidfds) only.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import sqlalchemy as sa

from runner.clock import SystemClock
from runner.domain import RunState, TaskState
from runner.reconciler import apply_config
from runner.runs.foreground import execute
from runner.runs.trigger import trigger
from runner.store import RunRecord, Store, open_store

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # bench/common.py, beside this file

NAME = "overhead"  # bench/results/overhead.json
TASKS = 500
WARMUP_ROUNDS = 1
TARGET_OVERHEAD_MS = 2.0  # per task over the bare floor, every runner row
TARGET_CHAIN_RATE = 400.0  # tasks per second, the runner chain
APS_TIMEOUT_S = 300.0  # an APScheduler run that has not finished by then is a failure
SYNCHRONOUS = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}
RUNNER_CODE = r"/runner/"  # runner's code in a profile

CHAIN, PARALLEL, LOOP = "chain", "parallel", "loop"


def cpus() -> int:
    return os.cpu_count() or 1


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# ---------------------------------------------------------------------------- cases


@dataclass(eq=False)
class Case:
    """One row: something timed once per round. `go` is the timed part; `prepare`
    (before), `check` (on what `go` returned) and `finish` (after) are not timed."""

    name: str
    kind: str  # floor, runner or apscheduler
    shape: str  # loop (a floor one at a time), chain or parallel
    width: int  # tasks at most at once
    go: Callable[[], object]
    prepare: Callable[[], None] = lambda: None
    check: Callable[[object], None] = lambda _out: None
    finish: Callable[[], None] = lambda: None
    notes: str = ""
    walls: list[float] = field(default_factory=list)
    cpu_times: list[float] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def once(self, *, keep: bool) -> None:
        self.prepare()
        try:
            box: list[object] = []
            wall, cpu = common.timed(lambda: box.append(self.go()))
            self.check(box.pop())
        finally:
            self.finish()
        if keep:
            self.walls.append(wall)
            self.cpu_times.append(cpu)

    def result(self) -> common.Result:
        return common.Result(
            None, self.name, self.walls, self.cpu_times, kind=self.kind, notes=self.notes, extra={}
        )


def expect_ok(code: int, what: str) -> None:
    if code != 0:
        raise AssertionError(f"{what}: `true` exited {code}")


def loop_floor(tasks: int, *, new_session: bool) -> Case:
    def go() -> None:
        for _ in range(tasks):
            expect_ok(subprocess.run(["true"], start_new_session=new_session).returncode, "floor")

    name = "floor: subprocess.run loop" + (", new session" if new_session else "")
    notes = "start_new_session=True, as runner spawns" if new_session else "the floor"
    return Case(name, "floor", LOOP, 1, go, notes=notes)


def wide_floor(tasks: int, width: int) -> Case:
    """N Popen(["true"]), at most `width` running, each reaped by os.wait: the floor of a
    run `width` tasks wide."""

    def go() -> None:
        running: dict[int, subprocess.Popen[bytes]] = {}
        started = ended = 0
        while ended < tasks:
            while started < tasks and len(running) < width:
                child = subprocess.Popen(["true"])
                running[child.pid] = child
                started += 1
            pid, status = os.wait()
            child_ended = running.pop(pid, None)
            if child_ended is None:
                continue  # not ours
            child_ended.returncode = os.waitstatus_to_exitcode(status)
            expect_ok(child_ended.returncode, "floor")
            ended += 1

    return Case(f"floor: Popen, {width} at a time", "floor", PARALLEL, width, go, notes="os.wait")


# ---------------------------------------------------------------------------- runner


def job_file(name: str, tasks: int, *, parallel: bool) -> str:
    lines = ["apiVersion: runner/v1", "kind: Job", f"name: {name}", "tasks:"]
    for i in range(tasks):
        lines += [f"  - name: t{i:04d}", '    argv: ["true"]']
        if parallel:
            lines.append("    after: []")
    return "\n".join(lines) + "\n"


def write_config(folder: Path, tasks: int) -> Path:
    jobs = folder / "jobs.d"
    jobs.mkdir(parents=True)
    (jobs / "chain.yaml").write_text(job_file(CHAIN, tasks, parallel=False), encoding="utf-8")
    (jobs / "parallel.yaml").write_text(job_file(PARALLEL, tasks, parallel=True), encoding="utf-8")
    return jobs


def applied_store(jobs: Path, home: Path) -> Store:
    store = open_store(home=home)
    done = apply_config([str(jobs)], store, now=now())
    if not done.written or done.skipped_files or len(store.resources("Job")) != 2:
        raise AssertionError(f"apply: written {done.written}, skipped {done.skipped_files}")
    return store


def sqlite_settings(store: Store) -> dict[str, Any]:
    """The store's SQLite durability settings, read back from a connection of its engine
    (set by the store on every connection)."""
    with store.engine.connect() as conn:
        level = conn.exec_driver_sql("PRAGMA synchronous").scalar()
        journal = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
    return {
        "synchronous": level,
        "synchronous_name": SYNCHRONOUS.get(int(level), str(level)) if level is not None else None,
        "journal_mode": journal,
        "sqlite_version": sqlite3.sqlite_version,
        "url": str(store.engine.url),
        "filesystem": common.filesystem(store.home),
    }


class RunnerCase:
    """A job run to its end in this process, on a home of its own."""

    def __init__(self, jobs: Path, home: Path, job: str, tasks: int, max_parallel: int | None):
        self.store = applied_store(jobs, home)
        self.home = home
        self.job = job
        self.tasks = tasks
        self.max_parallel = max_parallel
        self.clock = SystemClock()
        self.commits = 0
        sa.event.listen(self.store.engine, "commit", self._count_commit)

    def _count_commit(self, _conn: Any) -> None:
        self.commits += 1

    def prepare(self) -> None:
        self.commits = 0

    def go(self) -> RunRecord:
        triggered = trigger(self.store, job=self.job, now=self.clock.now())
        return execute(
            self.store, triggered, home=self.home, clock=self.clock, max_parallel=self.max_parallel
        )

    def check(self, out: object) -> None:
        if not isinstance(out, RunRecord):
            raise AssertionError(f"execute returned {out!r}")
        ok = sum(1 for t in out.tasks if t.state == TaskState.SUCCESS)
        if out.state != RunState.SUCCESS or ok != self.tasks:
            raise AssertionError(
                f"run {out.id} of {self.job}: {out.state} ({out.reason}), "
                f"{ok} of {self.tasks} tasks succeeded"
            )

    def case(self, name: str, shape: str, width: int, notes: str) -> Case:
        made = Case(name, "runner", shape, width, self.go, self.prepare, self.check, notes=notes)
        made.extra["home"] = str(self.home)
        made.extra["max_parallel"] = self.max_parallel
        return made

    def close(self) -> None:
        self.store.close()


# ---------------------------------------------------------------------------- APScheduler


class ApsCase:
    """N `subprocess.run(["true"])` jobs on a BackgroundScheduler with `width` threads."""

    def __init__(self, aps: dict[str, ModuleType], tasks: int, width: int, *, chain: bool):
        self.aps = aps
        self.tasks = tasks
        self.width = width
        self.chain = chain
        self.scheduler: Any = None
        self.done = threading.Event()
        self.lock = threading.Lock()
        self.ended = 0
        self.errors: list[str] = []

    def prepare(self) -> None:
        events = self.aps["events"]
        pool = self.aps["executors.pool"].ThreadPoolExecutor(max_workers=self.width)
        self.scheduler = self.aps["schedulers.background"].BackgroundScheduler(
            executors={"default": pool},
            job_defaults={"misfire_grace_time": None, "coalesce": False, "max_instances": 1},
        )
        self.scheduler.add_listener(
            self._failed,
            events.EVENT_JOB_ERROR | events.EVENT_JOB_MISSED | events.EVENT_JOB_MAX_INSTANCES,
        )
        self.done.clear()
        self.ended = 0
        self.errors = []
        self.scheduler.start()

    def _failed(self, event: Any) -> None:
        self.errors.append(f"{type(event).__name__} code {event.code}: {event}")
        self.done.set()

    def _one(self) -> None:
        code = subprocess.run(["true"]).returncode
        with self.lock:
            if code != 0:
                self.errors.append(f"`true` exited {code}")
            self.ended += 1
            last = self.ended >= self.tasks
        if last:
            self.done.set()
        elif self.chain:
            self.scheduler.add_job(self._one)  # no trigger: run now

    def go(self) -> bool:
        for _ in range(1 if self.chain else self.tasks):
            self.scheduler.add_job(self._one)
        return self.done.wait(APS_TIMEOUT_S)

    def check(self, out: object) -> None:
        if out is not True or self.errors or self.ended != self.tasks:
            raise AssertionError(
                f"APScheduler: finished {out}, {self.ended} of {self.tasks} ended, "
                f"errors {self.errors[:3]}"
            )

    def finish(self) -> None:
        self.scheduler.shutdown(wait=True)
        self.scheduler = None

    def case(self, name: str, shape: str, notes: str) -> Case:
        return Case(
            name,
            "apscheduler",
            shape,
            self.width,
            self.go,
            self.prepare,
            self.check,
            self.finish,
            notes=notes,
        )


# ---------------------------------------------------------------------------- rows


@dataclass
class Row:
    """A case's samples and what is derived from them against the other rows."""

    case: Case
    tasks: int
    over_floor_ms: float | None = None  # per task, over the bare loop floor
    over_wide_ms: float | None = None  # per task, over the floor as wide as the run
    vs_aps: float | None = None  # runner median / APScheduler median, same shape and width
    commits_per_task: float | None = None
    targets: dict[str, float] = field(default_factory=dict)
    verdicts: dict[str, bool] = field(default_factory=dict)

    @property
    def result(self) -> common.Result:
        return self.case.result()

    @property
    def rate(self) -> float:
        return self.tasks / self.result.median

    @property
    def passed(self) -> bool | None:
        return all(self.verdicts.values()) if self.verdicts else None

    def target_text(self) -> str:
        parts = []
        if "overhead_ms" in self.targets:
            parts.append(f"< {self.targets['overhead_ms']:g} ms")
        if "tasks_per_s" in self.targets:
            parts.append(f">= {self.targets['tasks_per_s']:g}/s")
        return ", ".join(parts) or "-"

    def as_json(self) -> dict[str, Any]:
        data = self.result.as_json()
        data.update(
            shape=self.case.shape,
            width=self.case.width,
            tasks=self.tasks,
            tasks_per_s=self.rate,
            tasks_per_s_best=self.tasks / self.result.min,
            overhead_ms_per_task=self.over_floor_ms,
            overhead_ms_per_task_over_wide_floor=self.over_wide_ms,
            ratio_to_apscheduler=self.vs_aps,
            commits_per_task=self.commits_per_task,
            target=self.targets or None,
            verdicts=self.verdicts or None,
            passed=self.passed,
            extra=self.case.extra,
        )
        return data


def derive(cases: list[Case], tasks: int) -> list[Row]:
    rows = [Row(c, tasks) for c in cases]
    floor = next(r for r in rows if r.case.kind == "floor" and r.case.shape == LOOP)
    wide = {r.case.width: r for r in rows if r.case.kind == "floor" and r.case.shape == PARALLEL}
    aps = {(r.case.shape, r.case.width): r for r in rows if r.case.kind == "apscheduler"}
    for r in rows:
        median = r.result.median
        if r.case.kind != "floor":
            r.over_floor_ms = (median - floor.result.median) / tasks * 1000
            if r.case.shape == PARALLEL and r.case.width in wide:
                r.over_wide_ms = (median - wide[r.case.width].result.median) / tasks * 1000
        if r.case.kind != "runner":
            continue
        other = aps.get((r.case.shape, r.case.width))
        if other is not None:
            r.vs_aps = median / other.result.median
        if "commits" in r.case.extra:
            r.commits_per_task = r.case.extra["commits"] / tasks
        r.targets["overhead_ms"] = TARGET_OVERHEAD_MS
        assert r.over_floor_ms is not None
        r.verdicts["overhead"] = r.over_floor_ms < TARGET_OVERHEAD_MS
        if r.case.shape == CHAIN:
            r.targets["tasks_per_s"] = TARGET_CHAIN_RATE
            r.verdicts["tasks_per_s"] = r.rate >= TARGET_CHAIN_RATE
    return rows


# ---------------------------------------------------------------------------- output


def progress(case: Case) -> None:
    r = case.result()
    print(f"  {case.name:<38} median {r.median:.3f} s  min {r.min:.3f} s", file=sys.stderr)


def fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def table(rows: list[Row]) -> str:
    head = (
        "case",
        "n",
        "median s",
        "min s",
        "cpu s",
        "tasks/s",
        "ms/task over floor",
        "over K-wide floor",
        "vs APScheduler",
        "commits/task",
        "target",
        "result",
    )
    lines_in: list[tuple[str, ...]] = [head]
    for row in rows:
        r = row.result
        lines_in.append(
            (
                row.case.name,
                str(len(r.samples)),
                f"{r.median:.3f}",
                f"{r.min:.3f}",
                fmt(r.cpu_median, ".3f"),
                f"{row.rate:,.0f}",
                fmt(row.over_floor_ms, "+.2f"),
                fmt(row.over_wide_ms, "+.2f"),
                fmt(row.vs_aps, ".2f"),
                fmt(row.commits_per_task, ".2f"),
                row.target_text(),
                common.verdict(row.passed),
            )
        )
    return common.markdown_table(lines_in, left={0, 10})


# ---------------------------------------------------------------------------- profile


def profile(jobs: Path, root: Path, tasks: int, out: Path, top: int) -> None:
    """cProfile one run of the chain (after a warm-up run) and print the top lines."""
    chain = RunnerCase(jobs, root / "home-profile", CHAIN, tasks, None)
    try:
        chain.check(chain.go())  # warm-up
        prof = cProfile.Profile()
        started = time.perf_counter()
        record = prof.runcall(chain.go)
        wall = time.perf_counter() - started
        chain.check(record)
    finally:
        chain.close()
    title = f"runner chain of {tasks} tasks ({wall:.3f} s profiled)"
    common.print_profile(prof, out, title=title, code=RUNNER_CODE, top=top)


# ---------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed rounds (default 5)")
    common.output_args(parser, NAME)
    parser.add_argument("--tasks", type=int, default=TASKS, help=f"tasks per job (default {TASKS})")
    parser.add_argument(
        "--parallel",
        type=lambda s: sorted({int(x) for x in s.split(",") if x.strip()}),
        default=sorted({cpus(), 16}),
        help=f"widths of the parallel runs, comma-separated (default {cpus()},16: the CPU "
        "count and 16)",
    )
    parser.add_argument(
        "--dir",
        type=Path,
        help="where the temporary homes go (default: the system's temporary folder); "
        "on tmpfs, commits are not durable and cost nothing",
    )
    parser.add_argument("--no-apscheduler", action="store_true", help="skip the APScheduler rows")
    common.profile_args(parser, "also cProfile one runner chain run", top=20)
    common.strict_arg(parser)
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.tasks < 1:
        parser.error("--tasks must be at least 1")
    if not args.parallel or min(args.parallel) < 1:
        parser.error("--parallel must be positive numbers")
    return args


def build_cases(
    jobs: Path, root: Path, args: argparse.Namespace, aps: dict[str, ModuleType] | None
) -> tuple[list[Case], list[RunnerCase]]:
    tasks: int = args.tasks
    width: list[int] = args.parallel
    cases = [loop_floor(tasks, new_session=False), loop_floor(tasks, new_session=True)]
    cases += [wide_floor(tasks, k) for k in width]
    stores = [RunnerCase(jobs, root / "home-chain", CHAIN, tasks, None)]
    cases.append(
        stores[0].case(
            "runner: chain", CHAIN, cpus(), f"max_parallel default ({cpus()}); one at a time"
        )
    )
    for k in width:
        stores.append(RunnerCase(jobs, root / f"home-parallel-{k}", PARALLEL, tasks, k))
        cases.append(stores[-1].case(f"runner: parallel, {k} at a time", PARALLEL, k, ""))
    if aps is not None:
        chain = ApsCase(aps, tasks, cpus(), chain=True)
        cases.append(chain.case(f"APScheduler: chain, {cpus()} threads", CHAIN, "next job added"))
        for k in width:
            wide = ApsCase(aps, tasks, k, chain=False)
            cases.append(wide.case(f"APScheduler: parallel, {k} threads", PARALLEL, ""))
    return cases, stores


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = now()
    info = common.machine()
    extra = ("SQLAlchemy", "APScheduler", "tzlocal")
    info["packages"].update({p: common.version(p) for p in extra})
    info["sqlite_version"] = sqlite3.sqlite_version
    aps, aps_note = (None, "APScheduler rows skipped (--no-apscheduler)")
    if not args.no_apscheduler:
        aps, aps_note = common.import_apscheduler()
        if aps is None:
            print(f"APScheduler is not importable. {aps_note}")
    tmp = Path(tempfile.mkdtemp(prefix="runner-bench-overhead-", dir=args.dir))
    try:
        jobs = write_config(tmp, args.tasks)
        cases, stores = build_cases(jobs, tmp, args, aps)
        try:
            sqlite = sqlite_settings(stores[0].store)
            rounds = WARMUP_ROUNDS + args.repeat
            for n in range(rounds):
                label = "warm-up" if n < WARMUP_ROUNDS else f"{n - WARMUP_ROUNDS + 1}/{args.repeat}"
                print(f"round {label}", file=sys.stderr)
                for case in cases:
                    case.once(keep=n >= WARMUP_ROUNDS)
            for runner_case, case in zip(
                stores, [c for c in cases if c.kind == "runner"], strict=True
            ):
                case.extra["commits"] = runner_case.commits  # of the last round's run
        finally:
            for runner_case in stores:
                runner_case.close()
        for case in cases:
            progress(case)
        rows = derive(cases, args.tasks)

        print()
        print(
            f"{args.tasks} `true` tasks a run; {cpus()} CPUs; store: SQLite "
            f"synchronous={sqlite['synchronous_name']} ({sqlite['synchronous']}), "
            f"journal_mode={sqlite['journal_mode']}, SQLite {sqlite['sqlite_version']}, "
            f"on {sqlite['filesystem'] or 'an unknown file system'}; "
            f"{aps_note}"
        )
        print(table(rows))
        print(
            "\nms/task over floor: (median - `floor: subprocess.run loop` median) / tasks;"
            "\nover K-wide floor: the same over `floor: Popen, K at a time` (parallel rows);"
            "\nvs APScheduler: runner median / APScheduler median, same shape and width"
            " (< 1: runner faster);"
            "\ncommits/task: store transactions committed per task (last run); targets on the"
            " median."
        )

        options = {
            "tasks": args.tasks,
            "repeat": args.repeat,
            "warmup_rounds": WARMUP_ROUNDS,
            "parallel": args.parallel,
            "interleaved": True,
        }
        report = common.new_report(
            "runner per-task overhead",
            started,
            info,
            options,
            store=sqlite,
            apscheduler={"enabled": aps is not None, "note": aps_note},
            targets={
                "overhead_ms_per_task": TARGET_OVERHEAD_MS,
                "overhead_over": "floor: subprocess.run loop",
                "chain_tasks_per_s": TARGET_CHAIN_RATE,
                "judged_on": "median",
            },
            results=[r.as_json() for r in rows],
        )
        common.write_report(report, common.out_path(args, NAME))

        if args.profile:
            profile(jobs, tmp, args.tasks, args.profile, args.profile_top)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return common.exit_code(args.strict, (r.passed for r in rows))


if __name__ == "__main__":
    sys.exit(main())
