"""Benchmark the HTTP API of `runner daemon --api` (issue 15): a real daemon on a
loopback port holding 1,000 jobs, driven over HTTP by one client, as a dashboard or CI
would.

* `GET /v1/jobs` with 1,000 jobs: p99 under 50 ms.
* `POST /v1/jobs/{job}/runs`: p99 under 20 ms, up to the run's commit (the answer comes
  once the run is in the store).

Usage (from the repository root): `python bench/api.py [--quick] [--strict]`; it prints
a table and writes bench/results/api.json (or --results DIR/api.json).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # bench/common.py, beside this file

TOKEN = "bench-token"
JOBS = 1000
TARGETS = {"GET /v1/jobs (1,000 jobs)": 0.050, "POST /v1/jobs/{job}/runs": 0.020}
MANUAL = """apiVersion: runner/v1
kind: Job
name: bench-manual
schedule: {mode: manual, overlap: allow}
tasks:
  - {name: t, run: "true"}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_daemon(root: Path, port: int) -> subprocess.Popen[bytes]:
    config = root / "jobs.d"
    config.mkdir()
    common.write_jobs(config, JOBS)
    (config / "bench-manual.yaml").write_text(MANUAL)
    env = {**os.environ, "RUNNER_API_TOKEN": TOKEN}
    command = [
        *common.runner_command(),
        "daemon",
        "--config",
        str(config),
        "--home",
        str(root / "home"),
        "--api",
        f"127.0.0.1:{port}",
        "--max-parallel",
        "4",
    ]
    return subprocess.Popen(command, env=env, stderr=(root / "daemon.log").open("wb"))


def wait_ready(api: httpx.Client, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            if len(api.get("/v1/jobs").json()) == JOBS + 1:
                return
        except (httpx.HTTPError, ValueError, TypeError):
            pass
        time.sleep(0.2)
    raise SystemExit("the daemon's API did not come up with every job applied")


def timed(fn: Any, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        began = time.perf_counter()
        response = fn()
        out.append(time.perf_counter() - began)
        if response.status_code >= 300:
            raise SystemExit(f"{response.status_code}: {response.text[:200]}")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples")
    common.output_args(parser, "api")
    common.strict_arg(parser)
    args = parser.parse_args()
    started = dt.datetime.now(dt.UTC)
    reads, posts = (30, 100) if args.quick else (200, 500)
    samples: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="runner-bench-api-") as tmp:
        root, port = Path(tmp), free_port()
        daemon = start_daemon(root, port)
        auth = {"Authorization": f"Bearer {TOKEN}"}
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=auth) as api:
                wait_ready(api, time.monotonic() + 120)
                samples["GET /v1/jobs (1,000 jobs)"] = timed(lambda: api.get("/v1/jobs"), reads)
                samples["POST /v1/jobs/{job}/runs"] = timed(
                    lambda: api.post("/v1/jobs/bench-manual/runs", json={}), posts
                )
        finally:
            daemon.terminate()
            daemon.wait(timeout=60)
    rows = [["case", "p50 ms", "p99 ms", "target p99", "result"]]
    cases = []
    for case, values in samples.items():
        p99, target = common.pct(values, 99), TARGETS[case]
        passed = p99 < target
        rows.append(
            [
                case,
                f"{common.pct(values, 50) * 1000:.1f}",
                f"{p99 * 1000:.1f}",
                f"< {target * 1000:g} ms",
                common.verdict(passed),
            ]
        )
        cases.append(
            {
                "case": case,
                "target_p99_s": target,
                "passed": passed,
                "seconds": common.summary(values),
            }
        )
    print(f"\nrunner daemon --api, {os.cpu_count()} CPUs, one client on loopback\n")
    print(common.markdown_table(rows, left={0, 4}))
    report = common.new_report("api", started, common.machine(), {"quick": args.quick}, cases=cases)
    common.write_report(report, common.out_path(args, "api"))
    return common.exit_code(args.strict, (c["passed"] for c in cases))


if __name__ == "__main__":
    sys.exit(main())
