"""`diff`: what applying the configuration would change, case by case (SPEC 4).

Each case builds normalised specs the way the loader does (parse, normalise, dump, digest)
and states the exact changes: action, revisions, field paths with their values, and the
notes an operator reads under the change.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, NamedTuple

import pytest

from runner.config.loader import spec_digest
from runner.domain.runs import ActiveRun, RuntimeHold
from runner.plan import (
    Action,
    Applied,
    Change,
    Desired,
    PlanContext,
    SkippedFile,
    diff,
)
from runner.spec import dump, normalize, parse_resource

NOW = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)  # 12:00 CET

TASKS = (
    {"name": "extract", "run": "./extract.sh"},
    {"name": "transform", "run": "python transform.py"},
    {"name": "load", "run": "./load.sh"},
)
VALIDATE = {"name": "validate", "run": "python validate.py"}
PARALLEL = (
    {**TASKS[0], "after": []},
    {**TASKS[1], "after": []},
    {**TASKS[2], "after": ["extract", "transform"]},
)
NIGHTLY = "next runs: 2026-11-24 02:00 CET, 2026-11-25 02:00 CET, 2026-11-26 02:00 CET"


def job(name: str = "nightly-export", **fields: Any) -> dict[str, Any]:
    """A Job document as written in a file: at 02:00 in Berlin, three chained tasks."""
    data: dict[str, Any] = {
        "apiVersion": "runner/v1",
        "kind": "Job",
        "name": name,
        "schedule": {"cron": "0 2 * * *", "timezone": "Europe/Berlin"},
        "tasks": [dict(t) for t in TASKS],
    }
    data.update(fields)
    return data


def hold(name: str, **fields: Any) -> dict[str, Any]:
    return {"apiVersion": "runner/v1", "kind": "Hold", "name": name, **fields}


def normal(data: dict[str, Any]) -> dict[str, Any]:
    parsed = parse_resource(data)
    assert parsed.resource is not None, parsed.findings
    return dump(normalize(parsed.resource))


def desired(data: dict[str, Any], *, source: str | None = None) -> Desired:
    spec = normal(data)
    return Desired(
        kind=spec["kind"],
        name=spec["name"],
        spec=spec,
        digest=spec_digest(spec),
        source=source or f"jobs.d/{spec['name']}.yaml:1",
    )


def applied(
    data: dict[str, Any], *, revision: int = 3, source: str | None = None, deleting: bool = False
) -> Applied:
    spec = normal(data)
    return Applied(
        kind=spec["kind"],
        name=spec["name"],
        spec=spec,
        digest=spec_digest(spec),
        revision=revision,
        source=source or f"jobs.d/{spec['name']}.yaml:1",
        deleting=deleting,
    )


def task(data: dict[str, Any], name: str) -> dict[str, Any]:
    """One task of a job as the normalised spec holds it (defaults filled in)."""
    return next(t for t in normal(data)["tasks"] if t["name"] == name)


def running(run_id: int, job: str = "nightly-export", revision: int = 3) -> ActiveRun:
    return ActiveRun(id=run_id, job=job, revision=revision, state="running")


def scheduled(run_id: int, job: str = "nightly-export", revision: int = 3) -> ActiveRun:
    return ActiveRun(id=run_id, job=job, revision=revision, state="scheduled")


class Seen(NamedTuple):
    """What an operator reads of one change."""

    action: Action
    kind: str
    name: str
    revisions: tuple[int | None, int | None]
    fields: tuple[tuple[str, Any, Any], ...] = ()
    notes: tuple[tuple[str, bool], ...] = ()


def seen(change: Change) -> Seen:
    return Seen(
        action=change.action,
        kind=change.kind,
        name=change.name,
        revisions=(change.revision_before, change.revision_after),
        fields=tuple((f.path, f.before, f.after) for f in change.fields),
        notes=tuple((n.text, n.warn) for n in change.notes),
    )


def add(name: str, *notes: tuple[str, bool], kind: str = "Job") -> Seen:
    return Seen(Action.ADD, kind, name, (None, 1), (), notes)


def info(text: str) -> tuple[str, bool]:
    return (text, False)


def warn(text: str) -> tuple[str, bool]:
    return (text, True)


FINANCE = {"team": "finance"}

CASES = [
    # --- a new job: what it will do next -------------------------------------------------
    pytest.param(
        [job(schedule={"cron": "0 13 * * *", "timezone": "Europe/Berlin"})],
        [],
        {},
        [
            add(
                "nightly-export",
                info("next runs: 2026-11-23 13:00 CET, 2026-11-24 13:00 CET, 2026-11-25 13:00 CET"),
            )
        ],
        0,
        id="add-job-next-runs-in-its-time-zone",
    ),
    pytest.param(
        [job(schedule={"every": "15m"})],
        [],
        {},
        [
            add(
                "nightly-export",
                info("next runs: 2026-11-23 11:15 UTC, 2026-11-23 11:30 UTC, 2026-11-23 11:45 UTC"),
            )
        ],
        0,
        id="add-job-every-interval-next-runs-in-utc",
    ),
    pytest.param(
        [job(schedule={"mode": "manual"}, status="start")],
        [],
        {},
        [add("nightly-export", info("runs once now (status: start), then waits for triggers"))],
        0,
        id="add-manual-job-with-status-start-runs-once",
    ),
    pytest.param(
        [job(schedule={"mode": "manual"})],
        [],
        {},
        [
            add(
                "nightly-export",
                info("waits for a trigger: without status: start, creating it runs nothing"),
            )
        ],
        0,
        id="add-manual-job-without-status-waits-for-a-trigger",
    ),
    pytest.param(
        [job(status="paused")],
        [],
        {},
        [
            add(
                "nightly-export",
                info(NIGHTLY),
                info("paused: the first scheduled run waits for a manual trigger"),
            )
        ],
        0,
        id="add-paused-job-waits-for-a-manual-trigger",
    ),
    pytest.param(
        [job(disabled=True)],
        [],
        {},
        [add("nightly-export", info("disabled: no run of any kind starts"))],
        0,
        id="add-disabled-job-no-next-runs",
    ),
    pytest.param(
        [job(schedule={"cron": "0 2 * * *", "enabled": False})],
        [],
        {},
        [add("nightly-export", info("schedule not enabled: no scheduled runs"))],
        0,
        id="add-job-with-schedule-not-enabled",
    ),
    # --- a changed job: field by field -----------------------------------------------------
    pytest.param(
        [job(schedule={"cron": "0 3 * * *", "timezone": "Europe/Berlin"})],
        [job()],
        {},
        [
            Seen(
                Action.CHANGE,
                "Job",
                "nightly-export",
                (3, 4),
                (("schedule.cron", ["0 2 * * *"], ["0 3 * * *"]),),
                (
                    info(
                        "next runs: 2026-11-24 03:00 CET, 2026-11-25 03:00 CET, "
                        "2026-11-26 03:00 CET"
                    ),
                ),
            )
        ],
        0,
        id="change-cron",
    ),
    pytest.param(
        [job(tasks=[TASKS[0], {**TASKS[1], "retries": {"limit": 5}}, TASKS[2]])],
        [job()],
        {},
        [
            Seen(
                Action.CHANGE,
                "Job",
                "nightly-export",
                (3, 4),
                (("tasks[transform].retries.limit", 0, 5),),
            )
        ],
        0,
        id="change-nested-field-of-a-task",
    ),
    # The job's retries are inherited by every task; one edit reads as one line.
    pytest.param(
        [job(retries={"limit": 2})],
        [job()],
        {},
        [Seen(Action.CHANGE, "Job", "nightly-export", (3, 4), (("retries.limit", 0, 2),))],
        0,
        id="change-job-retries-limit-is-one-field",
    ),
    pytest.param(
        [job(disabled=True)],
        [job()],
        {},
        [
            Seen(
                Action.CHANGE,
                "Job",
                "nightly-export",
                (3, 4),
                (("disabled", False, True),),
                (info("disabled: no run of any kind starts"),),
            )
        ],
        0,
        id="change-disable-a-job",
    ),
    pytest.param(
        [job(tasks=[*TASKS[:2], VALIDATE, TASKS[2]])],
        [job()],
        {},
        [
            Seen(
                Action.CHANGE,
                "Job",
                "nightly-export",
                (3, 4),
                (
                    ("tasks[validate]", None, task(job(tasks=[*TASKS[:2], VALIDATE]), "validate")),
                    ("tasks[load].after", ["transform"], ["validate"]),
                ),
            )
        ],
        0,
        id="insert-task-in-the-middle-is-one-addition-and-the-followers-after",
    ),
    pytest.param(
        [job(tasks=[TASKS[0], TASKS[2]])],
        [job()],
        {},
        [
            Seen(
                Action.CHANGE,
                "Job",
                "nightly-export",
                (3, 4),
                (
                    ("tasks[load].after", ["transform"], ["extract"]),
                    ("tasks[transform]", task(job(), "transform"), None),
                ),
            )
        ],
        0,
        id="remove-task",
    ),
    pytest.param(
        [job(tasks=[PARALLEL[1], PARALLEL[0], PARALLEL[2]])],
        [job(tasks=list(PARALLEL))],
        {},
        [
            Seen(
                Action.CHANGE,
                "Job",
                "nightly-export",
                (3, 4),
                (
                    (
                        "tasks order",
                        ["extract", "transform", "load"],
                        ["transform", "extract", "load"],
                    ),
                ),
            )
        ],
        0,
        id="reorder-parallel-tasks-is-an-order-change",
    ),
    pytest.param(
        [job(tasks=[TASKS[1], TASKS[0], TASKS[2]])],
        [job()],
        {},
        [
            Seen(
                Action.CHANGE,
                "Job",
                "nightly-export",
                (3, 4),
                (
                    # by name: position 0 is extract before and transform after
                    ("tasks[transform].after", ["extract"], []),
                    ("tasks[extract].after", [], ["transform"]),
                    ("tasks[load].after", ["transform"], ["extract"]),
                    (
                        "tasks order",
                        ["extract", "transform", "load"],
                        ["transform", "extract", "load"],
                    ),
                ),
            )
        ],
        0,
        id="reorder-a-chain-changes-the-afters-it-implies",
    ),
    pytest.param(
        [job(description="Export orders")],
        [job()],
        {"active_runs": [running(41), scheduled(42)]},
        [
            Seen(
                Action.CHANGE,
                "Job",
                "nightly-export",
                (3, 4),
                (("description", None, "Export orders"),),
                (warn("run 41 is running on revision 3; new runs use revision 4"),),
            )
        ],
        0,
        id="change-while-a-run-is-running-on-the-old-revision",
    ),
    pytest.param(
        [job(description="Export orders"), job("other-job")],
        [job(), job("other-job")],
        {"active_runs": [running(41, job="other-job")]},
        [
            Seen(
                Action.CHANGE,
                "Job",
                "nightly-export",
                (3, 4),
                (("description", None, "Export orders"),),
            )
        ],
        1,
        id="change-ignores-another-jobs-runs",
    ),
    pytest.param(
        [job(status="paused", schedule={"cron": "0 3 * * *", "timezone": "Europe/Berlin"})],
        [job(status="paused")],
        {},
        [
            Seen(
                Action.CHANGE,
                "Job",
                "nightly-export",
                (3, 4),
                (("schedule.cron", ["0 2 * * *"], ["0 3 * * *"]),),
                (
                    info(
                        "next runs: 2026-11-24 03:00 CET, 2026-11-25 03:00 CET, "
                        "2026-11-26 03:00 CET"
                    ),
                    info(
                        "paused again: the schedule changed, so the next scheduled run "
                        "waits for a manual trigger"
                    ),
                ),
            )
        ],
        0,
        id="paused-job-schedule-change-pauses-again",
    ),
    pytest.param(
        [job(status="paused", description="Export orders")],
        [job(status="paused")],
        {},
        [
            Seen(
                Action.CHANGE,
                "Job",
                "nightly-export",
                (3, 4),
                (("description", None, "Export orders"),),
            )
        ],
        0,
        id="paused-job-other-change-does-not-pause-again",
    ),
    pytest.param(
        [job(schedule={"mode": "manual"}, description="Export orders")],
        [job(schedule={"mode": "manual"})],
        {},
        [
            Seen(
                Action.CHANGE,
                "Job",
                "nightly-export",
                (3, 4),
                (("description", None, "Export orders"),),
            )
        ],
        0,
        id="changed-manual-job-does-not-run-once-again",
    ),
    pytest.param(
        [job(schedule={"mode": "manual"}, status="start")],
        [job(schedule={"mode": "manual"})],
        {},
        [
            Seen(
                Action.CHANGE,
                "Job",
                "nightly-export",
                (3, 4),
                (("status", None, "start"),),
                (
                    info(
                        "no run now: status: start runs a manual job once when apply creates "
                        "it, and this one exists already (runner run nightly-export runs it)"
                    ),
                ),
            )
        ],
        0,
        id="status-start-added-to-an-existing-manual-job-runs-nothing",
    ),
    pytest.param(
        [job(schedule={"mode": "manual"})],
        [job(schedule={"mode": "manual"}, status="start")],
        {},
        [
            Seen(
                Action.CHANGE,
                "Job",
                "nightly-export",
                (3, 4),
                (("status", "start", None),),
                (info("no effect now: status counts for a manual job only when apply creates it"),),
            )
        ],
        0,
        id="status-start-removed-from-a-manual-job",
    ),
    pytest.param(
        [job(schedule={"mode": "manual"}, status="start", description="Export orders")],
        [job(schedule={"mode": "manual"}, status="start")],
        {},
        [
            Seen(
                Action.CHANGE,
                "Job",
                "nightly-export",
                (3, 4),
                (("description", None, "Export orders"),),
            )
        ],
        0,
        id="changed-manual-job-with-status-start-does-not-run-once-again",
    ),
    # --- no change -----------------------------------------------------------------------
    pytest.param(
        [
            job(
                status="start",
                disabled=False,
                schedule={
                    "mode": "auto",
                    "cron": ["0  2 * * *"],
                    "timezone": "Europe/Berlin",
                    "enabled": True,
                    "overlap": "skip",
                },
                retries={"limit": 0, "delay": "10s"},
                tasks=[{**TASKS[0], "after": []}, {**TASKS[1], "after": ["extract"]}, TASKS[2]],
            )
        ],
        [job()],
        {},
        [],
        1,
        id="spelling-out-defaults-is-no-change",
    ),
    pytest.param(
        [job(schedule={"every": "1h"}, status="start")],
        [job(schedule={"every": "1h"})],
        {},
        [],
        1,
        id="spelling-out-status-start-of-an-auto-job-is-no-change",
    ),
    pytest.param(
        [job(schedule={"mode": "manual"}, status="start")],
        [job(schedule={"mode": "manual"}, status="start")],
        {},
        [],
        1,
        id="manual-job-with-status-start-unchanged",
    ),
    # --- deleted and renamed -------------------------------------------------------------
    pytest.param(
        [job("orders-export")],
        [job()],
        {},
        [
            add("orders-export", info(NIGHTLY)),
            Seen(Action.DELETE, "Job", "nightly-export", (3, None)),
        ],
        0,
        id="renamed-job-is-a-delete-and-an-add",
    ),
    pytest.param(
        [],
        [job("legacy-sync")],
        {"active_runs": [running(17, job="legacy-sync")]},
        [
            Seen(
                Action.DELETE,
                "Job",
                "legacy-sync",
                (3, None),
                (),
                (warn("run 17 is running: the job is deleted when it ends"),),
            )
        ],
        0,
        id="delete-job-with-a-running-run",
    ),
    pytest.param(
        [],
        [job("legacy-sync")],
        {"active_runs": [scheduled(18, job="legacy-sync")]},
        [
            Seen(
                Action.DELETE,
                "Job",
                "legacy-sync",
                (3, None),
                (),
                (warn("scheduled run 18 discarded"),),
            )
        ],
        0,
        id="delete-job-with-a-scheduled-run",
    ),
    pytest.param(
        [],
        [job("legacy-sync")],
        {
            "active_runs": [
                scheduled(19, job="legacy-sync"),
                running(17, job="legacy-sync"),
                scheduled(18, job="legacy-sync"),
            ]
        },
        [
            Seen(
                Action.DELETE,
                "Job",
                "legacy-sync",
                (3, None),
                (),
                (
                    warn("run 17 is running: the job is deleted when it ends"),
                    warn("scheduled runs 18, 19 discarded"),
                ),
            )
        ],
        0,
        id="delete-job-with-running-and-scheduled-runs",
    ),
    # A Hold shares no runs with the Job of the same name: no note about its runs.
    pytest.param(
        [job("export")],
        [job("export"), hold("export", jobs=["export"])],
        {"active_runs": [running(17, job="export")]},
        [Seen(Action.DELETE, "Hold", "export", (3, None))],
        1,
        id="delete-hold-named-like-a-job-with-a-running-run",
    ),
    # --- skipped files -------------------------------------------------------------------
    pytest.param(
        [job()],
        [job(), job("ledger-close")],
        {
            "skipped_files": [
                SkippedFile(
                    path="jobs.d/broken.yaml", error_count=2, resources=(("Job", "ledger-close"),)
                )
            ]
        },
        [],
        1,
        id="resource-of-a-skipped-file-is-not-deleted",
    ),
    # --- holds ---------------------------------------------------------------------------
    pytest.param(
        [
            job("a", labels=FINANCE),
            job("b", labels=FINANCE),
            job("c", labels={"team": "data"}),
            hold("year-end-freeze", selector={"labels": FINANCE}),
        ],
        [job("a", labels=FINANCE), job("b", labels=FINANCE), job("c", labels={"team": "data"})],
        {},
        [add("year-end-freeze", info("covers a, b"), kind="Hold")],
        3,
        id="hold-added-covers-jobs-by-label",
    ),
    pytest.param(
        [
            job("a"),
            job("b", labels=FINANCE),
            hold("freeze", jobs=["a"], selector={"labels": FINANCE}),
        ],
        [job("a"), job("b", labels=FINANCE)],
        {},
        [add("freeze", info("covers a, b"), kind="Hold")],
        2,
        id="hold-added-covers-named-jobs-and-selected-ones",
    ),
    pytest.param(
        [job("a"), hold("freeze", selector={"labels": FINANCE})],
        [job("a")],
        {},
        [add("freeze", warn("covers no job"), kind="Hold")],
        1,
        id="hold-added-covering-no-job-warns",
    ),
    # The job lives in a skipped file and stays applied: the hold does cover it.
    pytest.param(
        [hold("freeze", jobs=["ledger-export"])],
        [job("ledger-export")],
        {
            "skipped_files": [
                SkippedFile(
                    path="jobs.d/ledger.yaml", error_count=1, resources=(("Job", "ledger-export"),)
                )
            ]
        },
        [add("freeze", info("covers ledger-export"), kind="Hold")],
        0,
        id="hold-added-covering-a-job-in-a-skipped-file",
    ),
    # --- a job that was being deleted comes back -----------------------------------------
    pytest.param(
        [job(description="Export orders")],
        [job()],
        {"deleting": True},
        [
            Seen(
                Action.CHANGE,
                "Job",
                "nightly-export",
                (3, 4),
                (("description", None, "Export orders"),),
                (warn("was being deleted; it stays"),),
            )
        ],
        0,
        id="job-being-deleted-comes-back-changed",
    ),
    # The spec is the same, so the revision stays 3: no note promising revision 4.
    pytest.param(
        [job()],
        [job()],
        {"deleting": True, "active_runs": [running(17)]},
        [
            Seen(
                Action.CHANGE,
                "Job",
                "nightly-export",
                (3, 3),
                (),
                (warn("was being deleted; it stays"),),
            )
        ],
        0,
        id="job-being-deleted-comes-back-unchanged-with-a-running-run",
    ),
]


@pytest.mark.parametrize(("want", "have", "context", "expected", "unchanged"), CASES)
def test_diff(
    want: list[dict[str, Any]],
    have: list[dict[str, Any]],
    context: dict[str, Any],
    expected: list[Seen],
    unchanged: int,
) -> None:
    context = dict(context)
    deleting = context.pop("deleting", False)
    plan = diff(
        [desired(d) for d in want],
        [applied(a, deleting=deleting) for a in have],
        PlanContext(now=NOW, **context),
    )
    assert [seen(c) for c in plan.changes] == expected
    assert plan.unchanged == unchanged


def test_jobs_are_listed_added_changed_deleted_then_holds() -> None:
    plan = diff(
        [desired(job("b-new")), desired(job("a-kept", description="x")), desired(hold("z"))],
        [applied(job("a-kept")), applied(job("c-gone"))],
        PlanContext(now=NOW),
    )
    assert [(c.action, c.kind, c.name) for c in plan.changes] == [
        (Action.ADD, "Job", "b-new"),
        (Action.CHANGE, "Job", "a-kept"),
        (Action.DELETE, "Job", "c-gone"),
        (Action.ADD, "Hold", "z"),
    ]


def test_sources_are_the_desired_file_or_where_the_deleted_one_was() -> None:
    plan = diff(
        [desired(job("new"), source="jobs.d/new.yaml:4")],
        [applied(job("old"), source="jobs.d/legacy.yaml:9")],
        PlanContext(now=NOW),
    )
    assert [(c.name, c.source, c.before is None, c.after is None) for c in plan.changes] == [
        ("new", "jobs.d/new.yaml:4", True, False),
        ("old", "jobs.d/legacy.yaml:9", False, True),
    ]


def test_runtime_holds_and_skipped_files_are_carried_into_the_plan() -> None:
    holds = (RuntimeHold(job="ledger-export", name="incident-2231", reason="db down"),)
    skipped = (SkippedFile(path="jobs.d/broken.yaml", error_count=2, resources=()),)
    plan = diff(
        [desired(job("ledger-export"))],
        [applied(job("ledger-export"))],
        PlanContext(now=NOW, runtime_holds=holds, skipped_files=skipped),
    )
    assert (plan.changes, plan.unchanged) == ((), 1)
    assert plan.runtime_holds == holds
    assert plan.skipped_files == skipped
    assert not plan.has_changes


def test_inline_holds_are_named_in_field_paths_too() -> None:
    freeze = {"name": "freeze", "until": "2027-01-04T08:00:00Z"}
    audit = {"name": "audit", "tasks": ["load"]}
    plan = diff(
        [desired(job(holds=[audit, {**freeze, "until": "2027-01-05T08:00:00Z"}]))],
        [applied(job(holds=[freeze]))],
        PlanContext(now=NOW),
    )
    (change,) = plan.changes
    assert [(f.path, f.op) for f in change.fields] == [
        ("holds[audit]", "+"),
        ("holds[freeze].until", "~"),
    ]
