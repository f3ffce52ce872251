"""Reading runs (SPEC 6): a job's status, history with a time range, the last run of
each task, and logs. Every read first marks the runs on this host whose runner died
as `stale` (SPEC 3: whoever notices first)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from runner.clock import Clock
from runner.domain import ACTIVE_RUN_STATES, MAX_ID, RunState
from runner.domain.timing import timing_of
from runner.errors import NotFound, RunnerError, UsageError
from runner.executors.logs import LogFiles
from runner.reconciler.inventory import JobSummary, list_jobs
from runner.runs.cancel import find_run
from runner.runs.holds import blocking_hold, job_holds
from runner.runs.stale import mark_stale_runs
from runner.runs.trigger import Refused, applied_job
from runner.runs.views import run_from_json, run_json, when
from runner.spec.findings import did_you_mean
from runner.spec.schedules import NEXT_RUNS, first_n, ticks
from runner.spec.types import read_timestamp
from runner.store import RunRecord, Store, TaskRecord
from runner.system.procs import hostname

MISSED_REASONS = ("overlap", "deadline", "catchup", "held")


def refresh(store: Store, now: datetime) -> None:
    mark_stale_runs(store, host=hostname(), now=now)


def is_run_id(store: Store, target: str) -> bool:
    """`runner status 42`: a run when run 42 exists, else the job named "42"."""
    return target.isdigit() and int(target) <= MAX_ID and store.run(int(target)) is not None


@dataclass(frozen=True, slots=True)
class JobStatus:
    """`runner status JOB`: the job as `runner jobs` lists it, with its next runs, its
    holds (and what releases each), its active runs and the ticks that did not run."""

    job: JobSummary
    next_runs: list[datetime]  # the next three ticks of a schedule that runs by itself
    holds: list[dict[str, Any]]  # SPEC 6's hold objects
    active_runs: list[RunRecord]
    missed: dict[str, int]  # ticks that did not run, by reason
    tasks: list[str]

    def as_json(self) -> dict[str, Any]:
        """SPEC 6: the job's object plus `holds`, `active_runs` and `missed`."""
        out = self.job.as_json()
        out["next_runs"] = [when(t) for t in self.next_runs]
        out["holds"] = self.holds
        out["active_runs"] = [run_json(r) for r in self.active_runs]
        out["missed"] = self.missed
        out["tasks"] = self.tasks
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> JobStatus:
        """`as_json`'s answer read back (the CLI's `--server`)."""
        return cls(
            job=JobSummary.from_json(data),
            next_runs=[read_timestamp(t) for t in data["next_runs"]],
            holds=data["holds"],
            active_runs=[run_from_json(r) for r in data["active_runs"]],
            missed=data["missed"],
            tasks=data["tasks"],
        )


def job_status(store: Store, name: str, *, now: datetime) -> JobStatus:
    _, spec = applied_job(store, name)  # or the error for an unknown job
    (summary,) = list_jobs(store, now=now, name=name)
    schedule = spec.get("schedule") or {}
    auto = schedule.get("mode") == "auto" and schedule.get("enabled") and not spec.get("disabled")
    return JobStatus(
        job=summary,
        next_runs=first_n(ticks(timing_of(schedule), after=now), NEXT_RUNS) if auto else [],
        holds=job_holds(store, spec, now=now),
        active_runs=store.active_run_records(name),
        missed=store.missed_ticks(name, MISSED_REASONS),
        tasks=[t["name"] for t in spec.get("tasks") or ()],
    )


def refuse_held_tasks(store: Store, job: str, tasks: Sequence[str], *, now: datetime) -> None:
    """A foreground run does not wait for a hold to be released (a run queued to the
    daemon does), and a hold keeps its tasks from starting (SPEC 1.3): so a run that
    would start a held task is refused, saying which hold and what releases it. Runs
    of the tasks it does not cover (`--task`) go ahead."""
    _, spec = applied_job(store, job)
    found = blocking_hold(store, spec, selected=tasks, now=now)
    if found is not None:
        hold, covered = found
        raise Refused(
            f"job {job} is held by {hold['name']}"
            f"{' (runtime)' if hold['origin'] == 'runtime' else ''} on task "
            f"{', '.join(covered)} (until it is released: {hold['releases_when']}); "
            "without a daemon, runner run cannot wait for it: run the other tasks "
            "with --task, or after the release, or start runner daemon, which waits",
            code="task-held",
        )


def unknown_state(state: str) -> UsageError:
    """`--state S` naming no run state (`jobs`, `history`); the message lists them."""
    return UsageError(f'unknown run state "{state}": one of {", ".join(RunState)}')


def parse_time(text: str, *, option: str, end: bool = False) -> datetime:
    """A date (`2026-11-01`, the whole day in UTC) or a time (`2026-11-01T06:00:00Z`, any
    offset; without one, UTC). As the end of a range, a date means the end of that day."""
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        try:
            day = datetime.fromisoformat(text).replace(tzinfo=UTC)
        except ValueError:
            raise _bad_time(text, option) from None
        moment = day + timedelta(days=1) if end and day.year < 9999 else day
    else:
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T"))
        except ValueError:
            raise _bad_time(text, option) from None
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    if not 1970 <= moment.year <= 9998:
        raise RunnerError(
            f'{option} "{text}": give a time between the years 1970 and 9998', code="bad-time"
        )
    return moment


