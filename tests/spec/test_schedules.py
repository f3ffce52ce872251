"""Schedule maths: SPEC 2.1's DST table, macros, lists of crons, intervals."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from runner.cli import run
from runner.spec.schedules import (
    Timing,
    cron_error,
    cron_times,
    every_times,
    first_n,
    local_times,
    preview,
    ticks,
    timezone_error,
)
from tests.conftest import WriteFile

BERLIN = ZoneInfo("Europe/Berlin")


def _ticks_on(expr: str, day: datetime) -> list[str]:
    """Local ticks of `expr` between 00:00 and 04:00 on `day` in Berlin."""
    start = day.replace(hour=0, minute=0, tzinfo=BERLIN) - timedelta(seconds=1)
    end = day.replace(hour=4, minute=0, tzinfo=BERLIN)
    out = []
    for tick in cron_times([expr], zone="Europe/Berlin", after=start.astimezone(UTC)):
        if tick >= end:
            break
        out.append(tick.astimezone(BERLIN).strftime("%H:%M%z"))
    return out


SPRING = datetime(2026, 3, 29)
AUTUMN = datetime(2026, 10, 25)


@pytest.mark.parametrize(
    ("expr", "day", "expected"),
    [
        ("30 2 * * *", SPRING, ["03:00+0200"]),
        ("30 2 * * *", AUTUMN, ["02:30+0200"]),
        ("*/20 2 * * *", SPRING, []),
        (
            "*/20 2 * * *",
            AUTUMN,
            ["02:00+0200", "02:20+0200", "02:40+0200", "02:00+0100", "02:20+0100", "02:40+0100"],
        ),
        ("0 * * * *", SPRING, ["00:00+0100", "01:00+0100", "03:00+0200"]),
        (
            "0 * * * *",
            AUTUMN,
            ["00:00+0200", "01:00+0200", "02:00+0200", "02:00+0100", "03:00+0100"],
        ),
    ],
)
def test_spec_dst_table(expr: str, day: datetime, expected: list[str]) -> None:
    assert _ticks_on(expr, day) == expected


def test_ticks_come_out_in_utc_and_strictly_after_the_reference() -> None:
    after = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)  # 06:00 in Berlin
    ticks = first_n(cron_times(["0 6 * * *"], zone="Europe/Berlin", after=after), 2)
    assert ticks == [
        datetime(2026, 11, 24, 5, 0, tzinfo=UTC),
        datetime(2026, 11, 25, 5, 0, tzinfo=UTC),
    ]
    assert all(t.tzinfo is UTC for t in ticks)


def test_a_list_of_crons_merges_in_order_without_repeats() -> None:
    after = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)
    ticks = first_n(cron_times(["0 6 * * *", "0 */6 * * *", "@daily"], zone="UTC", after=after), 5)
    assert [t.hour for t in ticks] == [6, 12, 18, 0, 6]
    assert len(set(ticks)) == 5


@pytest.mark.parametrize(
    ("macro", "hour_minute"), [("@hourly", (13, 0)), ("@daily", (0, 0)), ("@midnight", (0, 0))]
)
def test_macros(macro: str, hour_minute: tuple[int, int]) -> None:
    after = datetime(2026, 11, 23, 12, 30, tzinfo=UTC)
    tick = first_n(cron_times([macro], zone="UTC", after=after), 1)[0]
    assert (tick.hour, tick.minute) == hour_minute


def test_every_is_anchored_at_the_epoch_and_counts_real_time() -> None:
    after = datetime(2026, 11, 23, 12, 7, 30, tzinfo=UTC)
    assert first_n(every_times(15 * 60, after=after), 2) == [
        datetime(2026, 11, 23, 12, 15, tzinfo=UTC),
        datetime(2026, 11, 23, 12, 30, tzinfo=UTC),
    ]
    on_tick = datetime(2026, 11, 23, 12, 15, tzinfo=UTC)
    assert first_n(every_times(900, after=on_tick), 1) == [on_tick + timedelta(minutes=15)]


def test_every_ignores_the_wall_clock_across_fall_back() -> None:
    after = datetime(2026, 10, 24, 23, 0, tzinfo=UTC)  # 01:00+02:00 in Berlin
    ticks = first_n(every_times(3600, after=after), 3)
    assert [b - a for a, b in itertools.pairwise(ticks)] == [timedelta(hours=1)] * 2
    assert [t.astimezone(BERLIN).strftime("%H%z") for t in ticks] == [
        "02+0200",
        "02+0100",
        "03+0100",
    ]


@pytest.mark.parametrize(
    ("expr", "problem"),
    [
        ("61 * * * *", '"61 * * * *" is not a valid cron expression: bad minute "61"; use 0-59'),
        (
            "0 0 * * 1-7x",
            '"0 0 * * 1-7x" is not a valid cron expression: bad day-of-week "1-7x"; '
            "use 0-7 or SUN-SAT",
        ),
        ("0 0 ? * *", '"0 0 ? * *" is not a valid cron expression: bad day-of-month "?"'),
        (
            "0 0 30 2 *",
            '"0 0 30 2 *" can never fire: no date has this day-of-month ("30") in February; '
            "use a day from 1 to 29",
        ),
        ("* * *", '"* * *" has 3 fields; use 5 fields'),
        ("@reboot", '"@reboot" is not a supported cron macro'),
    ],
)
def test_cron_errors(expr: str, problem: str) -> None:
    message = cron_error(expr)
    assert message is not None and message.startswith(problem)


@pytest.mark.parametrize(
    "expr",
    ["0 2 * * 1-5", "*/15 * * * *", "0 0 L * *", "@weekly", "0  3   * * MON", "0\t3 * * WED"],
)
def test_valid_crons(expr: str) -> None:
    assert cron_error(expr) is None


def test_time_zones() -> None:
    assert timezone_error("Europe/Berlin") is None
    assert timezone_error("UTC") is None
    assert timezone_error("Mars/Olympus") == (
        'unknown time zone "Mars/Olympus"; use an IANA name such as Europe/Berlin or UTC'
    )
    assert timezone_error("../../etc/passwd") is not None


def test_six_fields_with_seconds_are_refused() -> None:
    assert cron_error("*/10 * * * * *") == (
        '"*/10 * * * * *" has 6 fields; use 5 fields (minute hour day-of-month month '
        "day-of-week) or one of @hourly, @daily, @midnight, @weekly, @monthly, @yearly"
    )


# Only spaces and tabs separate fields, as in Vixie cron: a no-break space pasted from a
# web page looks like a space, and str.split() would have taken it for one.
SEPARATE = "separate the fields with spaces or tabs only"


@pytest.mark.parametrize(
    ("expr", "problem"),
    [
        (
            "0\u00a00 * * *",
            rf'"0\u00a00 * * *": character 2 is U+00A0 (NO-BREAK SPACE); {SEPARATE}',
        ),
        (
            "0 0 * * *\u2003",
            rf'"0 0 * * *\u2003": character 10 is U+2003 (EM SPACE); {SEPARATE}',
        ),
        (
            "0 0\u200b* * *",
            rf'"0 0\u200b* * *": character 4 is U+200B (ZERO WIDTH SPACE); {SEPARATE}',
        ),
        ("0 0\n* * *", rf'"0 0\n* * *": character 4 is U+000A (a control character); {SEPARATE}'),
        (
            "\uff10 0 * * *",
            r'"\uff10 0 * * *": character 1 is U+FF10 (FULLWIDTH DIGIT ZERO); '
            "write the expression in plain ASCII",
        ),
    ],
)
def test_only_spaces_and_tabs_separate_fields(expr: str, problem: str) -> None:
    assert cron_error(expr) == problem


W_REFUSED = (
    "W (the weekday nearest a day, also in LW) is not supported; use a day of the month, "
    "L (the last day) or a day-of-week such as 1-5"
)


@pytest.mark.parametrize("expr", ["0 0 LW * *", "0 0 lw * *", "0 0 15W * *", "0 0 1,LW * *"])
def test_w_is_refused_in_every_form(expr: str) -> None:
    assert cron_error(expr) == f'"{expr}": {W_REFUSED}'


def test_day_names_with_a_w_are_not_w() -> None:
    assert cron_error("0 0 * * WED") is None
    assert cron_error("0 0 L * wed") is None


JOB = """\
apiVersion: runner/v1
kind: Job
name: export
schedule:
  cron: {cron}
