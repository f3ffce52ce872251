"""`runner schedule` (issue 16): the next fire times of a cron expression, an interval or
an applied job's schedule, in the schedule's zone and in UTC, DST gaps and repeats marked
with what runner does there; `--json`; errors in one line with SPEC's exit codes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from runner.cli import run
from runner.cli.remote import Api
from runner.clock import FakeClock
from runner.domain.jobs import job_view
from runner.scheduler.decide import ticks
from runner.spec.schedules import first_n
from runner.store import opened
from tests.conftest import WriteFile

JOBS = """
apiVersion: runner/v1
kind: Job
name: nightly
schedule: {cron: "30 2 * * *", timezone: Europe/Berlin}
tasks: [{name: a, run: "true"}]
---
apiVersion: runner/v1
kind: Job
name: adhoc
tasks: [{name: a, run: "true"}]
---
apiVersion: runner/v1
kind: Job
name: frozen
disabled: true
schedule: {every: 15m}
tasks: [{name: a, run: "true"}]
---
apiVersion: runner/v1
kind: Job
name: quiet
schedule: {cron: "@daily", enabled: false}
tasks: [{name: a, run: "true"}]
"""
BERLIN_SPRING = """\
Schedule: 30 2 * * *  (Europe/Berlin)
    From: Sat 2027-03-27 01:00:00 CET  (2027-03-27 00:00:00 UTC)
  Next 1: Sat 2027-03-27 02:30:00 CET   (2027-03-27 01:30:00 UTC)
  Next 2: Sun 2027-03-28 03:00:00 CEST  (2027-03-28 01:00:00 UTC)  DST gap: 02:30 does not \
exist (the clocks go from 02:00 to 03:00); runs once, at 03:00
  Next 3: Mon 2027-03-29 02:30:00 CEST  (2027-03-29 00:30:00 UTC)
