"""systemd timers and their services as jobs: calendar events as cron where cron can say
them, refusals with the file and line where it cannot."""

from __future__ import annotations

import textwrap

import pytest

from runner.importing import Imported, ImportRefused, UnitText, import_timer, service_name
from runner.importing.calendar import CalendarRefused, calendar_cron
from runner.importing.timespan import span_seconds


@pytest.mark.parametrize(
    ("event", "cron", "zone"),
    [
        ("*-*-* 02:00:00", "0 2 * * *", None),
        ("Mon..Fri 09:00", "0 9 * * 1-5", None),
        ("Mon-Wed *-*-* 8:5", "5 8 * * 1-3", None),
        ("Sat,Sun 10:30", "30 10 * * 6,0", None),
        ("Sat..Sun", "0 0 * * 6-7", None),
        ("Monday 06:00:00", "0 6 * * 1", None),
        ("minutely", "* * * * *", None),
        ("hourly", "0 * * * *", None),
        ("daily", "0 0 * * *", None),
        ("weekly", "0 0 * * 1", None),  # systemd's week starts on Monday
        ("monthly", "0 0 1 * *", None),
        ("yearly", "0 0 1 1 *", None),
        ("annually", "0 0 1 1 *", None),
        ("quarterly", "0 0 1 1,4,7,10 *", None),
        ("semiannually", "0 0 1 1,7 *", None),
        ("*:0/15", "0-59/15 * * * *", None),
        ("*:*", "* * * * *", None),
        ("0/2:00", "0 0-23/2 * * *", None),
        ("8..17:30", "30 8-17 * * *", None),
        ("*-*-1,15 12:00", "0 12 1,15 * *", None),
        ("*-12-24 18:00", "0 18 24 12 *", None),
        ("12-24 18:00", "0 18 24 12 *", None),
        ("*-*-* 02:00:00.000", "0 2 * * *", None),
        ("Mon *-*-*/2", "0 0 */2 * 1", None),  # a day starting with *: cron ANDs too
        ("Mon *-*-1..7 03:00", "0 3 * * 1#1", None),  # the first Monday
        ("Tue,Thu *-*-8..14", "0 0 * * 2#2,4#2", None),
        ("*-*-* 02:00 Europe/Berlin", "0 2 * * *", "Europe/Berlin"),
        ("daily UTC", "0 0 * * *", "UTC"),
    ],
)
def test_calendar_events_cron_can_say(event: str, cron: str, zone: str | None) -> None:
    translated = calendar_cron(event)
    assert (translated.cron, translated.zone) == (cron, zone)


@pytest.mark.parametrize(
    ("event", "why"),
    [
        ("*-*-* *:*:30", 'seconds "30"'),
        ("*:*:*", 'seconds "*"'),
        ("*-*~01", "~ (days counted from the end"),
        ("*-02~03", "~ (days counted from the end"),
        ("2026-*-* 00:00", 'a year ("2026")'),
        ("2025..2027-01-01", "a year"),
        ("Mon *-*-01", "both a weekday and a day of the month"),
        ("Fri..Mon", "wrap around the week"),
        ("Caturday", '"Caturday" is not a weekday'),
        ("*-02-30", "no date has this day-of-month"),
        ("*-13-01", 'month "13"'),
        ("25:00", 'hour "25"'),
        ("", "an empty calendar event"),
        ("Mon 09:00 10:00", "is not [WEEKDAYS]"),
    ],
)
def test_calendar_events_cron_cannot_say_are_refused(event: str, why: str) -> None:
    with pytest.raises(CalendarRefused) as refused:
        calendar_cron(event)
    assert why in str(refused.value)


@pytest.mark.parametrize(
    ("span", "seconds"),
    [
        ("5min", 300),
        ("1h 30min", 5400),
        ("1h30m", 5400),
        ("90", 90),
        ("2d", 172800),
        ("1.5h", 5400),
        ("15 min", 900),
        ("2weeks", 1209600),
        ("500ms", None),
        ("", None),
        ("soon", None),
    ],
)
def test_time_spans(span: str, seconds: int | None) -> None:
    assert span_seconds(span) == seconds


TIMER = """\
[Unit]
Description=Nightly backup of the database

[Timer]
OnCalendar=Mon..Fri *-*-* 02:00:00
OnCalendar=Sat,Sun 04:30
Persistent=true
RandomizedDelaySec=5min
AccuracySec=1min
WakeSystem=true

[Install]
WantedBy=timers.target
"""
SERVICE = """\
[Unit]
Description=Back up the database
After=network-online.target

[Service]
Type=oneshot
User=backup
Group=backup
Environment="TARGET=s3://bucket/db" MODE=full
Environment=LEVEL=9
WorkingDirectory=/var/lib/backup
ExecStartPre=-/usr/bin/mkdir -p /var/lib/backup/tmp
ExecStart=/usr/local/bin/backup.sh --target ${TARGET} $MODE
ExecStartPost=/usr/bin/logger "backup %n done"
Nice=10
"""


def _import(timer: str, service: str = SERVICE, name: str = "backup") -> Imported:
    return import_timer(
        UnitText(f"{name}.timer", textwrap.dedent(timer)),
        UnitText(f"{name}.service", textwrap.dedent(service)),
        unit=f"{name}.service",
        timezone="Europe/Berlin",
    )


