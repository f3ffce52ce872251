"""The benchmarks still run, on tiny sizes, and `compare.py` reads what they wrote.

Slow (about a minute), so the README's test command leaves them out (`-m "not slow"`
in pyproject.toml) and CI runs them (`pytest -m slow`). They check that each script
works end to end and writes its report, never a figure: speed is judged by running the
benchmarks for real (bench/README.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
TINY = {
    "validate": ["--sizes", "50", "--repeat", "1"],
    "plan": ["--sizes", "50", "--repeat", "1"],
    "overhead": ["--tasks", "20", "--repeat", "1", "--parallel", "2", "--no-apscheduler"],
    "daemon": ["--quick", "--scenarios", "1", "--no-apscheduler"],
}

pytestmark = pytest.mark.slow


def _bench(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(BENCH / f"{name}.py"), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("results")
    for name, args in TINY.items():
        done = _bench(name, *args, "--results", str(folder))
        assert done.returncode == 0, f"bench/{name}.py failed:\n{done.stdout}\n{done.stderr}"
    return folder


@pytest.mark.parametrize("name", list(TINY))
def test_each_benchmark_writes_its_report(results: Path, name: str) -> None:
    report = json.loads((results / f"{name}.json").read_text())
    assert report["benchmark"].startswith("runner ")
    assert report["machine"]
    if name == "daemon":
        assert [row["scenario"] for row in report["rows"]] == [
            "runner: 1 job every 1s: firing delay"
        ]
        assert all(d["delay_ms"]["n"] > 0 for d in report["delays"])
    else:
        cases = {r["case"] for r in report["results"]}
        assert cases and all(r["samples"] for r in report["results"])


def test_compare_reads_two_runs(results: Path) -> None:
    done = _bench("compare", str(results), str(results), "--strict")
    assert done.returncode == 0, done.stderr
    assert "0 of " in done.stdout and "worse by more than 5 %" in done.stdout
    assert "validate in-process" in done.stdout and "runner: 1 job every 1s" in done.stdout


def test_compare_flags_a_slower_run(results: Path, tmp_path: Path) -> None:
    report = json.loads((results / "validate.json").read_text())
    for r in report["results"]:
        r["samples"] = [s * 2 for s in r["samples"]]
        for key in ("median_s", "min_s", "p90_s", "max_s"):
            r[key] = r[key] * 2
    (tmp_path / "validate.json").write_text(json.dumps(report))
    done = _bench("compare", str(results / "validate.json"), str(tmp_path / "validate.json"))
    assert "WORSE" in done.stdout
    strict = _bench(
        "compare", str(results / "validate.json"), str(tmp_path / "validate.json"), "--strict"
    )
    assert strict.returncode == 1


def test_the_fault_bench_runs_and_reports_each_scenario(tmp_path: Path) -> None:
    """bench/faults.py end to end on one cycle of two cheap groups: its table's rows are
    in the JSON report, each clean (`--strict` exits 1 otherwise)."""
    out = tmp_path / "faults.json"
    args = ["--cycles", "1", "--store", "sqlite", "--scenarios", "store,two", "--strict"]
    done = _bench("faults", *args, "--out", str(out))
    assert done.returncode == 0, f"bench/faults.py failed:\n{done.stdout}\n{done.stderr}"
    cases = json.loads(out.read_text())["cases"]
    assert [c["scenario"] for c in cases] == [
        "store truncated to zero",
        "store corrupt header",
        "two daemons, daemon.lock deleted",
    ]
    assert all(c["result"] == "ok" and c["faults"] == 1 for c in cases)
