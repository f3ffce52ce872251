"""Compare two runs of the benchmarks: each case's median (and, for the daemon's firing
delays, p99) before and after, their ratio, and which got worse by more than 5 %.

Usage (from the repository root):

    python bench/compare.py OLD NEW                # two folders of results, or two files
    python bench/compare.py /tmp/before /tmp/after --threshold 10
    python bench/compare.py old/plan.json new/plan.json --strict   # exit 1 when worse

OLD and NEW are folders holding the JSON reports the benchmarks write (`--results DIR`
on each: validate.json, plan.json, overhead.json, daemon.json), matched by file name, or
two report files. Every figure compared is one where lower is better (seconds,
milliseconds, MB, % of a core), so `new/old` above 1 is slower or larger. Cases found
in only one of the two are listed below the table. The ratios carry the machine's noise
(±20 % between runs was seen on a shared 2-core VM): compare runs made on one machine,
one after the other, and repeat before believing a flag.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # bench/common.py, beside this file

THRESHOLD_PCT = 5.0


@dataclass(frozen=True)
class Figure:
    """One compared figure of one report: lower is better."""

    benchmark: str
    case: str
    measure: str
    value: float


def figures(report: dict[str, Any]) -> list[Figure]:
    """The figures of a report: the median of each timed case (validate, plan, overhead);
    for the daemon, the p50 and p99 of each firing delay, each scenario's value, and the
    CPU the daemon used for the 1,000 runs due at once."""
    name = str(report.get("benchmark", "?"))
    out: list[Figure] = []
    for r in report.get("results", []):
        size = "" if r.get("size") is None else f"{r['size']:,} files: "
        out.append(Figure(name, size + r["case"], "median s", r["median_s"]))
    for d in report.get("delays", []):
        for q in ("p50", "p99"):
            if d["delay_ms"].get(q) is not None:
                out.append(Figure(name, d["case"], f"delay {q} ms", d["delay_ms"][q]))
    for row in report.get("rows", []):
        firing = row["scenario"].endswith("firing delay")  # its p99 is in the delays above
        if row.get("value") is not None and not firing:
            out.append(Figure(name, row["scenario"], row.get("unit") or "-", row["value"]))
    burst = (report.get("thousand") or {}).get("burst_cpu_s")
    if burst is not None:  # steadier than the last start's wall time on a shared machine
        out.append(Figure(name, "runner: 1,000 jobs due at once: daemon CPU", "s", burst))
    return out


def load(path: Path) -> list[Figure]:
    return figures(json.loads(path.read_text(encoding="utf-8")))


def pairs_of(old: Path, new: Path) -> list[tuple[Path, Path]]:
    """The report files to compare: the two files, or the files of the same name in the
    two folders (a name in one folder only is said on stderr)."""
    if old.is_file() and new.is_file():
        return [(old, new)]
    if not (old.is_dir() and new.is_dir()):
        raise SystemExit(f"error: {old} and {new} must be two folders or two files")
    olds = {p.name for p in old.glob("*.json")}
    news = {p.name for p in new.glob("*.json")}
    for name in sorted(olds ^ news):
        print(f"only in {old if name in olds else new}: {name}", file=sys.stderr)
    return [(old / name, new / name) for name in sorted(olds & news)]


@dataclass(frozen=True)
class Compared:
    old: Figure
    new: Figure

    @property
    def ratio(self) -> float | None:
        return self.new.value / self.old.value if self.old.value > 0 else None

    def worse(self, threshold_pct: float) -> bool:
        ratio = self.ratio
        if ratio is None:
            return self.new.value > self.old.value
        return ratio > 1 + threshold_pct / 100


def key(f: Figure) -> tuple[str, str, str]:
    return f.benchmark, f.case, f.measure


def compare(
    old: list[Figure], new: list[Figure]
) -> tuple[list[Compared], list[Figure], list[Figure]]:
    """The figures found in both, in the new run's order; those only in the old; only in
    the new."""
    before = {key(f): f for f in old}
    after = {key(f): f for f in new}
    both = [Compared(before[key(f)], f) for f in new if key(f) in before]
    return both, [f for f in old if key(f) not in after], [f for f in new if key(f) not in before]


def number(value: float) -> str:
    return f"{value:.4g}"


def table(rows: list[Compared], threshold_pct: float) -> str:
    cells = [("benchmark", "case", "measure", "old", "new", "new/old", "flag")]
    for c in rows:
        ratio = c.ratio
        cells.append(
            (
                c.new.benchmark,
                c.new.case,
                c.new.measure,
                number(c.old.value),
                number(c.new.value),
                "-" if ratio is None else f"{ratio:.2f}",
                f"WORSE > {threshold_pct:g} %" if c.worse(threshold_pct) else "",
            )
        )
    return common.markdown_table(cells, left={0, 1, 2, 6})


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("old", type=Path, help="the results before: a folder or a file")
    parser.add_argument("new", type=Path, help="the results after: a folder or a file")
    parser.add_argument(
        "--threshold",
        type=float,
        default=THRESHOLD_PCT,
        metavar="PCT",
        help=f"flag a figure worse by more than this many %% (default {THRESHOLD_PCT:g})",
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when a figure is worse")
    args = parser.parse_args(argv)
    if args.threshold < 0:
        parser.error("--threshold must not be negative")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    rows: list[Compared] = []
    gone: list[Figure] = []
    added: list[Figure] = []
    for old, new in pairs_of(args.old, args.new):
        both, only_old, only_new = compare(load(old), load(new))
        rows += both
        gone += only_old
        added += only_new
    if not rows:
        print("nothing to compare: no case is in both", file=sys.stderr)
        return 1
    print(f"old: {args.old}\nnew: {args.new}\n")
    print(table(rows, args.threshold))
    for label, figs in (("only in old", gone), ("only in new", added)):
        for f in figs:
            print(f"{label}: {f.benchmark}: {f.case} ({f.measure})")
    worse = [c for c in rows if c.worse(args.threshold)]
    print(f"\n{len(worse)} of {len(rows)} figures worse by more than {args.threshold:g} %")
    return common.exit_code(args.strict, (not c.worse(args.threshold) for c in rows))


if __name__ == "__main__":
    sys.exit(main())
