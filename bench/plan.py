"""Benchmark `runner plan` and `runner apply` (SPEC 4) on generated folders of job files.

Usage (from the repository root, with runner installed in the running interpreter):

    python bench/plan.py                          # sizes 1000,10000, 5 repeats
    python bench/plan.py --sizes 10000 --repeat 3 --out /tmp/plan.json
    python bench/plan.py --profile /tmp/plan.prof # also cProfile "plan, one file changed"
    python bench/plan.py --profile /tmp/plan.prof --profile-only --sizes 10000

The job files are those of bench/validate.py (bench/common.py's `write_jobs`: one Job
per file, three tasks, labels, a cron schedule with a time zone), in a temporary folder
removed afterwards. Every case is timed in-process (the reconciler's function on an open store;
opening the store is not timed) and as a whole command in a new process:

- cold plan: a fresh home, so an empty store and no file cache. `make_plan([folder],
  store, thrifty=True)` (what `runner plan` calls) / `runner plan FOLDER --home FRESH`
  (exit 0); asserted N adds. The plans below use `thrifty=True` too.
- apply N new jobs: a fresh home each repeat. `apply_config([folder], store)` /
  `runner apply FOLDER --home FRESH` (exit 0); asserted N adds, written, nothing skipped.
- plan, nothing changed: a home where the folder was applied and planned once (a warm
  file cache). `make_plan` / `runner plan FOLDER --home H --detailed-exitcode` (exit 0);
  asserted no change, N unchanged.
- plan, one file changed: as above, but before each run one file (a different one every
  run) has a task's `run` changed and its mtime bumped. The file changed in the previous
  run is first restored and planned once, untimed, so the timed plan sees exactly one
  changed file. `make_plan` / `runner plan ... --detailed-exitcode` (exit 2); asserted
  exactly one change, of that file's job.

It also times `runner --help` and `python -c pass` (the start-up floor) as bench/validate.py
does. Results are asserted outside the timed part. Each timed case first runs once untimed
(a warm-up), then `--repeat` times; the heap is collected before each run (the timing
helpers are bench/common.py's). Targets apply at 10,000 files and are judged on the
in-process median; the command median is shown against the same target, not judged (it
adds interpreter start-up and imports, about 0.3 s). The table shows median, min, p90
(interpolated) and median CPU seconds (user + system, children included; wall well above
CPU means the process waited for other work). POSIX only.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from runner.plan import Action, Plan
from runner.reconciler import ApplyResult, PlanResult, apply_config, make_plan
from runner.store import Store, open_store

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # bench/common.py, beside this file

NAME = "plan"  # bench/results/plan.json
WARMUP = 1
TARGET_SIZE = 10_000  # targets are judged at this size only

COLD = "cold plan"
APPLY = "apply N new jobs"
UNCHANGED = "plan, nothing changed"
ONE_CHANGED = "plan, one file changed"
# Targets in seconds at TARGET_SIZE, judged on the in-process median.
TARGETS: dict[str, float] = {COLD: 3.0, APPLY: 5.0, UNCHANGED: 1.0, ONE_CHANGED: 0.3}

# runner's own code in a profile: the lines the profile summary keeps
RUNNER_CODE = r"/runner/(config|reconciler|store|spec)/|/runner/plan\.py"
ORIGINAL_RUN = "    run: ./load.sh\n"  # the `load` task of every generated job

Ctx = TypeVar("Ctx")
Out = TypeVar("Out")


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# ---------------------------------------------------------------------------- setup


@dataclass
class Workspace:
    """The generated folder of one size, and the homes (stores) made beside it."""

    root: Path
    size: int
    jobs: Path = field(init=False)
    paths: list[Path] = field(init=False)
    homes: int = 0

    def __post_init__(self) -> None:
        self.jobs = self.root / "jobs"
        self.jobs.mkdir()
        self.paths = common.write_jobs(self.jobs, self.size)

    @property
    def folder(self) -> str:
        return str(self.jobs)

    def fresh_home(self, label: str) -> Path:
        """A home that does not exist yet (runner creates it): an empty store."""
        self.homes += 1
        return self.root / "homes" / f"{label}-{self.homes}"


class OneFileEditor:
    """Changes one job file at a time (the `run` of its `load` task), a different file each
    time, and puts the last one back as it was."""

    def __init__(self, paths: list[Path]) -> None:
        self.paths = paths
        self.count = 0
        self.current: tuple[Path, str] | None = None
        self.clock_ns = time.time_ns()

    def _write(self, path: Path, text: str) -> None:
        path.write_text(text, encoding="utf-8")
        # A new mtime for certain (the plan's file cache keys on size and mtime).
        self.clock_ns = max(time.time_ns(), self.clock_ns + 1_000_000)
        os.utime(path, ns=(self.clock_ns, self.clock_ns))

    def restore(self) -> bool:
        """Put the file changed last back as it was; False when there was none."""
        if self.current is None:
            return False
        path, text = self.current
        self._write(path, text)
        self.current = None
        return True

    def change_next(self) -> str:
        """Change the next file; the name of the job it holds."""
        if self.current is not None:
            raise AssertionError("restore the changed file first")
        self.count += 1
        path = self.paths[(self.count * 7919) % len(self.paths)]  # a prime: spread out
        text = path.read_text(encoding="utf-8")
        if text.count(ORIGINAL_RUN) != 1:
            raise AssertionError(f"{path}: expected one {ORIGINAL_RUN.strip()!r}")
        name = re.search(r"^name: (\S+)$", text, re.MULTILINE)
        if name is None:
            raise AssertionError(f"{path}: no job name")
        self.current = (path, text)
        changed = f"    run: ./load.sh --changed {self.count}\n"
        self._write(path, text.replace(ORIGINAL_RUN, changed))
        return name.group(1)


# ---------------------------------------------------------------------------- checks


def expect_plan(plan: Plan, *, add: int = 0, change: int = 0, unchanged: int | None = None) -> None:
    got = (plan.count(Action.ADD), plan.count(Action.CHANGE), plan.count(Action.DELETE))
    if got != (add, change, 0) or plan.skipped_files:
        raise AssertionError(
            f"plan: {got[0]} add, {got[1]} change, {got[2]} delete, "
            f"{len(plan.skipped_files)} skipped; expected {add} add, {change} change"
        )
    if unchanged is not None and plan.unchanged != unchanged:
        raise AssertionError(f"plan: {plan.unchanged} unchanged; expected {unchanged}")


def expect_one_change(result: PlanResult, size: int, job: str) -> None:
    expect_plan(result.plan, change=1, unchanged=size - 1)
    got = result.plan.changes[0].key
    if got != ("Job", job):
        raise AssertionError(f"plan changes {got}; expected ('Job', {job!r})")


def expect_exit(done: subprocess.CompletedProcess[str], code: int, *texts: str) -> None:
    if done.returncode != code:
        raise AssertionError(
            f"exit {done.returncode}, expected {code}: {done.stdout[-500:]}{done.stderr[-500:]}"
        )
    for text in texts:
        if text not in done.stdout:
            raise AssertionError(f"{text!r} not in the output: {done.stdout[-500:]}")


def summary(add: int = 0, change: int = 0) -> str:
    return f"Plan: {add} to add, {change} to change, 0 to delete."


# ---------------------------------------------------------------------------- timing


def measure(
    repeat: int,
    prepare: Callable[[], Ctx],
    run: Callable[[Ctx], Out],
    check: Callable[[Ctx, Out], None],
    finish: Callable[[Ctx], None] = lambda _ctx: None,
) -> tuple[list[float], list[float]]:
    """`repeat` timed runs of `run(prepare())` after WARMUP untimed ones: (wall samples,
    CPU samples). Only `run` is timed; `check` sees its result afterwards."""
    walls: list[float] = []
    cpus: list[float] = []
    for n in range(WARMUP + repeat):
        ctx = prepare()
        box: list[Out] = []
        wall, cpu = common.timed(lambda: box.append(run(ctx)))  # noqa: B023  (called at once)
        check(ctx, box.pop())
        finish(ctx)
        if n >= WARMUP:
            walls.append(wall)
            cpus.append(cpu)
    return walls, cpus


@dataclass
class Pair:
    """One case at one size: in-process and as a command."""

    size: int | None
    case: str
    inproc: common.Result | None
    command: common.Result | None

    @property
    def target(self) -> float | None:
        for r in (self.inproc, self.command):
            if r is not None and r.target is not None:
                return r.target
        return None


def pair(
    size: int,
    case: str,
    inproc: tuple[list[float], list[float]],
    command: tuple[list[float], list[float]],
    notes: str,
) -> Pair:
    target = TARGETS.get(case) if size == TARGET_SIZE else None
    cmd_extra: dict[str, Any] = {}
    if target is not None:  # shown beside the command, not judged on it
        under = statistics.median(command[0]) < target
        cmd_extra = {"target_s_shown": target, "under_target": under}
    result = Pair(
        size,
        case,
        common.Result(size, f"{case} in-process", *inproc, target, notes=notes),
        common.Result(size, f"{case} command", *command, None, notes=notes, extra=cmd_extra),
    )
    for r in (result.inproc, result.command):
        if r is not None:
            common.progress(r)
    return result


def run_command(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True)


def remove_home(argv: list[str]) -> None:
    shutil.rmtree(argv[argv.index("--home") + 1], ignore_errors=True)


def close_and_remove(store: Store) -> None:
    store.close()
    shutil.rmtree(store.home, ignore_errors=True)


# ---------------------------------------------------------------------------- cases


def bench_cold_plan(ws: Workspace, repeat: int, command: list[str]) -> Pair:
    size = ws.size
    inproc = measure(
        repeat,
        lambda: open_store(home=ws.fresh_home("cold")),
        lambda store: make_plan([ws.folder], store, now=now(), thrifty=True),
        lambda _store, result: expect_plan(result.plan, add=size),
        close_and_remove,
    )
    cmd = measure(
        repeat,
        lambda: [*command, "plan", ws.folder, "--home", str(ws.fresh_home("cold-cmd"))],
        run_command,
        lambda _argv, done: expect_exit(done, 0, summary(add=size)),
        remove_home,
    )
    return pair(size, COLD, inproc, cmd, "fresh home each run: empty store, no file cache")


def bench_apply(ws: Workspace, repeat: int, command: list[str]) -> Pair:
    size = ws.size

    def check(store: Store, result: ApplyResult) -> None:
        expect_plan(result.plan, add=size)
        if not result.written or result.skipped_files:
            raise AssertionError(f"written {result.written}, skipped {result.skipped_files}")
        if len(store.resources()) != size:
            raise AssertionError(f"{len(store.resources())} resources stored; expected {size}")

    inproc = measure(
        repeat,
        lambda: open_store(home=ws.fresh_home("apply")),
        lambda store: apply_config([ws.folder], store, now=now()),
        check,
        close_and_remove,
    )
    cmd = measure(
        repeat,
        lambda: [*command, "apply", ws.folder, "--home", str(ws.fresh_home("apply-cmd"))],
        run_command,
        lambda _argv, done: expect_exit(done, 0, summary(add=size), "Applied."),
        remove_home,
    )
    return pair(size, APPLY, inproc, cmd, "fresh home each run")


def applied_home(ws: Workspace) -> Store:
    """A store where the folder was applied, then planned once (a warm file cache)."""
    store = open_store(home=ws.fresh_home("applied"))
    done = apply_config([ws.folder], store, now=now())
    expect_plan(done.plan, add=ws.size)
    expect_plan(make_plan([ws.folder], store, now=now()).plan, unchanged=ws.size)
    return store


def bench_unchanged(ws: Workspace, store: Store, repeat: int, command: list[str]) -> Pair:
    size = ws.size
    inproc = measure(
        repeat,
        lambda: store,
        lambda s: make_plan([ws.folder], s, now=now(), thrifty=True),
        lambda _s, result: expect_plan(result.plan, unchanged=size),
    )
    argv = [*command, "plan", ws.folder, "--home", str(store.home), "--detailed-exitcode"]
    cmd = measure(
        repeat,
        lambda: argv,
        run_command,
        lambda _argv, done: expect_exit(done, 0, "No changes."),
    )
    return pair(size, UNCHANGED, inproc, cmd, "applied, then planned once: warm file cache")


def change_one(ws: Workspace, store: Store, editor: OneFileEditor) -> str:
    """Restore the file changed last and plan once (untimed, asserted unchanged) so the
    store's file cache has it again; then change another file. Its job's name."""
    if editor.restore():
        expect_plan(make_plan([ws.folder], store, now=now()).plan, unchanged=ws.size)
    return editor.change_next()


def bench_one_changed(
    ws: Workspace, store: Store, editor: OneFileEditor, repeat: int, command: list[str]
) -> Pair:
    size = ws.size
    inproc = measure(
        repeat,
        lambda: change_one(ws, store, editor),
        lambda _job: make_plan([ws.folder], store, now=now(), thrifty=True),
        lambda job, result: expect_one_change(result, size, job),
    )
    home = str(store.home)

    def prepare_command() -> tuple[list[str], str]:
        job = change_one(ws, store, editor)
        return [*command, "plan", ws.folder, "--home", home, "--detailed-exitcode"], job

    cmd = measure(
        repeat,
        prepare_command,
        lambda ctx: run_command(ctx[0]),
        lambda ctx, done: expect_exit(done, 2, summary(change=1), f"job {ctx[1]}"),
    )
    editor.restore()
    return pair(size, ONE_CHANGED, inproc, cmd, "a different file each run; exit 2")


def bench_size(size: int, repeat: int, command: list[str]) -> list[Pair]:
    tmp = Path(tempfile.mkdtemp(prefix=f"runner-bench-plan-{size}-"))
    try:
        ws = Workspace(tmp, size)
        total = sum(p.stat().st_size for p in ws.paths)
        print(f"\n{size:,} files, {total:,} bytes, in {tmp}", file=sys.stderr)
        pairs = [bench_cold_plan(ws, repeat, command), bench_apply(ws, repeat, command)]
        store = applied_home(ws)
        try:
            pairs.append(bench_unchanged(ws, store, repeat, command))
            editor = OneFileEditor(ws.paths)
            pairs.append(bench_one_changed(ws, store, editor, repeat, command))
        finally:
            store.close()
        for p in pairs:
            for r in (p.inproc, p.command):
                if r is not None:
                    r.extra["bytes"] = total
        return pairs
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ---------------------------------------------------------------------------- profile


def profile(size: int, out: Path, top: int) -> None:
    """cProfile one in-process "plan, one file changed" of `size` files; print the top
    lines in runner's code by cumulative time, and the top functions by own time."""
    tmp = Path(tempfile.mkdtemp(prefix=f"runner-profile-plan-{size}-"))
    try:
        ws = Workspace(tmp, size)
        store = open_store(home=ws.fresh_home("profile"))
        try:
            expect_plan(apply_config([ws.folder], store, now=now()).plan, add=size)
            editor = OneFileEditor(ws.paths)
            for _ in range(2):  # warm-up: the same cycle, untimed
                job = change_one(ws, store, editor)
                expect_one_change(make_plan([ws.folder], store, now=now()), size, job)
            job = change_one(ws, store, editor)
            prof = cProfile.Profile()
            started = time.perf_counter()
            result = prof.runcall(make_plan, [ws.folder], store, now=now())
            wall = time.perf_counter() - started
            expect_one_change(result, size, job)
        finally:
            store.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    title = f"{ONE_CHANGED}, {size:,} files, in-process ({wall:.3f} s profiled)"
    common.print_profile(prof, out, title=title, code=RUNNER_CODE, top=top)