def _bad_time(text: str, option: str) -> RunnerError:
    return RunnerError(
        f'{option} "{text}" is neither a date (2026-11-01) nor a time (2026-11-01T06:00:00Z)',
        code="bad-time",
    )


def history(
    store: Store,
    *,
    job: str | None,
    since: datetime | None,
    until: datetime | None,
    states: Sequence[str],
    limit: int,
) -> list[RunRecord]:
    for state in states:
        if state not in set(RunState):
            raise unknown_state(state)
    if job:
        applied_or_known(store, job)
    return store.history(job=job, since=since, until=until, states=states, limit=limit)


def applied_or_known(store: Store, job: str) -> None:
    """A job that is applied, or was (it has runs); else the unknown-job error."""
    if store.run_ids(job):
        return
    applied_job(store, job)


def task_last_runs(store: Store, job: str) -> list[tuple[str, TaskRecord | None]]:
    """`runner tasks JOB`: every task of the job as applied, with its last run."""
    _, spec = applied_job(store, job)
    last = store.task_last_runs(job)
    return [(t["name"], last.get(t["name"])) for t in spec.get("tasks") or ()]


@dataclass(frozen=True, slots=True)
class LogRef:
    task: str
    attempt: int
    key: str


def log_refs(
    store: Store, run_id: int, task: str | None, attempt: int | None
) -> tuple[RunRecord, list[LogRef]]:
    """The logs of a run: of one task (its latest attempt, or `attempt`), or of every
    task that started, in task order."""
    run = find_run(store, run_id)
    return run, logs_of(run, task, attempt)


def logs_of(run: RunRecord, task: str | None, attempt: int | None) -> list[LogRef]:
    """`log_refs` of a run read already (with its tasks' attempts)."""
    run_id = run.id
    tasks = run.tasks
    if task is not None:
        names = [t.name for t in tasks]
        if task not in names:
            raise NotFound(
                f'run {run_id} of {run.job} has no task "{task}"{did_you_mean(task, names)}'
            )
        tasks = tuple(t for t in tasks if t.name == task)
    refs = []
    for t in tasks:
        tries = [a for a in t.attempts if a.log]
        if attempt is not None:
            chosen = [a for a in tries if a.attempt == attempt]
            if task is not None and not chosen:
                raise NotFound(
                    f"task {t.name} of run {run_id} has no attempt {attempt} (it has {len(tries)})"
                )
        else:
            chosen = tries[-1:]
        refs += [LogRef(t.name, a.attempt, a.log or "") for a in chosen]
    if attempt is not None and not refs:
        raise NotFound(f"run {run_id} has no attempt {attempt} of any task")
    return refs


def follow(
    store: Store,
    logs: LogFiles,
    run_id: int,
    task: str | None,
    attempt: int | None,
    *,
    clock: Clock,
    poll: float = 0.2,
) -> Iterator[tuple[LogRef, bytes]]:
    """New log output as it is written, until the run has ended and everything is read.
    Attempts that start later (a retry, the next task) are followed too."""
    offsets: dict[str, int] = {}
    while True:
        refresh(store, clock.now())
        run, refs = log_refs(store, run_id, task, attempt)
        if attempt is None:  # every attempt, so that a retry's output follows its first
            refs = _all_attempts(run, task)
        for ref in refs:
            start = offsets.get(ref.key, 0)
            for block in logs.read_chunks(ref.key, start):
                offsets[ref.key] = offsets.get(ref.key, 0) + len(block)
                yield ref, block
        if run.state not in ACTIVE_RUN_STATES:
            return
        clock.sleep(poll)


def _all_attempts(run: RunRecord, task: str | None) -> list[LogRef]:
    return [
        LogRef(t.name, a.attempt, a.log)
        for t in run.tasks
        if task is None or t.name == task
        for a in t.attempts
        if a.log
    ]


def overview(store: Store) -> dict[str, Any]:
    """`runner status` with no argument: the last reconcile (applied or rejected, with
    its errors), the configuration digests, and the runs under way."""
    last = store.reconciles(1)
    active = store.active_run_records()
    reconcile = None
    if last:
        r = last[0]
        reconcile = {
            "at": when(r["ended"]),
            "origin": r["origin"],
            "outcome": r["outcome"],
            "summary": r["summary"],
            "errors": r["errors"],
            "source": r.get("source"),
        }
    return {
        "configuration": {
            "applied_digest": store.get_meta("applied_digest"),
            "attempted_digest": store.get_meta("attempted_digest"),
            "last_reconcile": reconcile,
            "suspended": store.suspension(),
            "git": _git_state(store),
            # what runs but is in no file (so in no commit): runtime holds
            "runtime_holds": [f"{h.name} on {h.target}" for h in store.runtime_holds()],
        },
        "runs": {
            "running": [r.id for r in active if r.state == RunState.RUNNING],
            "queued": [r.id for r in active if r.state == RunState.SCHEDULED],
        },
    }


def _git_state(store: Store) -> dict[str, Any] | None:
    """What the daemon's git sync last fetched and holds (`runner daemon --git`)."""
    import json

    from runner.store.configuration import GIT_META

    value = store.get_meta(GIT_META)
    return dict(json.loads(value)) if value else None
