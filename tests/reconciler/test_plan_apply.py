"""plan and apply as an operator uses them: round trips through the CLI on a folder."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from runner.cli import run
from runner.store import open_store
from tests.conftest import WriteFile

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def job(name: str, cron: str = "0 2 * * *", extra: str = "") -> str:
    return f"""
apiVersion: runner/v1
kind: Job
name: {name}
labels: {{team: data}}
schedule: {{cron: "{cron}", timezone: Europe/Berlin}}
{extra}
tasks:
  - name: extract
    run: ./extract.sh
  - name: load
    run: ./load.sh
"""


def out(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = run(list(args))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def jobs(capsys: pytest.CaptureFixture[str]) -> dict[str, dict]:  # type: ignore[type-arg]
    assert run(["jobs", "--json"]) == 0
    return {j["name"]: j for j in json.loads(capsys.readouterr().out)}


def test_add_apply_and_idempotence(write: WriteFile, capsys: pytest.CaptureFixture[str]) -> None:
    write("export.yaml", job("export"))
    code, text = out(capsys, "plan", "--detailed-exitcode")
    assert code == 2
    assert "  + job export" in text and "jobs.d/export.yaml:1" in text
    assert "next runs: " in text and " CET" in text
    assert text.splitlines()[-1] == "Plan: 1 to add, 0 to change, 0 to delete."
    assert out(capsys, "apply")[0] == 0
    code, text = out(capsys, "plan", "--detailed-exitcode")
    assert code == 0
    assert text.splitlines()[-1] == "No changes. Plan: 0 to add, 0 to change, 0 to delete."
    assert jobs(capsys)["export"]["revision"] == 1


def test_change_shows_fields_and_bumps_the_revision(
    write: WriteFile, capsys: pytest.CaptureFixture[str]
) -> None:
    write("export.yaml", job("export"))
    run(["apply"])
    write("export.yaml", job("export", cron="0 3 * * *"))
    code, text = out(capsys, "plan")
    assert code == 0
    assert "  ~ job export" in text and "revision 1 -> 2" in text
    assert '      ~ schedule.cron: "0 2 * * *" -> "0 3 * * *"' in text
    run(["apply"])
    capsys.readouterr()
    assert jobs(capsys)["export"]["revision"] == 2


def test_spelling_out_a_default_is_no_change(
    write: WriteFile, capsys: pytest.CaptureFixture[str]
) -> None:
    write("export.yaml", job("export"))
    run(["apply"])
    write("export.yaml", job("export", extra="status: start\ndisabled: false\n"))
    assert out(capsys, "plan", "--detailed-exitcode")[0] == 0


def test_rename_is_a_delete_and_an_add(
    write: WriteFile, capsys: pytest.CaptureFixture[str]
) -> None:
    write("export.yaml", job("export"))
    write("other.yaml", job("other"))
    run(["apply"])
    write("export.yaml", job("export-v2"))
    _, text = out(capsys, "plan")
    assert "  + job export-v2" in text
    assert "  - job export" in text and "(removed from jobs.d/export.yaml)" in text
    assert text.splitlines()[-1] == "Plan: 1 to add, 0 to change, 1 to delete."


def test_delete_a_file(
    write: WriteFile, config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write("export.yaml", job("export"))
    write("other.yaml", job("other"))
    run(["apply"])
    (config_dir / "export.yaml").unlink()
    code, text = out(capsys, "apply")
    assert code == 0
    assert "  - job export" in text and "(jobs.d/export.yaml removed)" in text
    assert list(jobs(capsys)) == ["other"]


def test_a_broken_file_is_skipped_while_the_others_apply(
    write: WriteFile, capsys: pytest.CaptureFixture[str]
) -> None:
    write("export.yaml", job("export"))
    write("report.yaml", job("report"))
    run(["apply"])
    write("export.yaml", job("export", cron="99 * * * *"))
    write("report.yaml", job("report", cron="0 4 * * *"))
    code, text = out(capsys, "apply")
    assert code == 1
    assert 'jobs.d/export.yaml:5:18: error: schedule.cron[0]: "99 * * * *"' in text
    assert (
        "  x jobs.d/export.yaml skipped: 1 error; job export stays at the applied revision" in text
    )
    assert "skipped 1 with errors: jobs.d/export.yaml" in text
    state = jobs(capsys)
    assert state["export"]["revision"] == 1
    assert state["report"]["revision"] == 2


def test_a_file_that_cannot_be_read_keeps_its_jobs(
    write: WriteFile, config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write("export.yaml", job("export"))
    write("other.yaml", job("other"))
    run(["apply"])
    path.unlink()
    path.symlink_to(config_dir / "gone" / "export.yaml")  # dangling: cannot be read
    code, text = out(capsys, "apply")
    assert code == 1
    assert "jobs.d/export.yaml:1:1: error: cannot read the file: No such file or directory" in text
    assert "job export stays at the applied revision" in text
    assert sorted(jobs(capsys)) == ["export", "other"]


def test_a_file_emptied_by_a_bad_merge_keeps_its_jobs(
    write: WriteFile, capsys: pytest.CaptureFixture[str]
) -> None:
    write("export.yaml", job("export"))
    write("other.yaml", job("other"))
    run(["apply"])
    write("export.yaml", "<<<<<<< HEAD\n" + job("export"))
    code, text = out(capsys, "apply")
    assert code == 1
    assert "job export stays at the applied revision" in text
    assert sorted(jobs(capsys)) == ["export", "other"]


def test_a_reference_into_a_skipped_file_resolves_against_the_store(
    write: WriteFile, capsys: pytest.CaptureFixture[str]
) -> None:
    write("export.yaml", job("export"))
    run(["apply"])
    write("export.yaml", job("export", cron="99 * * * *"))
    write("report.yaml", job("report", extra="after: [export]"))
    write("new.yaml", job("brand-new", cron="99 * * * *"))
    write("uses-new.yaml", job("uses-new", extra="after: [brand-new]"))
    code, text = out(capsys, "apply")
    assert code == 1
    assert (
        'jobs.d/uses-new.yaml:6:9: error: after[0]: job "brand-new" is defined in '
        "jobs.d/new.yaml, which is skipped for its errors, and has never been applied" in text
    )
    assert sorted(jobs(capsys)) == ["export", "report"]


def test_mass_delete_is_refused_unless_allowed(
    write: WriteFile, config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for i in range(10):
        write(f"j{i}.yaml", job(f"j{i}"))
    run(["apply"])
    for i in range(6):
        (config_dir / f"j{i}.yaml").unlink()
    code, text = out(capsys, "apply")
    assert code == 1
    assert (
        "error: refusing to apply: the plan deletes 6 of 10 resources, more than half: "
        "check the path and the checkout, or pass --allow-mass-delete"
    ) in text
    assert len(jobs(capsys)) == 10
    assert "! the plan deletes 6 of 10" in out(capsys, "plan")[1]
    assert out(capsys, "apply", "--allow-mass-delete")[0] == 0
    assert len(jobs(capsys)) == 4


def test_deleting_every_resource_is_refused(
    write: WriteFile, config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write("export.yaml", job("export"))
    run(["apply"])
    (config_dir / "export.yaml").unlink()
    code, text = out(capsys, "apply")
    assert code == 1 and "deletes every resource (1)" in text
    assert list(jobs(capsys)) == ["export"]


def test_a_saved_plan_is_applied_exactly(
    write: WriteFile, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write("export.yaml", job("export"))
    plan_file = tmp_path / "plan.json"
    assert out(capsys, "plan", "--out", str(plan_file))[0] == 0
    write("export.yaml", job("export", cron="0 5 * * *"))  # after the plan: not applied
    code, text = out(capsys, "apply", "--plan", str(plan_file))
    assert code == 0 and "1 added" in text
    state = jobs(capsys)
    assert state["export"]["schedule"]["cron"] == ["0 2 * * *"]


MANUAL_ONCE = """
apiVersion: runner/v1
kind: Job
name: restore
status: start
tasks:
  - {name: restore, run: echo restored}