tasks:
  - name: extract
    run: ./extract.sh
"""


@pytest.mark.parametrize(
    ("cron", "message"),
    [
        (
            '"0\u00a00 * * *"',
            rf'"0\u00a00 * * *": character 2 is U+00A0 (NO-BREAK SPACE); {SEPARATE}',
        ),
        (
            "0\u00a00 * * *",
            rf'"0\u00a00 * * *": character 2 is U+00A0 (NO-BREAK SPACE); {SEPARATE}',
        ),
        ("0 0 LW * *", f'"0 0 LW * *": {W_REFUSED}'),
    ],
    ids=["escaped-in-quotes", "typed-in-the-file", "lw"],
)
def test_validate_refuses_them_at_the_cron_value(
    cron: str, message: str, write: WriteFile, capsys: pytest.CaptureFixture[str]
) -> None:
    write("export.yaml", JOB.format(cron=cron))
    assert run(["validate", "jobs.d"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"jobs.d/export.yaml:5:9: error: schedule.cron[0]: {message}"


def test_one_tick_iterator_for_crons_intervals_and_neither() -> None:
    after = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)
    berlin = Timing(cron=("0 6 * * *", "30 6 * * *"), zone="Europe/Berlin")
    assert first_n(ticks(berlin, after=after), 3) == [
        datetime(2026, 11, 23, 5, 30, tzinfo=UTC),
        datetime(2026, 11, 24, 5, 0, tzinfo=UTC),
        datetime(2026, 11, 24, 5, 30, tzinfo=UTC),
    ]
    assert first_n(ticks(Timing(every=90), after=after), 2) == [
        datetime(2026, 11, 23, 5, 1, 30, tzinfo=UTC),
        datetime(2026, 11, 23, 5, 3, tzinfo=UTC),
    ]
    assert list(ticks(Timing(), after=after)) == []


AT = datetime(2026, 11, 23, 14, 42, 50, tzinfo=UTC)  # 15:42:50 in Berlin


@pytest.mark.parametrize(
    ("timing", "shown"),
    [
        (
            Timing(every=30, zone="Europe/Berlin"),
            ("2026-11-23 15:43:00 CET", "2026-11-23 15:43:30 CET", "2026-11-23 15:44:00 CET"),
        ),
        # anchored at the epoch: every 90s falls on a whole minute every other tick
        (
            Timing(every=90),
            ("2026-11-23 14:43:30 UTC", "2026-11-23 14:45:00 UTC", "2026-11-23 14:46:30 UTC"),
        ),
        (
            Timing(every=120),
            ("2026-11-23 14:44 UTC", "2026-11-23 14:46 UTC", "2026-11-23 14:48 UTC"),
        ),
        (
            Timing(cron=("*/20 * * * *",), zone="Europe/Berlin"),
            ("2026-11-23 16:00 CET", "2026-11-23 16:20 CET", "2026-11-23 16:40 CET"),
        ),
    ],
)
def test_next_runs_to_the_second_only_where_the_schedule_has_seconds(
    timing: Timing, shown: tuple[str, ...]
) -> None:
    assert preview(timing, AT) == shown


def test_a_time_off_the_minute_shows_seconds_whatever_the_schedule() -> None:
    times = [AT.replace(second=0), AT]
    assert local_times(Timing(), times) == ["2026-11-23 14:42:00 UTC", "2026-11-23 14:42:50 UTC"]
    assert local_times(Timing(every=60), [AT.replace(second=0)]) == ["2026-11-23 14:42 UTC"]
