"""Configuration faults around a running run (issue 17), shared by
tests/faults/test_jobs.py and bench/faults.py, against a real daemon process.

* A job deleted from the folder while its run runs (SPEC 4): the job is `deleting`,
  refuses new runs ("being deleted"), its run goes on to its own end, then the job is
  gone and its history kept.
* A job held while it runs (SPEC 1.3, 3.1), by `runner hold` or by a `Hold` file: a
  hold on the running task is refused in one line, a whole-job hold is accepted; the
  running task is not stopped, the next one waits `held`, and runs once the hold is
  released (`runner release`, or the file removed); the run ends `success`.
* Symlink loops in the folder (defect 12; docs/decisions.md "Symlinks in the
  configuration folder"): each link named once (`symlink-loop`, `folder-read-twice`) by
  each apply of the daemon and by `runner validate`, every real file applied once.

Every task records its pid (tasks lead their process groups) for the leak count, and
waits for a file `release-RUN` before it ends, so that the test decides when."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.daemon.conftest import DaemonProcess
from tests.faults.scenarios import FaultEnv, Tally
from tests.waiting import DEADLINE, wait_for


def _waiting_task(env: FaultEnv, name: str, after: str = "") -> str:
    then = f", after: [{after}]" if after else ""
    return (
        f'  - {{name: {name}{then}, run: "echo $$ >> {env.pids}; '
        f'while [ ! -e {env.root}/release-$RUNNER_RUN_ID ]; do sleep 0.05; done"}}\n'
    )


def _job(name: str, tasks: str, schedule: str = "{mode: manual}") -> str:
    return f"apiVersion: runner/v1\nkind: Job\nname: {name}\nschedule: {schedule}\ntasks:\n{tasks}"


def _keep(env: FaultEnv) -> None:
    """A second job, so that deleting one is no deletion of everything (which the
    daemon never does on its own)."""
    env.write("keep.yaml", _job("keep", '  - {name: work, run: "true"}\n', "{every: 1h}"))


def _jobs(env: FaultEnv) -> dict[str, dict[str, Any]]:
    done = env.runner("jobs", "--json")
    return {j["name"]: j for j in json.loads(done.stdout)} if done.returncode == 0 else {}


def _json(env: FaultEnv, *args: str) -> Any:
    done = env.runner(*args, "--json")
    return json.loads(done.stdout) if done.returncode == 0 else None


def _task_states(env: FaultEnv, run: int) -> dict[str, str]:
    """The run's tasks' states, read from the store (as `runner status RUN` shows them)."""
    return {t.name: str(t.state) for t in env.run(run).tasks}


def _held(env: FaultEnv, job: str) -> bool:
    """Whether `runner status JOB` shows a hold on it."""
    return bool((_json(env, "status", job) or {}).get("holds"))


def _run_id(text: str) -> int:
    """The run id in `runner run`'s "run N of JOB queued ..."."""
    found = re.search(r"run (\d+) of", text)
    assert found, f"no run id in {text!r}"
    return int(found.group(1))


def _refused(tally: Tally, what: str, done: Any, says: str) -> None:
    """`done` must be a refusal: exit 1, one `error:` line holding `says`."""
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    if done.returncode != 1 or len(lines) != 1 or says not in lines[0]:
        tally.problems.append(f"{what}: exit {done.returncode}, said {done.stderr[-300:]!r}")


def _step(tally: Tally, what: str, check: Callable[[], bool], timeout: float) -> bool:
    try:
        wait_for(what, check, timeout)
    except AssertionError as exc:
        tally.problems.append(str(exc).splitlines()[0][:200])
        return False
    return True


def _daemon_clean(tally: Tally, daemon: DaemonProcess) -> None:
    log = daemon.log()
    if "Traceback" in log or "internal-error" in log:
        tally.problems.append(f"a traceback or internal error in the daemon's log: {log[-400:]!r}")
    if daemon.proc.poll() is not None:
        tally.problems.append(f"the daemon exited {daemon.proc.returncode}")
    elif daemon.stop() != 0:
        tally.problems.append(f"the daemon exited {daemon.proc.returncode} on SIGTERM")


def _leaks(env: FaultEnv, tally: Tally) -> None:
    tally.leaked = len(env.leaked_groups())


# --- a job deleted while its run runs ----------------------------------------------------


def deleted_while_running(env: FaultEnv, cycles: int) -> Tally:
    """`cycles` times: the job `doomed` written, run, and its file deleted while the run
    runs. Counted lost: a run that did not end `success` on its own or is missing from
    the history after its job is gone."""
    tally = Tally(scenario="job deleted while its run runs", store="sqlite", cycles=cycles)
    started = time.monotonic()
    _keep(env)
    daemon = env.start_with()
    daemon.wait_up()
    for _ in range(cycles):
        _delete_once(env, tally)
    _daemon_clean(tally, daemon)
    _leaks(env, tally)
    tally.seconds = time.monotonic() - started
    return tally