"""


def history(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    assert run(["history", "--json"]) == 0
    runs: list[dict[str, object]] = json.loads(capsys.readouterr().out)
    return runs


def test_a_saved_plan_that_creates_a_manual_job_with_status_start_queues_its_run(
    write: WriteFile, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write("restore.yaml", MANUAL_ONCE)
    plan_file = tmp_path / "plan.json"
    assert out(capsys, "plan", "--out", str(plan_file))[0] == 0
    code, text = out(capsys, "apply", "--plan", str(plan_file))
    (made,) = history(capsys)
    assert code == 0 and (made["job"], made["state"]) == ("restore", "scheduled")
    assert f"run {made['id']} of restore queued: status: start runs it once; no daemon" in text
    assert out(capsys, "apply")[1].splitlines()[-1] == "Nothing to apply."
    assert len(history(capsys)) == 1


def test_runner_run_beside_the_queued_run_of_status_start_says_what_to_do(
    write: WriteFile, capsys: pytest.CaptureFixture[str]
) -> None:
    write("restore.yaml", MANUAL_ONCE)
    assert out(capsys, "apply")[0] == 0
    code, text = out(capsys, "run", "restore")
    assert code == 1
    assert text == (
        "error: job restore has run 1 scheduled; its overlap policy (skip) drops this "
        "trigger: wait for a daemon to run it, cancel it (runner cancel 1), or use "
        "--overlap allow\n"
    )
    assert out(capsys, "run", "restore", "--overlap", "allow")[0] == 0
    assert [r["state"] for r in history(capsys)] == ["success", "scheduled"]


def test_an_apply_that_skips_a_file_still_queues_the_run_of_a_new_job(
    write: WriteFile, capsys: pytest.CaptureFixture[str]
) -> None:
    write("restore.yaml", MANUAL_ONCE)
    write("broken.yaml", job("broken", cron="not a cron"))
    code, text = out(capsys, "apply")
    (made,) = history(capsys)
    assert code == 1 and made["job"] == "restore"
    assert f"run {made['id']} of restore queued" in text


def test_jobs_shows_a_manual_jobs_status_as_written(
    write: WriteFile, capsys: pytest.CaptureFixture[str]
) -> None:
    write("restore.yaml", MANUAL_ONCE)
    write("waits.yaml", MANUAL_ONCE.replace("restore", "waits").replace("status: start\n", ""))
    write("export.yaml", job("export"))
    run(["apply"])
    capsys.readouterr()
    state = jobs(capsys)
    assert {name: j["status"] for name, j in state.items()} == {
        "export": "start",
        "restore": "start",
        "waits": None,
    }


def test_a_stale_saved_plan_is_refused_saying_what_changed(
    write: WriteFile, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write("export.yaml", job("export"))
    run(["apply"])
    write("export.yaml", job("export", cron="0 3 * * *"))
    plan_file = tmp_path / "plan.json"
    run(["plan", "--out", str(plan_file)])
    write("export.yaml", job("export", cron="0 4 * * *"))
    run(["apply"])
    capsys.readouterr()
    code, text = out(capsys, "apply", "--plan", str(plan_file))
    assert code == 1
    assert text == (
        "error: the saved plan is stale: the store changed since it was made "
        "(job export changed (revision 1 -> 2)); make a new plan\n"
    )
    assert jobs(capsys)["export"]["schedule"]["cron"] == ["0 4 * * *"]


def test_atomic_applies_nothing_unless_every_file_is_valid(
    write: WriteFile, capsys: pytest.CaptureFixture[str]
) -> None:
    write("export.yaml", job("export"))
    write("broken.yaml", job("broken", cron="nope"))
    code, text = out(capsys, "apply", "--atomic")
    assert code == 1
    assert (
        "error: --atomic: 1 file(s) have errors (jobs.d/broken.yaml); nothing was applied" in text
    )
    assert jobs(capsys) == {}


def test_a_second_apply_says_who_holds_the_lock(
    write: WriteFile, _isolated_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write("export.yaml", job("export"))
    store = open_store(home=_isolated_home)
    try:
        with store.lock(timeout=1, command="runner apply jobs.d"):
            code, text = out(capsys, "apply", "--lock-timeout", "0.2")
    finally:
        store.close()
    assert code == 1
    assert text.startswith("error: the store is locked by runner apply jobs.d (pid ")
    assert "waited 0.2s" in text


def test_runs_in_progress_and_runtime_holds_show_in_the_plan(
    write: WriteFile, config_dir: Path, _isolated_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write("export.yaml", job("export"))
    write("legacy.yaml", job("legacy"))
    write("keep.yaml", job("keep"))
    run(["apply"])
    store = open_store(home=_isolated_home)
    try:
        running = store.create_run(
            job="export", revision=1, trigger="schedule", due=NOW, now=NOW, state="running"
        )
        old = store.create_run(
            job="legacy", revision=1, trigger="manual", due=NOW, now=NOW, state="running"
        )
        store.add_runtime_hold(job="keep", name="incident-2231", now=NOW, reason="disk")
    finally:
        store.close()
    write("export.yaml", job("export", cron="0 3 * * *"))
    (config_dir / "legacy.yaml").unlink()
    _, text = out(capsys, "plan")
    assert f"      ! run {running} is running on revision 1; new runs use revision 2" in text
    assert f"      ! run {old} is running: the job is deleted when it ends" in text
    assert "  = 1 unchanged; 1 runtime hold kept (keep: incident-2231)" in text
    run(["apply"])
    capsys.readouterr()
    state = jobs(capsys)
    assert state["legacy"]["deleting"] is True
    assert state["keep"]["holds"] == [{"name": "incident-2231", "origin": "runtime"}]


def test_plan_as_json(write: WriteFile, capsys: pytest.CaptureFixture[str]) -> None:
    write("export.yaml", job("export"))
    write("broken.yaml", job("broken", cron="nope"))
    code = run(["plan", "--format", "json"])
    captured = capsys.readouterr()
    assert code == 1
    data = json.loads(captured.out)
    assert data["format_version"] == "1"
    assert [(c["action"], c["kind"], c["name"]) for c in data["changes"]] == [
        ("add", "Job", "export")
    ]
    assert data["changes"][0]["source"] == "jobs.d/export.yaml:1"
    assert data["changes"][0]["after"]["schedule"]["timezone"] == "Europe/Berlin"
    assert data["skipped_files"][0]["path"] == "jobs.d/broken.yaml"
    assert data["summary"] == {
        "add": 1,
        "change": 0,
        "delete": 0,
        "unchanged": 0,
        "skipped_files": 1,
    }
    assert "jobs.d/broken.yaml:5:18: error:" in captured.err


def test_unchanged_files_are_not_read_again(
    write: WriteFile, config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write("export.yaml", job("export"))
    run(["apply"])
    before = path.stat()
    write("export.yaml", job("export", cron="0 9 * * *"))  # same size
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size
    # same size and mtime: taken from the cache, not read (so the edit is not seen)
    assert out(capsys, "plan", "--detailed-exitcode")[0] == 0
    os.utime(path)  # a new mtime: read again, and the content hash differs
    code, text = out(capsys, "plan", "--detailed-exitcode")
    assert code == 2 and '~ schedule.cron: "0 2 * * *" -> "0 9 * * *"' in text


def test_postgresql_round_trip(
    write: WriteFile,
    pg_url: str | None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if pg_url is None:
        pytest.skip("PostgreSQL is not reachable")
    monkeypatch.setenv("RUNNER_STORE", pg_url)
    write("export.yaml", job("export"))
    try:
        assert out(capsys, "apply")[0] == 0
        assert out(capsys, "plan", "--detailed-exitcode")[0] == 0
        assert list(jobs(capsys)) == ["export"]
    finally:
        import sqlalchemy as sa

        from runner.store.tables import metadata

        engine = sa.create_engine(pg_url)
        with engine.begin() as conn:
            metadata.drop_all(conn)
        engine.dispose()


def test_checks_across_files_are_redone_when_a_reference_changes(
    write: WriteFile, capsys: pytest.CaptureFixture[str]
) -> None:
    write("export.yaml", job("export"))
    write("report.yaml", job("report", extra="after: [export]"))
    assert out(capsys, "apply")[0] == 0
    # a command edit: nothing the checks across files look at; the cached result stands
    write("report.yaml", job("report", extra="after: [export]").replace("load.sh", "l2.sh"))
    assert out(capsys, "plan")[0] == 0
    # a reference edit: the checks run again and find the unknown job
    write("report.yaml", job("report", extra="after: [exprt]"))
    code, text = out(capsys, "plan")
    assert code == 1
    assert 'jobs.d/report.yaml:6:9: error: after[0]: unknown job "exprt"' in text
    # a file whose cached finding must move with an edit that shifts its column
    write("report.yaml", job("report", extra="after:   [exprt]"))
    code, text = out(capsys, "plan")
    assert 'jobs.d/report.yaml:6:11: error: after[0]: unknown job "exprt"' in text
    # a job gone from another file: the reference into it breaks
    write("report.yaml", job("report", extra="after: [export]"))
    assert out(capsys, "plan")[0] == 0
    write("export.yaml", job("export-renamed"))
    code, text = out(capsys, "plan")
    assert code == 1 and 'unknown job "export"' in text


def test_plan_keeps_a_cache_that_makes_the_next_plan_cheap(
    write: WriteFile, _isolated_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for i in range(3):
        write(f"j{i}.yaml", job(f"j{i}"))
    run(["apply"])
    store = open_store(home=_isolated_home)
    try:
        from runner.config.filecache import FileCache

        cached = FileCache.from_text(store.file_cache(os.path.abspath("jobs.d")))
    finally:
        store.close()
    assert len(cached.records) == 3
    assert cached.across_key is not None


def test_a_store_that_cannot_be_opened_is_one_line(
    write: WriteFile, capsys: pytest.CaptureFixture[str]
) -> None:
    write("export.yaml", job("export"))
    code, text = out(capsys, "plan", "--store", "postgresql://nobody:secret@127.0.0.1:1/x")
    assert code == 1
    assert text.startswith("error: cannot open the store at postgresql://nobody:***@127.0.0.1:1/x")
    assert "secret" not in text and len(text.splitlines()) == 1
    code, text = out(capsys, "apply", "--store", "mysql://x/y")
    assert (code, text) == (
        1,
        'error: unsupported store "mysql://x/y": use postgresql://USER@HOST/DB or sqlite:///PATH\n',
    )


def test_a_job_deleted_then_added_again_continues_its_revisions(
    write: WriteFile, config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write("a.yaml", job("again"))
    write("b.yaml", job("other"))
    assert out(capsys, "apply")[0] == 0
    (config_dir / "a.yaml").unlink()
    assert out(capsys, "apply")[0] == 0
    assert "again" not in jobs(capsys)
    write("a.yaml", job("again", cron="0 3 * * *"))
    code, text = out(capsys, "apply")
    assert code == 0, text
    assert jobs(capsys)["again"]["revision"] == 2  # revision 1 is kept, with its runs
