"""What the benchmarks in this folder share: timing and percentiles, the generated job
files, `runner` as a command, APScheduler imported by name, machine details, the
Markdown table, the JSON report and the output options. Not a benchmark itself.

Imported as `common` (each benchmark puts this folder first on `sys.path`).
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import gc
import importlib
import json
import math
import os
import platform
import pstats
import random
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

import runner

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"

HELP_RUNS = 20  # runs of `runner --help` and of `python -c pass`
HELP_TARGET_S = 0.15  # `runner --help`, judged on the median


# ---------------------------------------------------------------------------- timing


def cpu_seconds() -> float:
    """CPU time of this process and of its waited-for children, user + system."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def timed(fn: Callable[[], object]) -> tuple[float, float]:
    """Wall and CPU seconds `fn` takes, from a collected heap; freeing its result is not
    counted."""
    gc.collect()
    cpu = cpu_seconds()
    start = time.perf_counter()
    result = fn()
    elapsed = time.perf_counter() - start
    cpu = cpu_seconds() - cpu
    del result
    return elapsed, cpu


def sample(
    fn: Callable[[], object], repeat: int, *, warmup: int = 1
) -> tuple[list[float], list[float]]:
    """`repeat` timed runs after `warmup` untimed ones: (wall samples, CPU samples)."""
    for _ in range(warmup):
        fn()
    runs = [timed(fn) for _ in range(repeat)]
    return [w for w, _ in runs], [c for _, c in runs]


