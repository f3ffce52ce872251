"""`bench/api.py` still runs end to end, on tiny sizes, and writes its report.

Slow (a daemon of 1,000 jobs, then one with a few SSE clients: about half a minute), so
marked like test_bench_smoke.py: the default run leaves it out, CI runs it (`pytest -m
slow`). It checks that the script works and that its clients really read the stream,
never a figure: speed is judged by running the benchmark for real (bench/README.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"

pytestmark = pytest.mark.slow


def test_api_benchmark_writes_its_report(tmp_path: Path) -> None:
    tiny = ["--quick", "--ticks", "2", "--sse-clients", "3", "--results", str(tmp_path)]
    done = subprocess.run(
        [sys.executable, str(BENCH / "api.py"), *tiny],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"bench/api.py failed:\n{done.stdout}\n{done.stderr}"
    report = json.loads((tmp_path / "api.json").read_text())
    assert [c["case"] for c in report["cases"]] == [
        "GET /v1/jobs (1,000 jobs)",
        "POST /v1/jobs/{job}/runs",
        "firing delay, 3 SSE clients vs none",
    ]
    assert [d["delay_ms"]["n"] for d in report["delays"]] == [2, 2]
    check = report["sse"]["check"]
    assert check["connected_min"] == 3
    assert check["events_per_block_min"] > 0
    assert check["events_by_kind"].keys() >= {"run", "task"}
