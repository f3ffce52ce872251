"""Checks across files and the fixes that came from review, as `runner validate` shows them."""

from __future__ import annotations

from runner.config.loader import load_config
from tests.conftest import WriteFile

JOB = """
apiVersion: runner/v1
kind: Job
name: {name}
labels: {{team: {team}}}
tasks:
  - name: a
    run: "true"
"""


def _texts() -> list[str]:
    return [d.text() for d in load_config(["jobs.d"]).diagnostics]


def test_duplicates_are_found_in_documents_that_fail_the_schema(write: WriteFile) -> None:
    write("a.yaml", JOB.format(name="export", team="data"))
    write("b.yaml", JOB.format(name="export", team="data").replace('"true"', "[1]"))
    assert _texts() == [
        'jobs.d/a.yaml:3:7: error: name: Job name "export" is also used at jobs.d/b.yaml:1',
        'jobs.d/b.yaml:3:7: error: name: Job name "export" is also used at jobs.d/a.yaml:1',
        "jobs.d/b.yaml:7:10: error: tasks[0].run: must be a string; got a list",
    ]


def test_a_hold_resource_cannot_wait_for_a_job_it_covers(write: WriteFile) -> None:
    write("a.yaml", JOB.format(name="ledger", team="finance"))
    write(
        "h.yaml",
        """
        apiVersion: runner/v1
        kind: Hold
        name: freeze
        selector: {labels: {team: finance}}
        dependsOn: {job: ledger}
        """,
    )
    assert _texts() == [
        'jobs.d/h.yaml:5:18: error: dependsOn.job: the hold covers "ledger" and waits for it, '
        "so it could never be released; wait for another job"
    ]


def test_zero_deadlines_and_timeouts(write: WriteFile) -> None:
    write(
        "a.yaml",
        """
        apiVersion: runner/v1
        kind: Job
        name: a
        schedule: {every: 1m, startingDeadline: 0s}
        timeout: 0s
        tasks:
          - {name: t, run: "true", timeout: 0s}
        """,
    )
    assert _texts() == [
        "jobs.d/a.yaml:4:41: error: schedule.startingDeadline: must be more than 0s; "
        "leave it out for no deadline",
        "jobs.d/a.yaml:5:10: error: timeout: must be more than 0s; leave it out for none",
        "jobs.d/a.yaml:7:37: error: tasks[0].timeout: must be more than 0s; leave it out for none",
    ]


def test_a_reference_into_a_broken_file_is_not_unknown(write: WriteFile) -> None:
    write("a.yaml", JOB.format(name="export", team="data").replace("tasks:", "bogus: 1\ntasks:"))
    write(
        "b.yaml",
        JOB.format(name="report", team="data").replace("tasks:", "after: [export]\ntasks:"),
    )
    assert _texts() == ["jobs.d/a.yaml:5:1: error: bogus: unknown field"]
    loaded = load_config(["jobs.d"])
    assert [f.path for f in loaded.files if f.valid] == ["jobs.d/b.yaml"]


def test_a_hold_that_can_end_may_cover_the_job_it_waits_for(write: WriteFile) -> None:
    """Issue 14: refused only when the hold could really never end. With `until`, time
    releases it; a `tasks` filter naming no task of the job does not hold that job."""
    write("a.yaml", JOB.format(name="ledger", team="finance"))
    write("b.yaml", JOB.format(name="export", team="finance").replace("name: a", "name: load"))
    hold = """
        apiVersion: runner/v1
        kind: Hold
        name: freeze
        selector: {{labels: {{team: finance}}}}
        dependsOn: {{job: ledger}}
        {extra}
        """
    write("h.yaml", hold.format(extra="until: 2027-01-04T08:00:00+01:00"))
    assert _texts() == []
    write("h.yaml", hold.format(extra="tasks: [load]"))
    assert _texts() == []
    write("h.yaml", hold.format(extra="tasks: [load, a]"))
    assert _texts() == [
        'jobs.d/h.yaml:5:18: error: dependsOn.job: the hold covers "ledger" and waits for it, '
        "so it could never be released; wait for another job"
    ]


POOLED = """
apiVersion: runner/v1
kind: Job
name: load
pool: {job_pool}
maxParallel: 2
tasks:
  - {{name: a, run: "true"}}
  - {{name: b, run: "true", pool: {task_pool}}}
"""
POOL = """
apiVersion: runner/v1
kind: Pool
name: warehouse-db
slots: 4
"""


def test_a_pool_a_job_or_task_names_must_be_defined(write: WriteFile) -> None:
    write("p.yaml", POOL)
    write("a.yaml", POOLED.format(job_pool="warehouse-db", task_pool="warehouse"))
    assert _texts() == [
        'jobs.d/a.yaml:8:34: error: tasks[1].pool: unknown pool "warehouse" (did you mean '
        '"warehouse-db"?): a Pool resource (kind: Pool, name, slots) defines it'
    ]
    write("a.yaml", POOLED.format(job_pool="warehouse-db", task_pool="warehouse-db"))
    assert _texts() == []


def test_a_pool_in_a_file_that_fails_the_schema_still_exists_for_its_jobs(
    write: WriteFile,
) -> None:
    write("p.yaml", POOL.replace("slots: 4", "slots: 0"))
    write("a.yaml", POOLED.format(job_pool="warehouse-db", task_pool="warehouse-db"))
    assert _texts() == ["jobs.d/p.yaml:4:8: error: slots: must be at least 1; got integer 0"]


def test_an_assignee_is_for_manual_tasks_only(write: WriteFile) -> None:
    write(
        "a.yaml",
        """
        apiVersion: runner/v1
        kind: Job
        name: a
        tasks:
          - {name: build, run: "true", assignee: releasers}
          - {name: approve, kind: manual, assignee: releasers}
        """,
    )
    assert _texts() == [
        "jobs.d/a.yaml:5:42: error: tasks[0].assignee: assignee is only for manual tasks "
        "(kind: manual)"
    ]