def pct(values: Sequence[float], q: float) -> float:
    """The q-th percentile, interpolated between samples (inclusive)."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    pos = (len(ordered) - 1) * q / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def summary(values: Sequence[float]) -> dict[str, Any]:
    """n, min, p50, p90, p99 and max of some samples ({"n": 0} for none)."""
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "min": min(values),
        "p50": pct(values, 50),
        "p90": pct(values, 90),
        "p99": pct(values, 99),
        "max": max(values),
    }


@dataclass
class Result:
    """The samples of one timed case, judged on their median against a target."""

    size: int | None
    case: str
    samples: list[float]  # wall-clock seconds
    cpu_samples: list[float] = field(default_factory=list)  # CPU seconds, user + system
    target: float | None = None
    kind: str = "runner"  # runner or floor
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def min(self) -> float:
        return min(self.samples)

    @property
    def p90(self) -> float:
        if len(self.samples) < 2:
            return self.samples[0]
        return statistics.quantiles(self.samples, n=10, method="inclusive")[-1]

    @property
    def cpu_median(self) -> float | None:
        return statistics.median(self.cpu_samples) if self.cpu_samples else None

    @property
    def passed(self) -> bool | None:
        return None if self.target is None else self.median < self.target

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(
            repeat=len(self.samples),
            median_s=self.median,
            min_s=self.min,
            p90_s=self.p90,
            max_s=max(self.samples),
            cpu_median_s=self.cpu_median,
            passed=self.passed,
        )
        return data


def progress(r: Result) -> None:
    size = "-" if r.size is None else f"{r.size:,}"
    print(f"  {size:>7} {r.case:<26} median {r.median:.3f} s  min {r.min:.3f} s", file=sys.stderr)


# ---------------------------------------------------------------------------- runner


def runner_command() -> list[str]:
    """The `runner` console script beside this interpreter, else `python -m runner`."""
    script = Path(sys.executable).parent / ("runner.exe" if os.name == "nt" else "runner")
    return [str(script)] if script.exists() else [sys.executable, "-m", "runner"]


def bench_startup(command: list[str]) -> list[Result]:
    """`runner --help` (target HELP_TARGET_S) and `python -c pass`, the start-up floor."""

    def run(argv: list[str]) -> Callable[[], None]:
        def go() -> None:
            done = subprocess.run(argv, capture_output=True)
            if done.returncode != 0:
                raise AssertionError(f"{argv}: exit {done.returncode}: {done.stderr[-300:]!r}")

        return go

    results = [
        Result(
            None,
            "runner --help",
            *sample(run([*command, "--help"]), HELP_RUNS, warmup=2),
            HELP_TARGET_S,
            notes=" ".join(Path(c).name for c in command) + " --help",
        ),
        Result(
            None,
            "floor: python -c pass",
            *sample(run([sys.executable, "-c", "pass"]), HELP_RUNS, warmup=2),
            kind="floor",
        ),
    ]
    for r in results:
        progress(r)
    return results


# ---------------------------------------------------------------------------- job files

TEAMS = ("data", "web", "billing", "ops", "ml")
TIERS = ("gold", "silver", "bronze")
ZONES = (
    "Europe/Berlin",
    "UTC",
    "America/New_York",
    "Asia/Tokyo",
    "Europe/London",
    "Australia/Sydney",
)
CRONS = (
    "{m} 2 * * 1-5",
    "*/15 * * * *",
    "{m} 6 * * *",
    "{m} */4 * * *",
    "@daily",
    "{m} 3 1 * *",
    "{m} 9-17 * * 1-5",
    "{m} 0 * * 0",
)
WHAT = ("Export", "Import", "Rebuild", "Reconcile", "Archive", "Refresh", "Score", "Sync")
THINGS = ("batch", "orders", "invoices", "search index", "reports", "customers", "events")


def job_text(i: int, rng: random.Random) -> str:
    """One realistic job file: apiVersion, kind, name, description, labels, a schedule
    and three tasks; a few optional fields vary from job to job. Always valid."""
    team = TEAMS[i % len(TEAMS)]
    cron = rng.choice(CRONS).format(m=rng.randrange(60))
    lines = [
        "apiVersion: runner/v1",
        "kind: Job",
        f"name: job-{i:05d}",
        f"description: {rng.choice(WHAT)} {rng.choice(THINGS)} {i}",
        f"labels: {{team: {team}, tier: {rng.choice(TIERS)}}}",
        "schedule:",
        f'  cron: "{cron}"',
        f"  timezone: {rng.choice(ZONES)}",
    ]
    if i % 7 == 3:
        lines.append("  overlap: queue")
    if i % 10 == 9:
        lines.append(f"after: job-{i - 1:05d}")  # a chain to the previous job: no cycles
    if i % 4 == 1:
        lines += ["retries:", "  limit: 2", "  delay: 30s"]
    lines += [
        "tasks:",
        "  - name: extract",
        '    run: ./extract.sh --day "$RUNNER_SCHEDULED_FOR"',
    ]
    if i % 5 == 2:
        lines += ["    env:", f"      SOURCE: s3://{team}-exports/{i}"]
    lines += [
        "  - name: transform",
        "    argv: [python, transform.py]",
        f"    timeout: {rng.choice((10, 20, 30, 45))}m",
        "  - name: load",
        "    run: ./load.sh",
    ]
    if i % 6 == 5:
        lines.append("    after: [extract, transform]")
    return "\n".join(lines) + "\n"


def write_jobs(folder: Path, count: int, seed: int = 42) -> list[Path]:
    """`count` job files in one sub-folder per team, as a team-owned jobs.d would be."""
    rng = random.Random(seed)
    paths = []
    for i in range(count):
        sub = folder / TEAMS[i % len(TEAMS)]
        sub.mkdir(exist_ok=True)
        path = sub / f"job-{i:05d}.yaml"
        path.write_text(job_text(i, rng), encoding="utf-8")
        paths.append(path)
    return sorted(paths)


# ---------------------------------------------------------------------------- APScheduler


def import_apscheduler() -> tuple[dict[str, ModuleType] | None, str]:
    """APScheduler's modules, or None and why not. Imported by name, so that neither
    running nor type-checking a benchmark needs it installed."""
    try:
        modules = {
            name: importlib.import_module(f"apscheduler.{name}")
            for name in ("schedulers.background", "executors.pool", "events")
        }
    except ImportError as exc:
        return None, f"APScheduler rows skipped: {exc} (pip install 'apscheduler==3.11.*')"
    found = version("APScheduler") or "?"
    if not found.startswith("3.11"):
        return modules, f"APScheduler {found}, not 3.11: rows shown, but not the version asked"
    return modules, f"APScheduler {found}"


# ---------------------------------------------------------------------------- machine


def version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def git_commit() -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        )
    except OSError:
        return None
    if done.returncode != 0:
        return None
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain"], capture_output=True)
    return done.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def machine() -> dict[str, Any]:
    affinity = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    return {
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(affinity) if affinity is not None else None,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        "libyaml": bool(getattr(yaml, "__with_libyaml__", False)),
        "packages": {
            p: version(p) for p in ("runner", "PyYAML", "pydantic", "pydantic_core", "cronsim")
        },
        "git_commit": git_commit(),
        "runner_module": str(Path(runner.__file__).parent),
        "loadavg_start": load_average(),
    }


def load_average() -> list[float] | None:
    """1, 5 and 15 minute load averages: other work on the machine skews every figure."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def filesystem(path: Path) -> str | None:
    """The type of the file system holding `path` (Linux): on tmpfs an fsync costs
    nothing, so synchronous=FULL would not be measured."""
    where = str(path.resolve())
    best: tuple[int, str] | None = None
    try:
        with open("/proc/self/mounts", encoding="utf-8") as mounts:
            for line in mounts:
                fields = line.split()
                if len(fields) < 3:
                    continue
                point = fields[1].replace("\\040", " ")
                inside = where == point or where.startswith(point.rstrip("/") + "/")
                if inside and (best is None or len(point) > best[0]):
                    best = (len(point), fields[2])
    except OSError:
        return None
    return None if best is None else best[1]