def _delete_once(env: FaultEnv, tally: Tally) -> None:
    env.write("doomed.yaml", _job("doomed", _waiting_task(env, "work")))
    if not _step(tally, "doomed applied", lambda: "doomed" in _jobs(env), DEADLINE * 2):
        return
    queued = env.runner("run", "doomed")
    run = _run_id(queued.stdout + queued.stderr)
    tally.runs += 1
    if not _step(
        tally,
        "its task running",
        lambda: _task_states(env, run) == {"work": "running"},
        DEADLINE * 2,
    ):
        return
    (env.config / "doomed.yaml").unlink()
    tally.faults += 1
    deleting = _step(
        tally,
        "doomed deleting",
        lambda: _jobs(env).get("doomed", {}).get("deleting") is True,
        DEADLINE * 2,
    )
    if deleting:
        _refused(
            tally, "runner run of a job being deleted", env.runner("run", "doomed"), "being deleted"
        )
        if _task_states(env, run) != {"work": "running"}:
            tally.problems.append(f"run {run} disturbed by the delete: {_task_states(env, run)}")
    (env.root / f"release-{run}").touch()
    gone = _step(
        tally, "doomed gone once its run ended", lambda: "doomed" not in _jobs(env), DEADLINE * 2
    )
    history = _json(env, "history", "doomed") or []
    kept = [r for r in history if r["id"] == run]
    if not kept or kept[0]["state"] != "success" or not gone:
        tally.lost += 1
        tally.problems.append(f"run {run} after its job was deleted: {kept}")


# --- a job held while it runs ------------------------------------------------------------

HOLD_FILE = "freeze.yaml"


def held_while_running(env: FaultEnv, cycles: int, *, how: str = "runtime") -> Tally:
    """`cycles` runs of `slow` (tasks `first`, then `second`), each held while `first`
    runs: by `runner hold` (`how` runtime) or a `Hold` file (config). `first` must end
    `success` (a hold does not stop a running task), `second` wait `held` until the hold
    is released, then run; the run ends `success`. Counted lost: a run that did not."""
    tally = Tally(scenario=f"job held while it runs ({how} hold)", store="sqlite", cycles=cycles)
    started = time.monotonic()
    tasks = _waiting_task(env, "first") + '  - {name: second, after: [first], run: "true"}\n'
    env.write("slow.yaml", _job("slow", tasks))
    daemon = env.start_with()
    daemon.wait_up()
    wait_for("slow applied", lambda: "slow" in _jobs(env), DEADLINE * 2)
    for n in range(cycles):
        _hold_once(env, tally, how, n)
    if how == "runtime" and len(daemon.events("task-held")) != tally.faults:
        tally.problems.append(f"task-held logged {len(daemon.events('task-held'))} times")
    _daemon_clean(tally, daemon)
    _leaks(env, tally)
    tally.seconds = time.monotonic() - started
    return tally


def _hold_once(env: FaultEnv, tally: Tally, how: str, n: int) -> None:
    queued = env.runner("run", "slow")
    run = _run_id(queued.stdout + queued.stderr)
    tally.runs += 1
    if not _step(
        tally,
        "first running",
        lambda: _task_states(env, run).get("first") == "running",
        DEADLINE * 2,
    ):
        return
    if how == "runtime":
        _refused(
            tally,
            "a hold on the running task",
            env.runner("hold", "slow", "--task", "first"),
            "running now",
        )
        placed = env.runner("hold", "slow", "--reason", f"fault {n}")
        if placed.returncode != 0:
            tally.problems.append(f"runner hold slow: {placed.returncode} {placed.stderr!r}")
            return
    else:
        env.write(
            HOLD_FILE,
            f"apiVersion: runner/v1\nkind: Hold\nname: freeze\njobs: [slow]\nreason: fault {n}\n",
        )
        if not _step(tally, "the Hold file applied", lambda: _held(env, "slow"), DEADLINE * 2):
            return
    tally.faults += 1
    if _task_states(env, run).get("first") != "running":
        tally.problems.append(f"run {run}: the hold disturbed the running task")
    (env.root / f"release-{run}").touch()
    want = {"first": "success", "second": "held"}
    if not _step(tally, "second held", lambda: _task_states(env, run) == want, DEADLINE * 2):
        tally.lost += 1
        return
    if how == "runtime":
        released = env.runner("release", "slow")
        if released.returncode != 0:
            tally.problems.append(f"runner release slow: {released.returncode} {released.stderr!r}")
    else:
        (env.config / HOLD_FILE).unlink()
    if not _step(
        tally,
        "the run to succeed once released",
        lambda: env.run(run).state == "success",
        DEADLINE * 2,
    ):
        tally.lost += 1


