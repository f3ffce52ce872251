"""History retention (SPEC 1.1 `history`, 3): after a run ends, its job keeps its newest
`keepRuns` ended runs and none older than `keepDays`, with their logs. Runs that have
not ended are never pruned. The rows go first, in one transaction, then the log
folders; log folders no row names any more (left by a crash between the two) go too."""

from __future__ import annotations

from datetime import datetime

from runner.executors.logs import LogFiles
from runner.spec.normalize import DEFAULT_KEEP_DAYS, DEFAULT_KEEP_RUNS
from runner.store import Store


def prune_job(store: Store, logs: LogFiles, job: str, *, now: datetime) -> list[int]:
    """Prune one job's history; return the ids of the runs removed."""
    spec = store.specs([("Job", job)]).get(("Job", job)) or {}
    history = spec.get("history") or {}
    doomed = store.runs_beyond_history(
        job,
        keep_runs=int(history.get("keepRuns") or DEFAULT_KEEP_RUNS),
        keep_days=int(history.get("keepDays") or DEFAULT_KEEP_DAYS),
        now=now,
    )
    ids = [run_id for run_id, _ in doomed]
    if ids:
        store.delete_runs(ids)
    # Folders first, then the runs: a run created in between (another runner) has its
    # row by then, or its folder is not in the listing; either way it is left alone.
    folders = logs.runs_with_logs(job)
    known = set(store.run_ids(job))
    for run_id in set(ids) | {r for r in folders if r not in known}:
        logs.remove_run(job, run_id)
    return ids