# ---------------------------------------------------------------------------- output


def verdict(passed: bool | None) -> str:
    return {None: "-", True: "pass", False: "FAIL"}[passed]


def markdown_table(rows: Sequence[Sequence[str]], *, left: set[int]) -> str:
    """Rows (the first is the header) as a Markdown table: the columns in `left` are
    left-aligned, the others (numbers) right-aligned. Every benchmark prints one."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        cells = [
            c.ljust(w) if i in left else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("| " + " | ".join(cells) + " |")
        if n == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def new_report(
    benchmark: str,
    started: dt.datetime,
    info: dict[str, Any],
    options: dict[str, Any],
    **fields: Any,
) -> dict[str, Any]:
    """A JSON report: what was run, when, on what machine, with which options; then
    `fields` (the targets and results) in the order given."""
    head = {"benchmark": benchmark, "started": started.isoformat(timespec="seconds")}
    return {**head, "machine": info, "options": options, **fields}


def exit_code(strict: bool, passed: Iterable[bool | None]) -> int:
    """1 under --strict when a case missed its target, else 0."""
    return 1 if strict and any(p is False for p in passed) else 0


def write_report(report: dict[str, Any], out: Path, note: str = "") -> None:
    """The JSON report, with the load averages at its end, written to `out`."""
    report["machine"]["loadavg_end"] = load_average()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"\nwritten to {out}{note}")


def save_profile(prof: cProfile.Profile, out: Path) -> pstats.Stats:
    out.parent.mkdir(parents=True, exist_ok=True)
    prof.dump_stats(str(out))
    return pstats.Stats(prof, stream=sys.stdout)


def print_profile(prof: cProfile.Profile, out: Path, *, title: str, code: str, top: int) -> None:
    """Write the profile to `out`; print the top lines of runner's code (`code`, a
    pattern on file names) by cumulative time, and the top functions by own time."""
    stats = save_profile(prof, out)
    print(f"\n--- profile: {title} ---")
    print(f"\n--- by cumulative time, runner's code only (top {top}) ---")
    stats.sort_stats("cumulative").print_stats(code, top)
    print(f"\n--- by own time, everything (top {top}) ---")
    stats.sort_stats("tottime").print_stats(top)
    print(f"profile written to {out} (python -m pstats {out})")


# ---------------------------------------------------------------------------- options


def output_args(parser: argparse.ArgumentParser, name: str) -> None:
    """--out FILE, or --results DIR for DIR/<name>.json: where the JSON report goes
    (bench/compare.py compares two such folders)."""
    default = RESULTS / f"{name}.json"
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--out", type=Path, default=default, help=f"JSON (default {default})")
    where.add_argument(
        "--results",
        type=Path,
        metavar="DIR",
        help=f"write the JSON as DIR/{name}.json instead (a folder for bench/compare.py)",
    )


def out_path(args: argparse.Namespace, name: str) -> Path:
    """Where the report goes, by --out or --results."""
    return args.results / f"{name}.json" if args.results is not None else Path(args.out)


def profile_args(parser: argparse.ArgumentParser, what: str, *, top: int | None = None) -> None:
    """--profile PROF (what is profiled: `what`) and, with `top`, --profile-top N."""
    parser.add_argument("--profile", type=Path, metavar="PROF", help=what)
    if top is not None:
        parser.add_argument(
            "--profile-top", type=int, default=top, help=f"lines shown (default {top})"
        )


def strict_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--strict", action="store_true", help="exit 1 when a case misses its target"
    )


def sized_args(doc: str, name: str) -> argparse.ArgumentParser:
    """The options of the benchmarks over generated job folders: --sizes, --repeat and
    the output options."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        type=lambda s: [int(x.replace("_", "")) for x in s.split(",") if x.strip()],
        default=[1_000, 10_000],
        help="comma-separated numbers of job files (default 1000,10000)",
    )
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per case (default 5)")
    output_args(parser, name)
    return parser


def check_sized(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if not args.sizes or min(args.sizes) < 1:
        parser.error("--sizes must be positive numbers")
