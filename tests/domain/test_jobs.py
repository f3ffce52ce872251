"""The job view: a normalised spec read once, with durations in seconds and the
defaults of normalisation as they were filled in."""

from __future__ import annotations

from typing import Any

import yaml

from runner.domain.jobs import JobViews, Retries, job_view, schedule_digest
from runner.spec.models import Job
from runner.spec.normalize import normal_form

JOB = """
apiVersion: runner/v1
kind: Job
name: export
labels: {team: data}
schedule:
  cron: "0  2 * * *"
  timezone: Europe/Berlin
  overlap: queue
  catchup: all
  startingDeadline: 1h30m
  jitter: 30s
status: paused
holdOnFailure: 3
after: [import]
timeout: 2h
env: {LEVEL: "1"}
retries: {limit: 2, delay: 1m}
continueOnError: true
tasks:
  - name: extract
    run: ./extract.sh
    timeout: 15m
  - name: load
    argv: [load, --fast]
    retries: {maxDelay: 5m}
    env: {FAST: "yes"}
  - name: check
    kind: manual
    after: []
    active: false
    prompt: look at the report
holds:
  - name: freeze
    tasks: [load]
"""


def spec(text: str = JOB, **changes: Any) -> dict[str, Any]:
    return normal_form(Job.model_validate({**yaml.safe_load(text), **changes}))


def test_a_schedule_in_seconds_with_its_timing() -> None:
    schedule = job_view(spec()).schedule
    assert (schedule.mode, schedule.auto, schedule.enabled) == ("auto", True, True)
    assert schedule.timing.cron == ("0 2 * * *",)
    assert (schedule.timing.every, schedule.timing.zone) == (None, "Europe/Berlin")
    assert (schedule.overlap, schedule.catchup) == ("queue", "all")
    assert (schedule.starting_deadline, schedule.jitter) == (5400.0, 30.0)


def test_the_schedule_digest_is_the_one_cursors_store() -> None:
    data = spec()
    assert job_view(data).schedule.digest == schedule_digest(data["schedule"])


def test_a_manual_job_has_the_defaults_of_a_schedule() -> None:
    data = spec(schedule=None, status=None)
    schedule = job_view(data).schedule
    assert (schedule.mode, schedule.auto) == ("manual", False)
    assert (schedule.overlap, schedule.catchup) == ("skip", "latest")
    assert (schedule.starting_deadline, schedule.jitter) == (None, 0.0)
    assert job_view({"name": "bare"}).schedule.timing.cron == ()


def test_the_job_fields() -> None:
    view = job_view(spec())
    assert (view.name, view.status, view.disabled) == ("export", "paused", False)
    assert dict(view.labels) == {"team": "data"}
    assert (view.after, view.hold_on_failure, view.timeout) == (("import",), 3, 7200.0)
    assert (view.keep_runs, view.keep_days) == (100, 30)
    assert [h["name"] for h in view.holds] == ["freeze"]
    assert dict(view.env) == {"LEVEL": "1"}
    assert view.task_names == ("extract", "load", "check")


def test_tasks_with_what_they_inherit_in_seconds() -> None:
    extract, load, check = job_view(spec()).tasks
    assert (extract.command, extract.after, extract.timeout) == (
        ["/bin/sh", "-c", "./extract.sh"],
        (),
        900.0,
    )
    assert extract.retries == Retries(limit=2, delay=60.0, backoff=2.0, max_delay=600.0)
    assert (load.command, load.after, dict(load.env)) == (
        ["load", "--fast"],
        ("extract",),
        {"FAST": "yes"},
    )
    assert load.retries == Retries(limit=2, delay=60.0, backoff=2.0, max_delay=300.0)
    assert load.continue_on_error and check.continue_on_error
    assert (check.kind, check.active, check.after, check.prompt) == (
        "manual",
        False,
        (),
        "look at the report",
    )


def test_every_in_seconds() -> None:
    schedule = job_view(spec(schedule={"every": "1h30m"})).schedule
    assert (schedule.timing.every, schedule.timing.cron, schedule.auto) == (5400, (), True)


def test_what_jobs_have_in_common_is_shared_not_copied() -> None:
    one, other = job_view(spec()), job_view(spec(name="other"))
    assert one.schedule is other.schedule
    assert all(a is b for a, b in zip(one.tasks, other.tasks, strict=True))
    assert one.labels is other.labels and one.env is other.env


def test_a_view_is_made_once_per_revision() -> None:
    views = JobViews()
    first = views.of("export", 1, spec())
    assert views.of("export", 1, {}) is first  # the spec of a kept revision is not read
    second = views.of("export", 2, spec(disabled=True))
    assert second is not first and second.disabled
    assert views.of("export", 2, {}) is second
    views.forget({"other"})
    assert views.of("export", 2, spec()).disabled is False  # made again from the spec given