def test_a_timer_and_its_service_are_one_job() -> None:
    imported = _import(TIMER)
    document = imported.jobs[0].document
    assert document["name"] == "backup"
    assert document["description"] == "Nightly backup of the database"
    assert document["schedule"] == {
        "cron": ["0 2 * * 1-5", "30 4 * * 6,0"],
        "timezone": "Europe/Berlin",
        "catchup": "latest",  # Persistent=true
        "overlap": "skip",
        "jitter": "5m",
    }
    assert (document["user"], document["group"]) == ("backup", "backup")
    assert document["env"] == {"TARGET": "s3://bucket/db", "MODE": "full", "LEVEL": "9"}
    assert document["workdir"] == "/var/lib/backup"
    assert document["tasks"] == [
        {
            "name": "mkdir",
            "argv": ["/usr/bin/mkdir", "-p", "/var/lib/backup/tmp"],
            "continueOnError": True,
        },
        {"name": "backup", "run": '/usr/local/bin/backup.sh --target "${TARGET}" $MODE'},
        {"name": "logger", "argv": ["/usr/bin/logger", "backup backup.service done"]},
    ]


def test_settings_without_a_counterpart_are_listed_with_their_lines() -> None:
    skipped = [(s.file, s.line, s.text) for s in _import(TIMER).skipped]
    assert skipped == [
        ("backup.timer", 10, "WakeSystem=true"),
        ("backup.service", 3, "After=network-online.target"),
        ("backup.service", 15, "Nice=10"),
    ]


def test_without_persistent_nothing_is_caught_up() -> None:
    document = _import("[Timer]\nOnCalendar=daily\n").jobs[0].document
    assert document["schedule"]["catchup"] == "none"
    assert document["description"] == "Back up the database"  # the service's, failing the timer's


def test_an_interval_after_the_last_start_is_every() -> None:
    imported = _import("[Timer]\nOnBootSec=5min\nOnUnitActiveSec=1h 30min\n")
    assert imported.jobs[0].document["schedule"] == {
        "every": "1h30m",
        "catchup": "none",
        "overlap": "skip",
    }
    assert imported.skipped[0].line == 2  # OnBootSec: the first run after boot


DAILY = "[Timer]\nOnCalendar=daily\n"
RUNS = "[Service]\nExecStart=/bin/true\n"


@pytest.mark.parametrize(
    ("timer", "service", "where", "why"),
    [
        ("[Timer]\nOnCalendar=*-*-* 02:00:30\n", RUNS, "backup.timer:2", 'seconds "30"'),
        (DAILY + "OnCalendar=*-*~03\n", RUNS, "backup.timer:3", "~"),
        ("[Timer]\nOnBootSec=10min\n", RUNS, "backup.timer:2", "no boot trigger"),
        ("[Timer]\nOnUnitInactiveSec=1h\n", RUNS, "backup.timer:2", "last ended"),
        (DAILY + "OnUnitActiveSec=1h\n", RUNS, "backup.timer:3", "a cron or an every"),
        ("[Timer]\nOnUnitActiveSec=500ms\n", RUNS, "backup.timer:2", "whole seconds"),
        (
            "[Timer]\nOnCalendar=daily Asia/Tokyo\nOnCalendar=weekly UTC\n",
            RUNS,
            "backup.timer:3",
            "a second time zone",
        ),
        ("[Timer]\nPersistent=true\n", RUNS, "backup.timer:", "no OnCalendar= or OnUnitActiveSec="),
        ("OnCalendar=daily\n", RUNS, "backup.timer:1", "a setting before any [Section]"),
        ("[Timer]\nthis is not a setting\n", RUNS, "backup.timer:2", "not a unit file line"),
        (DAILY, "[Service]\nType=oneshot\n", "backup.service:", "no ExecStart="),
        (DAILY, "[Service]\nExecStart=@/bin/x y\n", "backup.service:2", "the @ prefix"),
        (DAILY, "[Service]\nExecStart=/bin/x %h\n", "backup.service:2", "specifier %h"),
        (DAILY, "[Service]\nExecStart=/bin/x 'open\n", "backup.service:2", "quotation"),
        (
            DAILY,
            "[Service]\nUser=Not Valid\nExecStart=/bin/x\n",
            "backup.service:2",
            "user or group",
        ),
    ],
)
def test_what_cron_or_runner_cannot_follow_is_refused_at_its_line(
    timer: str, service: str, where: str, why: str
) -> None:
    with pytest.raises(ImportRefused) as refused:
        _import(timer, service)
    assert refused.value.message.startswith(where)
    assert why in refused.value.message


def test_continued_lines_and_instances() -> None:
    service = "[Service]\nExecStart=/usr/bin/dump \\\n  --db %i \\\n  --to /srv/%p\n"
    imported = import_timer(
        UnitText("dump@orders.timer", "[Timer]\nOnCalendar=hourly\n"),
        UnitText("dump@.service", service),
        unit="dump@orders.service",
    )
    document = imported.jobs[0].document
    assert document["name"] == "dump-orders"
    assert document["tasks"][0]["argv"] == ["/usr/bin/dump", "--db", "orders", "--to", "/srv/dump"]
    assert document["schedule"]["timezone"] == "UTC"
    assert "UTC" in imported.notes[0]


def test_the_service_is_the_timers_unit_or_its_namesake() -> None:
    assert service_name(UnitText("/etc/systemd/system/a.timer", "[Timer]\n")) == "a.service"
    named = UnitText("a.timer", "[Timer]\nUnit=b.service\n")
    assert service_name(named) == "b.service"
