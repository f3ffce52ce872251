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
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from runner.config.loader import load_config

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # bench/common.py, beside this file

NAME = "validate"  # bench/results/validate.json

# Targets in seconds, by (size, case); a case without a target is reported, not judged.
TARGETS: dict[tuple[int | None, str], float] = {
    (10_000, "validate in-process"): 2.0,
    (10_000, "validate command"): 2.5,
    (None, "runner --help"): common.HELP_TARGET_S,
}
SLOW_RUN_S = 3.0  # an in-process run slower than this cuts large sizes to 3 repeats
SLOW_SIZE = 10_000

# ---------------------------------------------------------------------------- cases


def bench_size(size: int, repeat: int, command: list[str]) -> list[common.Result]:
    results: list[common.Result] = []
    tmp = Path(tempfile.mkdtemp(prefix=f"runner-bench-{size}-"))
    try:
        paths = common.write_jobs(tmp, size)
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
            wall, used = common.timed(lambda: load_config([folder]))
            samples.append(wall)
            cpu.append(used)
            if size >= SLOW_SIZE and wall > SLOW_RUN_S and len(samples) >= 3:
                n_in = len(samples)
                break
        notes = f"cut to {n_in} repeats (slow)" if n_in < repeat else ""
        results.append(
            common.Result(
                size,
                "validate in-process",
                samples,
                cpu,
                TARGETS.get((size, "validate in-process")),
                notes=notes,
                extra={"bytes": total_bytes},
            )
        )
        common.progress(results[-1])
        results.append(
            common.Result(
                size,
                "validate command",
                *common.sample(run_command, repeat),
                TARGETS.get((size, "validate command")),
                notes=" ".join(Path(c).name for c in command) + " validate",
                extra={"bytes": total_bytes},
            )
        )
        common.progress(results[-1])
        for case, fn in (
            ("floor: list (os.walk)", list_files),
            ("floor: read bytes", read_all),
            ("floor: yaml CSafeLoader", yaml_all),
        ):
            results.append(common.Result(size, case, *common.sample(fn, repeat), kind="floor"))
            common.progress(results[-1])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return results


def profile(size: int, out: Path, top: int = 25) -> None:
    """cProfile one in-process validation of `size` files; print the top functions."""
    tmp = Path(tempfile.mkdtemp(prefix=f"runner-profile-{size}-"))
    try:
        common.write_jobs(tmp, size)
        load_config([str(tmp)])  # warm-up
        prof = cProfile.Profile()
        prof.runcall(load_config, [str(tmp)])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    stats = common.save_profile(prof, out)
    for key in ("cumulative", "tottime"):
        print(f"\n--- profile of {size:,} files in-process, by {key} (top {top}) ---")
        stats.sort_stats(key).print_stats(top)
    print(f"profile written to {out} (python -m pstats {out})")


# ---------------------------------------------------------------------------- output


def table(results: list[common.Result]) -> str:
    head = ("size", "what", "n", "median s", "min s", "p90 s", "cpu s", "target s", "result")
    rows = [head]
    for r in results:
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
                common.verdict(r.passed),
            )
        )
    return common.markdown_table(rows, left={1})  # the `what` column; numbers right-aligned


# ---------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = common.sized_args(__doc__ or "", NAME)
    common.profile_args(
        parser, "also cProfile one in-process run of the largest size and write pstats here"
    )
    common.strict_arg(parser)
    args = parser.parse_args(argv)
    common.check_sized(parser, args)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = common.runner_command()
    started = dt.datetime.now(dt.UTC)
    info = common.machine()
    results: list[common.Result] = []
    print("startup", file=sys.stderr)
    results += common.bench_startup(command)
    for size in args.sizes:
        results += bench_size(size, args.repeat, command)
    ordered = [r for r in results if r.size is not None] + [r for r in results if r.size is None]
    print()
    print(table(ordered))

    options = {"sizes": args.sizes, "repeat": args.repeat, "help_runs": common.HELP_RUNS}
    targets = [{"size": size, "case": case, "target_s": t} for (size, case), t in TARGETS.items()]
    report = common.new_report(
        "runner validate",
        started,
        info,
        options,
        command=command,
        targets=targets,
        results=[r.as_json() for r in ordered],
    )
    common.write_report(report, common.out_path(args, NAME))

    if args.profile:
        profile(max(args.sizes), args.profile)
    return common.exit_code(args.strict, (r.passed for r in ordered))


if __name__ == "__main__":
    sys.exit(main())