# ---------------------------------------------------------------------------- output


def table(pairs: list[Pair]) -> str:
    head = (  # in groups: the case, in-process, as a command, the target
        *("size", "case", "n"),
        *("in-proc median s", "min s", "p90 s", "cpu s"),
        *("command median s", "min s", "p90 s", "cpu s"),
        *("target s", "target judged on", "result", "command vs target"),
    )
    rows = [head]
    for p in pairs:
        judged = p.inproc if p.inproc is not None and p.inproc.target is not None else p.command
        shown = p.command if judged is p.inproc else None
        result = "-" if judged is None else common.verdict(judged.passed)
        rows.append(
            (
                "-" if p.size is None else f"{p.size:,}",
                p.case,
                str(len((p.inproc or p.command or common.Result(None, "", [0.0])).samples)),
                *columns(p.inproc),
                *columns(p.command),
                "-" if p.target is None else f"{p.target:.2f}",
                "-" if p.target is None else ("in-proc median" if shown else "command median"),
                result,
                "-"
                if shown is None or p.target is None
                else ("under" if shown.median < p.target else "over"),
            )
        )
    return common.markdown_table(rows, left={1, 12, 14})


def columns(r: common.Result | None) -> tuple[str, str, str, str]:
    if r is None:
        return ("-", "-", "-", "-")
    cpu = "-" if r.cpu_median is None else f"{r.cpu_median:.3f}"
    return (f"{r.median:.3f}", f"{r.min:.3f}", f"{r.p90:.3f}", cpu)


