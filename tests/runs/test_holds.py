"""`run_held`: what the daemon's admission asks of a queued run's holds (SPEC 1.3), from
the jobs it keeps in memory, reading the store only when a hold could apply."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from runner.domain.holds import parse_until
from runner.domain.jobs import job_view
from runner.reconciler.apply import apply_config
from runner.runs.holds import held_tasks, run_held
from runner.store import Store
from tests.conftest import WriteFile

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)

JOB = """
    apiVersion: runner/v1
    kind: Job
    name: export
    schedule: {{mode: manual}}
    tasks:
      - name: extract
        run: "true"
      - name: load
        run: "true"
    {holds}
"""


def slim(store: Store) -> dict[str, Any]:
    return store.specs([("Job", "export")])[("Job", "export")]


def test_a_job_nothing_could_hold_is_decided_without_reading_the_store(
    store: Store, write: WriteFile, config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write("export.yaml", JOB.format(holds=""))
    apply_config([config_dir], store, now=NOW)
    spec = slim(store)
    monkeypatch.setattr(store, "specs", lambda *_: pytest.fail("the store was read"))
    held = run_held(store, job=job_view(spec), holds=[], runtime=set(), selected=None, now=NOW)
    assert held == (None, None)


def test_a_hold_on_a_later_task_holds_that_task_not_the_run(
    store: Store, write: WriteFile, config_dir: Path
) -> None:
    holds = "holds: [{name: freeze, tasks: [load], until: '2026-12-01T13:00:00Z'}]"
    write("export.yaml", JOB.format(holds=holds))
    apply_config([config_dir], store, now=NOW)
    view = job_view(slim(store))
    assert run_held(store, job=view, holds=[], runtime=set(), selected=None, now=NOW) == (
        None,
        None,
    )  # extract may start: the run starts, and load waits in it
    (held,) = held_tasks(store, job=view, holds=[], runtime=set(), selected=None, now=NOW).items()
    assert held[0] == "load"
    assert held[1].reason.startswith("held by freeze (released at 2026-12-01T13:00:00Z")
    assert held[1].until == datetime(2026, 12, 1, 13, 0, tzinfo=UTC)
    only_extract = held_tasks(
        store, job=view, holds=[], runtime=set(), selected=["extract"], now=NOW
    )
    assert only_extract == {}


def test_a_run_waits_whole_when_every_task_it_would_start_first_is_held(
    store: Store, write: WriteFile, config_dir: Path
) -> None:
    holds = (
        "holds: [{name: freeze, until: '2026-12-01T13:00:00Z'}, {name: manual, tasks: [extract]}]"
    )
    write("export.yaml", JOB.format(holds=holds))
    apply_config([config_dir], store, now=NOW)
    reason, until = run_held(
        store, job=job_view(slim(store)), holds=[], runtime=set(), selected=None, now=NOW
    )
    assert reason == (
        "held by freeze (released at 2026-12-01T13:00:00Z, or removed from the job's "
        "holds (jobs.d/export.yaml:1)); manual (released when removed from the job's holds "
        "(jobs.d/export.yaml:1)) on extract"
    )
    assert until == datetime(2026, 12, 1, 13, 0, tzinfo=UTC)


def test_until_is_read_with_z_or_an_offset() -> None:
    assert parse_until("2027-01-04T08:00:00+01:00") == datetime(2027, 1, 4, 7, 0, tzinfo=UTC)
    assert parse_until("2027-01-04T07:00:00Z") == datetime(2027, 1, 4, 7, 0, tzinfo=UTC)
