"""A cron whose day-of-month and month never meet (`0 0 30 2 *`) is refused as one that
can never fire, naming the months, at the value's file, line and column (issue 17)."""

from __future__ import annotations

import json

import pytest

from runner.cli import run
from runner.spec.schedules import cron_error

JOB = """\
apiVersion: runner/v1
kind: Job
name: leap
schedule:
  cron: "{cron}"
tasks:
  - name: hello
    run: "true"
"""


@pytest.mark.parametrize(
    ("cron", "months", "last"),
    [
        ("0 0 30 2 *", "in February", 29),
        ("0 0 31 4,6,9,11 *", "in April, June, September or November", 30),
        ("0 0 31 apr *", "in April", 30),
        ("15 6 30,31 feb *", "in February", 29),
    ],
)
def test_a_day_that_never_comes_can_never_fire(cron: str, months: str, last: int) -> None:
    message = cron_error(cron)
    assert message is not None
    assert message.startswith(f'"{cron}" can never fire: ')
    assert months in message and f"use a day from 1 to {last}" in message
    assert "bad day-of-month" not in message


@pytest.mark.parametrize("cron", ["0 0 29 2 *", "0 0 31 2-4 *", "0 0 30 2 1", "0 0 L 2 *"])
def test_a_day_that_comes_in_some_month_or_year_is_fine(cron: str) -> None:
    assert cron_error(cron) is None


def test_validate_points_at_the_cron(write: object, capsys: pytest.CaptureFixture[str]) -> None:
    write("leap.yaml", JOB.format(cron="0 0 30 2 *"))  # type: ignore[operator]
    assert run(["validate", "--format", "json"]) == 1
    found = json.loads(capsys.readouterr().out)["diagnostics"]
    assert [(d["file"], d["line"], d["column"]) for d in found] == [("jobs.d/leap.yaml", 5, 9)]
    assert "can never fire" in found[0]["message"]
