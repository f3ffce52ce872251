"""The normalised form fills in every default, so spelling one out is no change."""

from __future__ import annotations

from typing import Any

from runner.spec import dump, normalize, parse_resource


def _job(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "apiVersion": "runner/v1",
        "kind": "Job",
        "name": "export",
        "tasks": [{"name": "a", "run": "true"}, {"name": "b", "run": "true"}],
    }
    base.update(fields)
    return base


def _normal(data: dict[str, Any]) -> dict[str, Any]:
    parsed = parse_resource(data)
    assert parsed.resource is not None, parsed.findings
    return dump(normalize(parsed.resource))


def test_defaults_spelt_out_are_no_change() -> None:
    plain = _normal(_job(schedule={"cron": "0 2 * * *"}))
    spelt = _normal(
        _job(
            schedule={
                "cron": ["0  2 * * *"],
                "mode": "auto",
                "timezone": "UTC",
                "overlap": "skip",
                "catchup": "latest",
                "jitter": "0s",
                "enabled": True,
            },
            status="start",
            disabled=False,
            continueOnError=False,
            retries={"limit": 0, "delay": "10s", "backoff": 2, "maxDelay": "600s"},
            history={"keepRuns": 100, "keepDays": 30},
            tasks=[
                {"name": "a", "run": "true", "after": [], "kind": "command", "active": True},
                {"name": "b", "run": "true", "after": "a", "continueOnError": False},
            ],
        )
    )
    assert plain == spelt


def test_task_after_defaults_to_the_task_above() -> None:
    data = _normal(
        _job(
            tasks=[
                {"name": "a", "run": "x"},
                {"name": "b", "run": "x"},
                {"name": "c", "run": "x", "after": []},
            ]
        )
    )
    assert [t["after"] for t in data["tasks"]] == [[], ["a"], []]


def test_task_retries_inherit_the_jobs_field_by_field() -> None:
    data = _normal(
        _job(
            retries={"limit": 2, "delay": "30s"},
            tasks=[{"name": "a", "run": "x", "retries": {"limit": 5}}],
        )
    )
    assert data["retries"] == {"limit": 2, "delay": "30s", "backoff": 2.0, "maxDelay": "10m"}
    assert data["tasks"][0]["retries"] == {
        "limit": 5,
        "delay": "30s",
        "backoff": 2.0,
        "maxDelay": "10m",
    }


def test_mode_follows_from_the_schedule() -> None:
    assert _normal(_job())["schedule"]["mode"] == "manual"
    assert _normal(_job(schedule={"every": "15m"}))["schedule"]["mode"] == "auto"
    assert _normal(_job(schedule={"every": "90m"}))["schedule"]["every"] == "1h30m"


def test_until_is_kept_in_utc() -> None:
    data = _normal(_job(holds=[{"name": "h", "until": "2027-01-04T08:00:00+01:00"}]))
    assert data["holds"][0]["until"] == "2027-01-04T07:00:00Z"


def test_a_kind_that_is_not_a_string_is_a_finding_not_a_crash() -> None:
    parsed = parse_resource({"apiVersion": "runner/v1", "kind": ["Job"], "name": "x"})
    assert parsed.resource is None
    assert [f.message for f in parsed.findings] == ["must be one of Job, Hold, Pool; got a list"]


def test_a_job_without_pool_or_max_parallel_has_the_normal_form_it_had() -> None:
    """Jobs applied before `pool` and `maxParallel` existed are no change after it."""
    from runner.spec import normal_form

    parsed = parse_resource(_job())
    assert parsed.resource is not None
    form = normal_form(parsed.resource)
    assert "pool" not in form and "maxParallel" not in form
    assert all("pool" not in task for task in form["tasks"])


def test_a_task_takes_its_job_pool_unless_it_names_its_own() -> None:
    from runner.spec import normal_form

    tasks = [{"name": "a", "run": "true"}, {"name": "b", "run": "true", "pool": "other"}]
    parsed = parse_resource(_job(pool="db", maxParallel=2, tasks=tasks))
    assert parsed.resource is not None
    form = normal_form(parsed.resource)
    assert [t["pool"] for t in form["tasks"]] == ["db", "other"]
    assert (form["pool"], form["maxParallel"]) == ("db", 2)
