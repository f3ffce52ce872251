"""The plan as text (SPEC 4): symbols, `file:line`, revisions, fields, warnings, summary."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from runner.cli.render_plan import render_plan
from runner.domain.runs import ActiveRun, RuntimeHold
from runner.ops.plan_json import plan_as_json
from runner.plan import PlanContext, SkippedFile, diff
from tests.plan.test_diff import NOW, TASKS, VALIDATE, applied, desired, hold, job, normal, running

FINANCE = {"team": "finance"}
BROKEN = SkippedFile(path="jobs.d/broken.yaml", error_count=2, resources=(("Job", "ledger-close"),))


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Sources are relative to the working directory: removed files are really gone."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_example_of_the_spec() -> None:
    unchanged = [job("ledger-export", labels=FINANCE), job("invoices", labels=FINANCE)]
    unchanged += [job(f"job-{i}") for i in range(10)]
    plan = diff(
        [
            desired(
                job("nightly-report", schedule={"cron": "0 6 * * *", "timezone": "Europe/Berlin"}),
                source="jobs.d/report.yaml:1",
            ),
            desired(
                job(
                    tasks=[*TASKS[:2], VALIDATE],
                    schedule={"cron": "0 3 * * *", "timezone": "Europe/Berlin"},
                ),
                source="jobs.d/export.yaml:3",
            ),
            desired(
                hold("year-end-freeze", selector={"labels": FINANCE}),
                source="jobs.d/holds/freeze.yaml:1",
            ),
            *(desired(j) for j in unchanged),
        ],
        [
            applied(job(tasks=list(TASKS[:2])), source="jobs.d/export.yaml:3"),
            applied(job("legacy-sync"), revision=7, source="jobs.d/legacy.yaml:1"),
            applied(job("ledger-close")),
            *(applied(j) for j in unchanged),
        ],
        PlanContext(
            now=datetime(2026, 11, 23, 0, 30, tzinfo=UTC),
            active_runs=[
                ActiveRun(id=41, job="nightly-export", revision=3, state="running"),
                ActiveRun(id=17, job="legacy-sync", revision=7, state="running"),
            ],
            runtime_holds=[RuntimeHold(job="ledger-export", name="incident-2231")],
            skipped_files=[BROKEN],
        ),
    )
    assert render_plan(plan) == (
        "  + job nightly-report             jobs.d/report.yaml:1\n"
        "      next runs: 2026-11-23 06:00 CET, 2026-11-24 06:00 CET, 2026-11-25 06:00 CET\n"
        "  ~ job nightly-export             jobs.d/export.yaml:3   revision 3 -> 4\n"
        '      ~ schedule.cron: "0 2 * * *" -> "0 3 * * *"   next: 2026-11-23 03:00 CET\n'
        '      + tasks[validate]: run "python validate.py"\n'
        "      ! run 41 is running on revision 3; new runs use revision 4\n"
        "  - job legacy-sync                (jobs.d/legacy.yaml removed)\n"
        "      ! run 17 is running: the job is deleted when it ends\n"
        "  + hold year-end-freeze           jobs.d/holds/freeze.yaml:1   "
        "covers invoices, ledger-export\n"
        "  x jobs.d/broken.yaml skipped: 2 errors; job ledger-close stays at the applied "
        "revision\n"
        "  = 12 unchanged; 1 runtime hold kept (ledger-export: incident-2231)\n"
        "Plan: 2 to add, 1 to change, 1 to delete. 1 file skipped.\n"
    )


def test_nothing_to_do() -> None:
    plan = diff(
        [desired(job("a")), desired(job("b"))],
        [applied(job("a")), applied(job("b"))],
        PlanContext(now=NOW),
    )
    assert render_plan(plan) == (
        "  = 2 unchanged\nNo changes. Plan: 0 to add, 0 to change, 0 to delete.\n"
    )


def test_only_a_skipped_file_is_not_no_changes() -> None:
    plan = diff(
        [desired(job("a"))],
        [applied(job("a"))],
        PlanContext(
            now=NOW,
            skipped_files=[SkippedFile(path="jobs.d/new.yaml", error_count=1, resources=())],
        ),
    )
    assert render_plan(plan) == (
        "  x jobs.d/new.yaml skipped: 1 error; nothing in it has been applied yet\n"
        "  = 1 unchanged\n"
        "Plan: 0 to add, 0 to change, 0 to delete. 1 file skipped.\n"
    )


def test_task_removed_reordered_and_field_removed() -> None:
    before = job(
        tasks=[{**TASKS[0], "after": []}, {**TASKS[1], "after": []}, TASKS[2]],
        timeout="2h",
    )
    after = job(tasks=[{**TASKS[1], "after": []}, {**TASKS[0], "after": []}])
    plan = diff(
        [desired(after, source="jobs.d/export.yaml:1")],
        [applied(before, source="jobs.d/export.yaml:1")],
        PlanContext(now=NOW),
    )
    assert render_plan(plan) == (
        "  ~ job nightly-export             jobs.d/export.yaml:1   revision 3 -> 4\n"
        '      - timeout: "2h"\n'
        '      - tasks[load]: run "./load.sh"\n'
        "      ~ tasks order: extract, transform -> transform, extract\n"
        "  = 0 unchanged\n"
        "Plan: 0 to add, 1 to change, 0 to delete.\n"
    )


def test_deleted_from_a_file_that_is_still_there(_in_tmp: Path) -> None:
    (_in_tmp / "jobs.d").mkdir()
    (_in_tmp / "jobs.d" / "export.yaml").write_text("")
    plan = diff(
        [],
        [applied(job("old"), source="jobs.d/export.yaml:12")],
        PlanContext(
            now=NOW, active_runs=[ActiveRun(id=18, job="old", revision=3, state="scheduled")]
        ),
    )
    assert render_plan(plan) == (
        "  - job old                        (removed from jobs.d/export.yaml)\n"
        "      ! scheduled run 18 discarded\n"
        "  = 0 unchanged\n"
        "Plan: 0 to add, 0 to change, 1 to delete.\n"
    )


def test_hold_covering_no_job_and_a_paused_job() -> None:
    plan = diff(
        [
            desired(hold("freeze", selector={"labels": FINANCE})),
            desired(job("report", status="paused")),
        ],
        [],
        PlanContext(now=NOW),
    )
    assert render_plan(plan) == (
        "  + job report                     jobs.d/report.yaml:1\n"
        "      next runs: 2026-11-24 02:00 CET, 2026-11-25 02:00 CET, 2026-11-26 02:00 CET\n"
        "      paused: the first scheduled run waits for a manual trigger\n"
        "  + hold freeze                    jobs.d/freeze.yaml:1\n"
        "      ! covers no job\n"
        "  = 0 unchanged\n"
        "Plan: 2 to add, 0 to change, 0 to delete.\n"
    )


def test_many_runtime_holds_and_a_mass_delete() -> None:
    holds = [RuntimeHold(job=f"job-{i}", name="incident", reason="x") for i in range(7)]
    plan = diff(
        [],
        [applied(job("only"), source="jobs.d/all.yaml:1")],
        PlanContext(now=NOW, runtime_holds=holds),
    )
    text = render_plan(plan, mass_delete="the plan deletes every resource (1)")
    assert text == (
        "  - job only                       (jobs.d/all.yaml removed)\n"
        "  = 0 unchanged; 7 runtime holds kept (job-0: incident, job-1: incident, "
        "job-2: incident, job-3: incident, job-4: incident and 2 more)\n"
        "  ! the plan deletes every resource (1)\n"
        "Plan: 0 to add, 0 to change, 1 to delete.\n"
    )


def test_a_long_name_still_leaves_a_space_before_the_source() -> None:
    name = "a-job-with-a-name-longer-than-thirty-characters"
    plan = diff([desired(job(name), source="jobs.d/x.yaml:1")], [], PlanContext(now=NOW))
    assert render_plan(plan).splitlines()[0] == f"  + job {name} jobs.d/x.yaml:1"


def test_plan_as_json_is_versioned_data() -> None:
    plan = diff(
        [desired(job(description="Export orders"), source="jobs.d/export.yaml:3")],
        [applied(job(), source="jobs.d/export.yaml:3"), applied(job("legacy-sync"), revision=2)],
        PlanContext(
            now=NOW,
            active_runs=[running(41), running(17, job="legacy-sync", revision=2)],
            runtime_holds=[RuntimeHold(job="nightly-export", name="incident-2231")],
            skipped_files=[
                SkippedFile(
                    path="jobs.d/broken.yaml", error_count=2, resources=(("Job", "ledger-close"),)
                )
            ],
        ),
    )
    data = json.loads(json.dumps(plan_as_json(plan)))
    assert data["format_version"] == "1"
    assert data["created"] == "2026-11-23T11:00:00Z"
    changes = [
        {k: c[k] for k in ("action", "kind", "name", "source", "revision", "fields", "running")}
        for c in data["changes"]
    ]
    assert changes == [
        {
            "action": "change",
            "kind": "Job",
            "name": "nightly-export",
            "source": "jobs.d/export.yaml:3",
            "revision": {"before": 3, "after": 4},
            "fields": [
                {"path": "description", "op": "+", "before": None, "after": "Export orders"}
            ],
            "running": [{"id": 41, "revision": 3, "state": "running"}],
        },
        {
            "action": "delete",
            "kind": "Job",
            "name": "legacy-sync",
            "source": "jobs.d/legacy-sync.yaml:1",
            "revision": {"before": 2, "after": None},
            "fields": [],
            "running": [{"id": 17, "revision": 2, "state": "running"}],
        },
    ]
    change, delete = data["changes"]
    assert change["before"] == normal(job())
    assert change["after"] == normal(job(description="Export orders"))
    assert (delete["before"], delete["after"]) == (normal(job("legacy-sync")), None)
    assert data["skipped_files"] == [
        {
            "path": "jobs.d/broken.yaml",
            "error_count": 2,
            "resources": [{"kind": "Job", "name": "ledger-close"}],
        }
    ]
    assert data["runtime_holds"] == [
        {"job": "nightly-export", "selector": None, "name": "incident-2231", "reason": None}
    ]
    assert data["summary"] == {
        "add": 0,
        "change": 1,
        "delete": 1,
        "unchanged": 0,
        "skipped_files": 1,
    }