# --- symlink loops in the folder -----------------------------------------------------------

LOOPS = {"sub/back": "..", "self": ".", "alias": "sub"}  # link: target
NAMED = {"sub/back": "symlink-loop", "self": "symlink-loop", "alias": "folder-read-twice"}
LATER = "sub/deeper/up"  # a loop made while the daemon runs: to jobs.d


def symlink_loops(env: FaultEnv) -> Tally:
    """Loops in the folder at the daemon's start, one more while it runs: each named
    once per apply, by the daemon and by `runner validate`; the real files' jobs applied
    once (a file read twice would be a duplicate job), no traceback, the daemon up."""
    tally = Tally(scenario="symlink loops in the folder", store="sqlite", cycles=1)
    started = time.monotonic()
    env.write("a.yaml", _job("a", '  - {name: work, run: "true"}\n', "{every: 1h}"))
    env.write("sub/b.yaml", _job("b", '  - {name: work, run: "true"}\n', "{every: 1h}"))
    for link, target in LOOPS.items():
        (env.config / link).symlink_to(target)
    tally.faults = len(LOOPS)
    daemon = env.start_with()
    daemon.wait_up()
    _named_once(tally, "the daemon's start", daemon.lines(), NAMED)
    (env.config / "sub" / "deeper").mkdir()
    (env.config / LATER).symlink_to("../..")
    env.write("c.yaml", _job("c", '  - {name: work, run: "true"}\n', "{every: 1h}"))
    tally.faults += 1
    if _step(tally, "c applied", lambda: "c" in _jobs(env), DEADLINE * 2):
        lines = daemon.lines()
        applies = [i for i, line in enumerate(lines) if " config-applied " in line]
        last = lines[applies[-2] + 1 : applies[-1]] if len(applies) > 1 else []
        _named_once(tally, "the daemon's apply", last, {**NAMED, LATER: "symlink-loop"})
    if set(_jobs(env)) != {"a", "b", "c"}:
        tally.lost += 1
        tally.problems.append(f"jobs applied: {sorted(_jobs(env))}")
    _validate(env, tally)
    _daemon_clean(tally, daemon)
    tally.seconds = time.monotonic() - started
    return tally


def _named_once(tally: Tally, who: str, lines: list[str], named: dict[str, str]) -> None:
    """Each link named in exactly one `config-warning` line of `lines`, with its code's
    words, and no other warning or error."""
    warnings = [line for line in lines if " config-warning " in line or " config-error " in line]
    for link, code in named.items():
        path = f"jobs.d/{link}:"
        found = [line for line in warnings if path in line]
        words = "a symlink loop" if code == "symlink-loop" else "read already"
        if len(found) != 1 or words not in found[0]:
            tally.problems.append(f"{who} named {link} {len(found)} times: {found}")
    if len(warnings) != len(named):
        tally.problems.append(f"{who}: {len(warnings)} warnings for {len(named)} links: {warnings}")


def _validate(env: FaultEnv, tally: Tally) -> None:
    done = subprocess.run(  # validate takes no --home, which env.runner adds
        [sys.executable, "-m", "runner", "validate", "jobs.d", "--format", "json"],
        cwd=env.root,
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        check=False,
    )
    if done.returncode != 0:
        tally.problems.append(f"runner validate exited {done.returncode}: {done.stdout[-300:]!r}")
        return
    found = json.loads(done.stdout)
    named = {d["file"]: d["code"] for d in found["diagnostics"]}
    want = {f"jobs.d/{link}": code for link, code in {**NAMED, LATER: "symlink-loop"}.items()}
    if named != want or len(found["diagnostics"]) != len(want):
        tally.problems.append(f"runner validate named {found['diagnostics']}")
    if (found["file_count"], found["resource_count"]) != (3, 3):
        tally.problems.append(
            f"runner validate read {found['file_count']} files, {found['resource_count']} resources"
        )


# --- bench/faults.py -----------------------------------------------------------------------


def bench(store: str, cycles: int) -> list[Tally]:
    """Each scenario on a fresh folder, `cycles` times where it loops (SQLite: these
    are faults of the folder, not of the store)."""
    if store != "sqlite":
        return []
    scenarios: list[Callable[[FaultEnv], Tally]] = [
        lambda env: deleted_while_running(env, cycles),
        lambda env: held_while_running(env, cycles, how="runtime"),
        lambda env: held_while_running(env, cycles, how="config"),
        symlink_loops,
    ]
    out = []
    for scenario in scenarios:
        with tempfile.TemporaryDirectory(prefix="runner-bench-jobs-") as tmp:
            env = FaultEnv(Path(tmp))
            try:
                out.append(scenario(env))
            finally:
                env.stop_all()
    return out