"""


def call(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = run(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def shown(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    code, out, err = call(capsys, "schedule", *args)
    assert (code, err) == (0, "")
    return out


def as_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(shown(capsys, *args, "--json"))
    return found


def one_error(capsys: pytest.CaptureFixture[str], *args: str, code: int = 2) -> str:
    got, out, err = call(capsys, "schedule", *args)
    assert (got, out) == (code, "")
    assert err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err
    return err


@pytest.fixture
def applied(write: WriteFile, capsys: pytest.CaptureFixture[str]) -> None:
    write("jobs.yaml", JOBS)
    assert run(["apply"]) == 0
    capsys.readouterr()


def test_a_plain_cron_in_utc(capsys: pytest.CaptureFixture[str]) -> None:
    out = shown(capsys, "0 6 * * 1-5", "--from", "2027-01-01T07:00:00Z", "--count", "3")
    assert out == (
        "Schedule: 0 6 * * 1-5  (UTC)\n"
        "    From: Fri 2027-01-01 07:00:00 UTC\n"
        "  Next 1: Mon 2027-01-04 06:00:00 UTC\n"
        "  Next 2: Tue 2027-01-05 06:00:00 UTC\n"
        "  Next 3: Wed 2027-01-06 06:00:00 UTC\n"
    )


def test_a_macro_says_what_it_stands_for_and_the_fields_may_come_unquoted(
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = shown(capsys, "@daily", "--from", "2027-01-01", "--count", "1")
    assert out.splitlines()[0] == "Schedule: @daily = 0 0 * * *  (UTC)"
    assert out.splitlines()[2] == "  Next 1: Fri 2027-01-01 00:00:00 UTC"  # at --from: included
    words = shown(capsys, "30", "2", "*", "*", "*", "--from", "2027-01-01", "--count", "1")
    assert words.splitlines()[0] == "Schedule: 30 2 * * *  (UTC)"


def test_an_interval_anchored_at_the_epoch(capsys: pytest.CaptureFixture[str]) -> None:
    out = shown(capsys, "--every", "90m", "--from", "2027-01-01T00:10:00Z", "--count", "2")
    assert out == (
        "Schedule: every 1h30m  (UTC)\n"
        "    From: Fri 2027-01-01 00:10:00 UTC\n"
        "  Next 1: Fri 2027-01-01 01:30:00 UTC\n"
        "  Next 2: Fri 2027-01-01 03:00:00 UTC\n"
    )


def test_berlin_spring_forward_runs_the_missing_time_once_right_after_the_gap(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = ("30 2 * * *", "--timezone", "Europe/Berlin", "--from", "2027-03-27", "--count", "3")
    assert shown(capsys, *args) == BERLIN_SPRING


def test_berlin_fall_back_runs_a_repeated_time_once_at_the_first(
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = shown(
        capsys, "30 2 * * *", "--timezone", "Europe/Berlin", "--from", "2027-10-30", "--count", "3"
    )
    assert out.splitlines()[2:] == [
        "  Next 1: Sat 2027-10-30 02:30:00 CEST  (2027-10-30 00:30:00 UTC)",
        "  Next 2: Sun 2027-10-31 02:30:00 CEST  (2027-10-31 00:30:00 UTC)  DST repeat: 02:30 "
        "happens twice (first CEST, then CET); runs once, at the first",
        "  Next 3: Mon 2027-11-01 02:30:00 CET   (2027-11-01 01:30:00 UTC)",
    ]


def test_new_york_gap_and_repeat_of_an_hourly_cron(capsys: pytest.CaptureFixture[str]) -> None:
    ny = ("0 * * * *", "--timezone", "America/New_York", "--count", "2")
    spring = shown(capsys, *ny, "--from", "2027-03-14T06:30:00Z").splitlines()
    assert spring[2:] == [
        "  Next 1: Sun 2027-03-14 03:00:00 EDT  (2027-03-14 07:00:00 UTC)  DST gap: no run at "
        "02:00: it does not exist (the clocks go from 02:00 to 03:00)",
        "  Next 2: Sun 2027-03-14 04:00:00 EDT  (2027-03-14 08:00:00 UTC)",
    ]
    autumn = shown(capsys, *ny, "--from", "2027-11-07T05:00:00Z").splitlines()
    assert autumn[2:] == [
        "  Next 1: Sun 2027-11-07 01:00:00 EDT  (2027-11-07 05:00:00 UTC)  DST repeat: 01:00 "
        "happens twice (first EDT, then EST); runs at both; this is the first",
        "  Next 2: Sun 2027-11-07 01:00:00 EST  (2027-11-07 06:00:00 UTC)  DST repeat: 01:00 "
        "happens twice (first EDT, then EST); runs at both; this is the second",
    ]


def test_new_york_spring_gap_of_a_fixed_time_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    found = as_json(
        capsys,
        "30 2 * * *",
        "--timezone",
        "America/New_York",
        "--from",
        "2027-03-13",
        "--count",
        "3",
    )
    assert found == {
        "job": None,
        "schedule": {"cron": ["30 2 * * *"]},
        "timezone": "America/New_York",
        "from": "2027-03-13T00:00:00Z",
        "note": None,
        "times": [
            {
                "at": "2027-03-13T07:30:00Z",
                "local": "2027-03-13T02:30:00-05:00",
                "dst": None,
                "note": None,
            },
            {
                "at": "2027-03-14T07:00:00Z",
                "local": "2027-03-14T03:00:00-04:00",
                "dst": "gap",
                "note": "DST gap: 02:30 does not exist (the clocks go from 02:00 to 03:00); "
                "runs once, at 03:00",
            },
            {
                "at": "2027-03-15T06:30:00Z",
                "local": "2027-03-15T02:30:00-04:00",
                "dst": None,
                "note": None,
            },
        ],
    }


def test_from_defaults_to_now_and_count_to_ten(
    capsys: pytest.CaptureFixture[str], clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("runner.ops.schedule.now", clock.now)  # 2026-11-23 12:00 UTC
    found = as_json(capsys, "@hourly")
    assert found["from"] == "2026-11-23T12:00:00Z"
    assert [t["at"] for t in found["times"]] == [f"2026-11-23T{h:02}:00:00Z" for h in range(12, 22)]


def test_a_jobs_schedule_is_read_from_the_store(
    applied: None, capsys: pytest.CaptureFixture[str]
) -> None:
    out = shown(capsys, "--job", "nightly", "--from", "2027-03-27", "--count", "3")
    assert out == "     Job: nightly\n" + BERLIN_SPRING


def test_a_jobs_times_are_the_ones_its_scheduler_ticks(
    applied: None, capsys: pytest.CaptureFixture[str], home: Any
) -> None:
    found = as_json(capsys, "--job", "nightly", "--from", "2027-10-01", "--count", "40")
    with opened(home=home) as store:
        view = job_view(store.specs([("Job", "nightly")])[("Job", "nightly")])
    start = datetime(2027, 9, 30, 23, 59, 59, tzinfo=UTC)
    expected = [
        t.isoformat().replace("+00:00", "Z") for t in first_n(ticks(view.schedule, after=start), 40)
    ]
    assert [t["at"] for t in found["times"]] == expected


def test_a_manual_job_says_it_has_no_schedule(
    applied: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert shown(capsys, "--job", "adhoc") == (
        "     Job: adhoc\n"
        "Schedule: manual\n"
        "    Note: job adhoc is manual: it runs only when triggered (runner run adhoc)\n"
    )
    found = as_json(capsys, "--job", "adhoc", "--from", "2027-01-01")
    assert (found["schedule"], found["times"]) == (None, [])
    assert found["note"] == "job adhoc is manual: it runs only when triggered (runner run adhoc)"


def test_a_disabled_job_or_schedule_says_its_times_start_nothing(
    applied: None, capsys: pytest.CaptureFixture[str]
) -> None:
    frozen = as_json(capsys, "--job", "frozen", "--from", "2027-01-01", "--count", "2")
    assert (
        frozen["note"]
        == "job frozen is disabled (disabled: true): none of these times starts a run"
    )
    assert [t["at"] for t in frozen["times"]] == ["2027-01-01T00:00:00Z", "2027-01-01T00:15:00Z"]
    quiet = shown(capsys, "--job", "quiet", "--from", "2027-01-01", "--count", "1").splitlines()
    assert quiet[2] == (
        "    Note: job quiet's schedule is off (enabled: false): none of these times starts a "
        "run; runner run quiet still does"
    )


def test_a_jobs_schedule_through_the_api(
    applied: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--server`: the job is read from the daemon's `GET /v1/jobs/{job}/status`."""
    code, status, _ = call(capsys, "status", "nightly", "--json")
    assert code == 0
    asked: list[str] = []

    def get(api: Api, path: str, **params: Any) -> Any:
        asked.append(path)
        return json.loads(status)

    monkeypatch.setattr(Api, "get", get)
    remote = shown(
        capsys,
        "--job",
        "nightly",
        "--from",
        "2027-03-27",
        "--count",
        "3",
        "--server",
        "http://127.0.0.1:9",
    )
    assert asked == ["/v1/jobs/nightly/status"]
    assert remote == shown(capsys, "--job", "nightly", "--from", "2027-03-27", "--count", "3")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["61 * * * *"], '"61 * * * *" is not a valid cron expression: bad minute "61"'),
        (["* * *"], '"* * *" has 3 fields; use 5 fields'),
        (["@reboot"], '"@reboot" is not a supported cron macro'),
        (["every 15m"], '"every 15m" is not a cron expression; for an interval: --every 15m'),
        (["0", "0", "a.txt", "b.txt", "c.txt", "d.txt", "*"], "7 words where a cron expression"),
        (["@daily", "--timezone", "Mars/Base"], '--timezone: unknown time zone "Mars/Base"; use'),
        (["--every", "15x"], '--every "15x" is not a duration; use whole numbers'),
        (["--every", "0s"], "--every 0s: an interval must be more than 0s"),
        (["@daily", "--from", "yesterday"], '--from "yesterday" is neither a date'),
        (["@daily", "--count", "0"], "--count 0: give 1 to 10000"),
        ([], "give a cron expression ('30 2 * * *'), --every DURATION (15m) or --job NAME"),
        (["@daily", "--every", "5m"], "give only one of a cron expression, --every and --job"),
        (["--job", "nightly", "--timezone", "UTC"], "runs in its own time zone; leave --timezone"),
    ],
)
def test_usage_errors_are_one_line_with_exit_2(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert message in one_error(capsys, *args)


def test_an_unknown_job_is_one_line_with_exit_1_and_a_suggestion(
    applied: None, capsys: pytest.CaptureFixture[str]
) -> None:
    err = one_error(capsys, "--job", "nightli", code=1)
    assert err.startswith('error: unknown job "nightli" (did you mean "nightly"?)')
