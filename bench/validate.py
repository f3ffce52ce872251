"""Benchmark `runner validate` on generated folders of 1,000 and 10,000 job files.

Usage (from the repository root, with runner installed in the running interpreter):

    python bench/validate.py                      # sizes 1000,10000, 5 repeats
    python bench/validate.py --sizes 1000 --repeat 3 --out /tmp/validate.json
    python bench/validate.py --profile /tmp/validate.prof   # also cProfile the largest size

For each size it writes one Job per file (3 tasks, schedule, labels) into a temporary
folder, then times:

- validate, in-process: `load_config([folder])` (asserted valid, N files, N resources);
- validate, command: `runner validate FOLDER` in a fresh interpreter (asserted exit 0);
- floors on the same files: listing them, reading their bytes, and PyYAML's
  CSafeLoader `load_all` over every file (read + decode + load).

It also times `runner --help` and `python -c pass` (the start-up floor). It prints a
table and writes every sample, with machine information, as JSON.

Each timed case first runs once untimed (a warm-up: page cache, lazy imports, caches),
then `--repeat` times. The in-process case at 10,000 files or more drops to 3 repeats
when one run takes longer than 3 s. p90 is interpolated between samples (inclusive
method), so with 5 samples it lies between the 4th and 5th fastest. Before each timed
run the heap is collected; freeing the in-process result is not timed. Targets are judged
on the median wall time. The `cpu s` column is the median user + system CPU seconds
(children included): wall well above CPU means the process waited (other work in the same
machine; load averages are in the JSON). On a virtual machine whose host is busy, CPU time
swings too: judge by the min and by repeated runs. POSIX only.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import gc
import json
import os
import platform
import pstats
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

import runner
from runner.config.loader import load_config

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "bench" / "results" / "validate.json"

# Targets in seconds, by (size, case); a case without a target is reported, not judged.
TARGETS: dict[tuple[int | None, str], float] = {
    (10_000, "validate in-process"): 2.0,
    (10_000, "validate command"): 2.5,
    (None, "runner --help"): 0.15,
}
HELP_RUNS = 20
SLOW_RUN_S = 3.0  # an in-process run slower than this cuts large sizes to 3 repeats
SLOW_SIZE = 10_000

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


# ---------------------------------------------------------------------------- files


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


# ---------------------------------------------------------------------------- timing


@dataclass
class Result:
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


def runner_command() -> list[str]:
    """The `runner` console script beside this interpreter, else `python -m runner`."""
    script = Path(sys.executable).parent / ("runner.exe" if os.name == "nt" else "runner")
    return [str(script)] if script.exists() else [sys.executable, "-m", "runner"]


# ---------------------------------------------------------------------------- cases


def bench_size(size: int, repeat: int, command: list[str]) -> list[Result]:
    results: list[Result] = []
    tmp = Path(tempfile.mkdtemp(prefix=f"runner-bench-{size}-"))
    try:
        paths = write_jobs(tmp, size)
        total_bytes = sum(p.stat().st_size for p in paths)
        print(f"\n{size:,} files, {total_bytes:,} bytes, in {tmp}", file=sys.stderr)
        folder = str(tmp)

        def check_in_process() -> None:
            config = load_config([folder])
            if not config.valid:
                raise AssertionError(f"not valid: {[d.text() for d in config.errors[:5]]}")
            resources = len(config.resources)
            if len(config.files) != size or config.resource_count != size or resources != size:
                raise AssertionError(
                    f"{len(config.files)} files, {config.resource_count} named, "
                    f"{resources} resources; expected {size}"
                )

        def run_command() -> None:
            done = subprocess.run([*command, "validate", folder], capture_output=True, text=True)
            if done.returncode != 0:
                raise AssertionError(
                    f"exit {done.returncode}: {done.stdout[-500:]}{done.stderr[-500:]}"
                )
            if f"{size:,} resources: valid" not in done.stdout:
                raise AssertionError(f"unexpected summary: {done.stdout[-300:]}")

        def list_files() -> None:
            found = [os.path.join(d, n) for d, _, names in os.walk(folder) for n in names]
            if len(found) != size:
                raise AssertionError(f"listed {len(found)} files; expected {size}")

        def read_all() -> None:
            for p in paths:
                p.read_bytes()

        def yaml_all() -> None:
            for p in paths:
                text = p.read_bytes().decode("utf-8")
                if len(list(yaml.load_all(text, Loader=yaml.CSafeLoader))) != 1:
                    raise AssertionError(f"{p}: expected one document")

        # Assertions are kept out of the timed region for the in-process case: the
        # properties it reads sort every diagnostic, which load_config itself does not.
        check_in_process()  # warm-up and check
        n_in = repeat
        samples: list[float] = []
        cpu: list[float] = []
        for _ in range(repeat):
            wall, used = timed(lambda: load_config([folder]))
            samples.append(wall)
            cpu.append(used)
            if size >= SLOW_SIZE and wall > SLOW_RUN_S and len(samples) >= 3:
                n_in = len(samples)
                break
        notes = f"cut to {n_in} repeats (slow)" if n_in < repeat else ""
        results.append(
            Result(
                size,
                "validate in-process",
                samples,
                cpu,
                TARGETS.get((size, "validate in-process")),
                notes=notes,
                extra={"bytes": total_bytes},
            )
        )
        progress(results[-1])
        results.append(
            Result(
                size,
                "validate command",
                *sample(run_command, repeat),
                TARGETS.get((size, "validate command")),
                notes=" ".join(Path(c).name for c in command) + " validate",
                extra={"bytes": total_bytes},
            )
        )
        progress(results[-1])
        for case, fn in (
            ("floor: list (os.walk)", list_files),
            ("floor: read bytes", read_all),
            ("floor: yaml CSafeLoader", yaml_all),
        ):
            results.append(Result(size, case, *sample(fn, repeat), kind="floor"))
            progress(results[-1])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return results


def bench_startup(command: list[str]) -> list[Result]:
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
            TARGETS[(None, "runner --help")],
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


def profile(size: int, out: Path, top: int = 25) -> None:
    """cProfile one in-process validation of `size` files; print the top functions."""
    tmp = Path(tempfile.mkdtemp(prefix=f"runner-profile-{size}-"))
    try:
        write_jobs(tmp, size)
        load_config([str(tmp)])  # warm-up
        prof = cProfile.Profile()
        prof.runcall(load_config, [str(tmp)])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    prof.dump_stats(str(out))
    stats = pstats.Stats(prof, stream=sys.stdout)
    for key in ("cumulative", "tottime"):
        print(f"\n--- profile of {size:,} files in-process, by {key} (top {top}) ---")
        stats.sort_stats(key).print_stats(top)
    print(f"profile written to {out} (python -m pstats {out})")


# ---------------------------------------------------------------------------- output


def progress(r: Result) -> None:
    size = "-" if r.size is None else f"{r.size:,}"
    print(f"  {size:>7} {r.case:<26} median {r.median:.3f} s  min {r.min:.3f} s", file=sys.stderr)


def table(results: list[Result]) -> str:
    head = ("size", "what", "n", "median s", "min s", "p90 s", "cpu s", "target s", "result")
    rows = [head]
    for r in results:
        verdict = {None: "-", True: "pass", False: "FAIL"}[r.passed]
        rows.append(
            (
                "-" if r.size is None else f"{r.size:,}",
                r.case,
                str(len(r.samples)),
                f"{r.median:.3f}",
                f"{r.min:.3f}",
                f"{r.p90:.3f}",
                "-" if r.cpu_median is None else f"{r.cpu_median:.3f}",
                "-" if r.target is None else f"{r.target:.2f}",
                verdict,
            )
        )
    return markdown_table(rows, left={1})  # the `what` column; numbers right-aligned


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


# ---------------------------------------------------------------------------- main


def common_args(doc: str, out: Path) -> argparse.ArgumentParser:
    """The options every benchmark here takes: --sizes, --repeat, --out."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        type=lambda s: [int(x.replace("_", "")) for x in s.split(",") if x.strip()],
        default=[1_000, 10_000],
        help="comma-separated numbers of job files (default 1000,10000)",
    )
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per case (default 5)")
    parser.add_argument("--out", type=Path, default=out, help=f"JSON (default {out})")
    return parser


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = common_args(__doc__ or "", DEFAULT_OUT)
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="PROF",
        help="also cProfile one in-process run of the largest size and write pstats here",
    )
    parser.add_argument(
        "--strict", action="store_true", help="exit 1 when a case misses its target"
    )
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if not args.sizes or min(args.sizes) < 1:
        parser.error("--sizes must be positive numbers")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = runner_command()
    started = dt.datetime.now(dt.UTC)
    info = machine()
    results: list[Result] = []
    print("startup", file=sys.stderr)
    results += bench_startup(command)
    for size in args.sizes:
        results += bench_size(size, args.repeat, command)
    ordered = [r for r in results if r.size is not None] + [r for r in results if r.size is None]
    print()
    print(table(ordered))

    report: dict[str, Any] = {
        "benchmark": "runner validate",
        "started": started.isoformat(timespec="seconds"),
        "machine": info,
        "options": {"sizes": args.sizes, "repeat": args.repeat, "help_runs": HELP_RUNS},
        "command": command,
        "targets": [
            {"size": size, "case": case, "target_s": t} for (size, case), t in TARGETS.items()
        ],
        "results": [r.as_json() for r in ordered],
    }
    report["machine"]["loadavg_end"] = load_average()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"\nwritten to {args.out}")

    if args.profile:
        profile(max(args.sizes), args.profile)
    missed = [r for r in ordered if r.passed is False]
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
