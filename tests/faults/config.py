"""Configuration faults, shared by tests/faults/test_config.py and bench/faults.py:
while a real daemon runs a job every second, its folder gets hostile YAML (billion
laughs aliases, deep nesting, a huge scalar, binary junk), a symlink loop, a file
written in two parts, and many files changed at once. Promise (SPEC 1, 2): the daemon
stays up, applies the valid files, names the bad ones, and its ticks keep firing."""

from __future__ import annotations

import os
import time

from tests.faults.scenarios import FaultEnv, Tally, tick_job
from tests.waiting import DEADLINE, wait_for

LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + n)}: &{chr(98 + n)} [{', '.join(['*' + chr(97 + n)] * 10)}]\n" for n in range(8)
)
HOSTILE = {
    "laughs.yaml": LAUGHS,
    "deep.yaml": "[" * 5000 + "]" * 5000 + "\n",
    "huge.yaml": "name: " + "x" * 8_000_000 + "\n",
    "junk.yaml": None,  # binary bytes, written below
}


def _job(name: str) -> str:
    return f"""
        apiVersion: runner/v1
        kind: Job
        name: {name}
        schedule: {{every: 1h}}
        tasks:
          - {{name: work, run: "true"}}
        """


def _jobs(env: FaultEnv) -> set[str]:
    done = env.runner("jobs", "--json")
    if done.returncode != 0:
        return set()
    import json

    return {j["name"] for j in json.loads(done.stdout)}


def hostile(env: FaultEnv, *, files: int = 1000) -> Tally:
    """Every hostile shape at once, a symlink loop, a half-written file, then `files`
    valid jobs written at once; counted: bad files not named (problems), valid jobs not
    applied (lost), the daemon's exit and the ticks' runs."""
    tally = Tally(scenario=f"hostile config, {files} files at once", store="sqlite", cycles=1)
    started = time.monotonic()
    tick_job(env)
    daemon = env.start_with()
    daemon.wait_up()
    for name, text in HOSTILE.items():
        path = env.config / name
        if text is None:
            path.write_bytes(os.urandom(4096))
        else:
            path.write_text(text)
    (env.config / "loop").mkdir()
    (env.config / "loop" / "back").symlink_to("..")
    half = _job("halved")
    (env.config / "halved.yaml").write_text(half[: len(half) // 2])
    env.write("fresh.yaml", _job("fresh"))
    tally.faults = len(HOSTILE) + 2
    try:
        wait_for("the valid new job applied", lambda: "fresh" in _jobs(env), DEADLINE * 3)
        (env.config / "halved.yaml").write_text(half)  # the second part
        wait_for("the half-written job applied", lambda: "halved" in _jobs(env), DEADLINE * 3)
        for n in range(files):
            env.write(f"many/m{n:05d}.yaml", _job(f"m{n:05d}"))
        tally.faults += files
        wait_for(
            f"the {files} jobs applied",
            lambda: sum(j.startswith("m") for j in _jobs(env)) == files,
            DEADLINE * 6,
        )
    except AssertionError as exc:
        tally.problems.append(str(exc).splitlines()[0][:200])
    applied = _jobs(env)
    tally.lost = (
        len({"fresh", "halved"} - applied) + files - sum(j.startswith("m") for j in applied)
    )
    log = daemon.log()
    rejected = "\n".join(daemon.events("config-rejected") + daemon.events("config-error"))
    unnamed = [n for n in HOSTILE if n not in rejected]
    if unnamed:
        tally.problems.append(f"bad files not named: {unnamed}")
    if "internal-error" in log or "Traceback" in log:
        tally.problems.append("an internal error or a traceback in the daemon's log")
    if daemon.proc.poll() is not None:
        tally.problems.append(f"the daemon exited {daemon.proc.returncode}")
    seen = len(env.runs("tick"))
    try:
        wait_for("the ticks to go on", lambda: len(env.runs("tick")) > seen + 1)
    except AssertionError as exc:
        tally.problems.append(str(exc).splitlines()[0][:200])
    tally.runs = len(env.runs("tick"))
    if daemon.stop() != 0:
        tally.problems.append(f"the daemon exited {daemon.proc.returncode} on SIGTERM")
    tally.seconds = time.monotonic() - started
    return tally