# ---------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = common.sized_args(__doc__ or "", NAME)
    common.profile_args(
        parser, f'also cProfile one in-process "{ONE_CHANGED}" of the largest size', top=20
    )
    parser.add_argument(
        "--profile-only", action="store_true", help="only the profile: no timings, no JSON"
    )
    common.strict_arg(parser)
    args = parser.parse_args(argv)
    common.check_sized(parser, args)
    if args.profile_only and not args.profile:
        parser.error("--profile-only needs --profile PROF")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.profile_only:
        profile(max(args.sizes), args.profile, args.profile_top)
        return 0
    command = common.runner_command()
    started = dt.datetime.now(dt.UTC)
    info = common.machine()
    print("startup", file=sys.stderr)
    startup = [Pair(None, r.case, None, r) for r in common.bench_startup(command)]
    pairs: list[Pair] = []
    for size in args.sizes:
        pairs += bench_size(size, args.repeat, command)
    pairs += startup
    print()
    print(table(pairs))
    print(
        "\nTargets apply at 10,000 files and are judged on the in-process median; the command"
        "\nmedian (interpreter start-up and imports included) is shown against the same target."
    )

    results = [r for p in pairs for r in (p.inproc, p.command) if r is not None]
    report = common.new_report(
        "runner plan / apply",
        started,
        info,
        {"sizes": args.sizes, "repeat": args.repeat, "warmup": WARMUP},
        command=command,
        targets=[
            {"size": TARGET_SIZE, "case": case, "target_s": t, "judged_on": "in-process median"}
            for case, t in TARGETS.items()
        ],
        results=[r.as_json() for r in results],
    )
    common.write_report(report, common.out_path(args, NAME))

    if args.profile:
        profile(max(args.sizes), args.profile, args.profile_top)
    return common.exit_code(args.strict, (r.passed for r in results))


if __name__ == "__main__":
    sys.exit(main())
