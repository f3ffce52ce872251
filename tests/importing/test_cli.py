"""`runner import crontab|systemd` as a user runs it: YAML on stdout or one file per job,
what was skipped on stderr, errors as one line with the file and line; and the output
validates and plans as new jobs."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from runner.cli import run

CRONTAB = """\
MAILTO=ops@example.org
# Rotate the logs
0 3 * * * /usr/local/bin/rotate-logs.sh
*/15 9-17 * * mon-fri cd /srv/app && ./bin/console queue:work
@reboot /usr/local/bin/start-tunnel
0 0 * * 0 mail -s weekly root%Hello%world
"""
SYSTEM = """\
SHELL=/bin/sh
17 * * * * root cd / && run-parts --report /etc/cron.hourly
*/5 * * * * www-data php /var/www/nextcloud/cron.php
"""


def _runner(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = run(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def crontab(tmp_path: Path) -> Path:
    path = tmp_path / "crontab.txt"
    path.write_text(CRONTAB)
    return path


def test_crontab_to_stdout_is_a_stream_of_jobs(
    crontab: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _runner(capsys, "import", "crontab", str(crontab))
    assert code == 0
    assert out.count("\n---\n") == 2
    assert "# times are read in UTC: the host's time zone was not given (--timezone)" in out
    assert f"# from {crontab}:3: 0 3 * * * /usr/local/bin/rotate-logs.sh" in out
    assert err.splitlines() == [
        f'{crontab}:5: skipped "@reboot /usr/local/bin/start-tunnel": '
        "@reboot runs when cron starts; runner has no boot trigger",
        f"{crontab}: 3 jobs imported, 1 line skipped",
    ]


def test_the_output_validates_and_plans_as_new_jobs(
    crontab: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = _runner(capsys, "import", "crontab", str(crontab), "--timezone", "Europe/Berlin")
    folder = tmp_path / "jobs.d"
    folder.mkdir()
    (folder / "imported.yaml").write_text(out)
    code, checked, _ = _runner(capsys, "validate", str(folder))
    assert (code, checked.splitlines()[-1]) == (0, f"{folder}: 1 file, 3 resources: valid")
    code, planned, _ = _runner(capsys, "plan", str(folder))
    assert code == 0
    added = [line.split()[2] for line in planned.splitlines() if line.startswith("  + job ")]
    assert sorted(added) == ["console", "mail", "rotate-logs"]
    assert "Plan: 3 to add, 0 to change, 0 to delete." in planned


def test_a_system_crontab_from_stdin_validates_with_its_users(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(SYSTEM.encode())))
    out_dir = tmp_path / "jobs.d"
    code, _, err = _runner(capsys, "import", "crontab", "-", "--out", str(out_dir))
    assert code == 0
    assert err.splitlines() == [f"<stdin>: 2 jobs imported into {out_dir}"]
    assert sorted(p.name for p in out_dir.iterdir()) == ["cron.hourly.yaml", "cron.yaml"]
    assert "user: www-data" in (out_dir / "cron.yaml").read_text()
    code, checked, _ = _runner(capsys, "validate", str(out_dir))
    assert code == 0, checked
    code, planned, _ = _runner(capsys, "plan", str(out_dir))
    assert "Plan: 2 to add, 0 to change, 0 to delete." in planned


def test_out_refuses_to_overwrite_unless_forced(
    crontab: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_dir = tmp_path / "jobs.d"
    assert _runner(capsys, "import", "crontab", str(crontab), "--out", str(out_dir))[0] == 0
    (out_dir / "mail.yaml").write_text("# mine\n")
    code, out, err = _runner(capsys, "import", "crontab", str(crontab), "--out", str(out_dir))
    assert (code, out) == (1, "")
    assert err == f"error: {out_dir}/rotate-logs.yaml exists (and 2 more); --force overwrites\n"
    assert (out_dir / "mail.yaml").read_text() == "# mine\n"  # nothing written
    code, _, _ = _runner(
        capsys, "import", "crontab", str(crontab), "--out", str(out_dir), "--force"
    )
    assert code == 0
    assert (out_dir / "mail.yaml").read_text().startswith("# imported from ")


def test_json_lists_jobs_and_what_was_skipped(
    crontab: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _runner(capsys, "import", "crontab", str(crontab), "--json")
    shown = json.loads(out)
    assert code == 0
    assert [job["name"] for job in shown["jobs"]] == ["rotate-logs", "console", "mail"]
    assert shown["skipped"] == [
        {
            "file": str(crontab),
            "line": 5,
            "text": "@reboot /usr/local/bin/start-tunnel",
            "reason": "@reboot runs when cron starts; runner has no boot trigger",
        }
    ]
    assert shown["written"] == []


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        (None, ["crontab", "{path}"], "error: {path}: no such file"),
        (b"0 1 * * * a\n0 2 * * * caf\xe9\n", ["crontab", "{path}"], "error: {path}:2: not UTF-8"),
        (b"", ["crontab", "{path}", "--timezone", "Mars/Base"], "error: --timezone: unknown"),
        (b"[Timer]\nOnCalendar=Mon *-*-05\n", ["systemd", "{path}"], "error: {path}:2: OnCalendar"),
        (b"[Timer]\nOnCalendar=daily\n", ["systemd", "{path}.x"], "error: {path}.x: name a .timer"),
    ],
)
def test_bad_input_is_one_line_naming_the_file_and_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    content: bytes | None,
    args: list[str],
    message: str,
) -> None:
    path = tmp_path / ("unit.timer" if args[0] == "systemd" else "crontab")
    if content is not None:
        path.write_bytes(content)
        (tmp_path / "unit.service").write_text("[Service]\nExecStart=/bin/true\n")
    code, out, err = _runner(capsys, "import", *(a.format(path=path) for a in args))
    assert code != 0
    assert out == ""
    assert err.startswith(message.format(path=path))
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1


def test_a_timer_without_its_service_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    timer = tmp_path / "lonely.timer"
    timer.write_text("[Timer]\nOnCalendar=daily\n")
    code, _, err = _runner(capsys, "import", "systemd", str(timer))
    assert (code, err) == (1, f"error: {timer}: its service lonely.service is not beside it\n")


def test_a_systemd_timer_validates_and_plans(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    units = tmp_path / "units"
    units.mkdir()
    (units / "backup.timer").write_text("[Timer]\nOnCalendar=Mon..Fri 02:00\nPersistent=true\n")
    (units / "backup.service").write_text(
        "[Service]\nUser=backup\nEnvironment=MODE=full\nExecStart=/usr/local/bin/backup --all\n"
    )
    out_dir = tmp_path / "jobs.d"
    code, _, err = _runner(
        capsys, "import", "systemd", str(units / "backup.timer"), "--out", str(out_dir)
    )
    assert (code, err) == (0, f"{units / 'backup.timer'}: 1 job imported into {out_dir}\n")
    code, checked, _ = _runner(capsys, "validate", str(out_dir))
    assert code == 0, checked
    code, planned, _ = _runner(capsys, "plan", str(out_dir))
    assert "  + job backup" in planned


def test_import_is_listed_in_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _runner(capsys, "--help")
    assert code == 0
    assert "import    Turn crontabs and systemd timers into job files." in out
