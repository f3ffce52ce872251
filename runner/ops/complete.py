"""Names for shell completion: the applied jobs, recent runs, a job's or a run's tasks.

Completion runs on every Tab, so it only reads: it opens a store that exists (never
creates one in the folder the shell is in) and does not mark stale runs."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from runner.ops.common import Home
from runner.store import Store, open_store, store_url

RECENT = 20


@contextlib.contextmanager
def _existing_store(home: Home) -> Iterator[Store | None]:
    url = store_url(home=home.path, url=home.store_url)
    if url.startswith("sqlite:") and not Path(url.split("///", 1)[1]).is_file():
        yield None
        return
    store = open_store(home=home.path, url=home.store_url)
    try:
        yield store
    finally:
        store.close()


def job_names(home: Home) -> list[str]:
    with _existing_store(home) as store:
        return sorted(r.name for r in store.resources("Job")) if store else []


def recent_runs(home: Home, *, active: bool = False) -> list[tuple[int, str]]:
    """(id, "JOB STATE") of the newest runs, or of the active ones."""
    with _existing_store(home) as store:
        if store is None:
            return []
        found = store.active_run_records() if active else store.history(limit=RECENT)
        return [(r.id, f"{r.job} {r.state}") for r in found]


def task_names(home: Home, *, job: str | None = None, run_id: int | None = None) -> list[str]:
    """The tasks of run `run_id` as it was made, or of `job` as applied."""
    with _existing_store(home) as store:
        if store is None:
            return []
        if run_id is not None:
            run = store.run(run_id)
            return [t.name for t in run.tasks] if run else []
        spec = store.specs([("Job", job or "")]).get(("Job", job or "")) or {}
        return [t["name"] for t in spec.get("tasks") or ()]
