"""The daemon's apply in a forked child (`runner.daemon.applier`): a real fork against a
real SQLite store. What the child did comes back as an `Outcome`; the daemon's own
process keeps none of the child's state; a child that dies or raises is a failed apply,
said with its exit code or its traceback."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import pytest

from runner.config.loader import cache_root
from runner.daemon import applier
from runner.reconciler import apply_config
from runner.store import Store
from tests.conftest import WriteFile
from tests.daemon.test_review import MANUAL
from tests.waiting import process_gone

NOW = datetime(2026, 1, 5, 10, 0, 30, tzinfo=UTC)

EVERY_HOUR = """
    apiVersion: runner/v1
    kind: Job
    name: {name}
    schedule: {{mode: auto, every: 1h}}
    tasks:
      - name: a
        run: "true"
"""


# The error is on line 4, column 16 ("every: 1h" is a mapping inside a plain value).
BROKEN = """
    apiVersion: runner/v1
    kind: Job
    name: broken
    schedule: every: 1h
    tasks:
      - {name: a, run: "true"}
"""


def apply(config_dir: Path, store: Store) -> applier.Outcome:
    return applier.apply_forked([str(config_dir)], store, now=NOW, origin="test")


def applied_and_finished(config_dir: Path, store: Store) -> applier.Outcome:
    outcome = apply(config_dir, store)
    applier.finish(outcome)
    return outcome


def job_names(store: Store) -> set[str]:
    return {r.name for r in store.resources("Job")}


def test_an_apply_in_a_child_writes_the_jobs_and_says_what_it_did(
    config_dir: Path, write: WriteFile, store: Store
) -> None:
    write("a.yaml", EVERY_HOUR.format(name="export"))
    write("b.yaml", EVERY_HOUR.format(name="import"))

    outcome = apply(config_dir, store)
    child = outcome.pid
    try:
        assert outcome.status == "applied", outcome.message
        assert (outcome.added, outcome.changed, outcome.deleted) == (2, 0, 0)
        assert outcome.written is True
        assert {"export", "import"} <= set(outcome.names)
        assert outcome.generation > 0
        assert outcome.generation == store.generation()
        assert child > 0 and child != os.getpid()
        assert job_names(store) == {"export", "import"}
    finally:
        applier.finish(outcome)

    assert outcome.pid == 0
    assert process_gone(child), f"the apply's child {child} still runs after finish"
    # The child saved the file cache after it reported; finish waited for that.
    assert store.file_cache(cache_root([str(config_dir)])) is not None


def test_a_second_apply_with_nothing_changed_writes_nothing(
    config_dir: Path, write: WriteFile, store: Store
) -> None:
    write("a.yaml", EVERY_HOUR.format(name="export"))
    write("b.yaml", EVERY_HOUR.format(name="import"))
    first = applied_and_finished(config_dir, store)
    assert first.status == "applied" and first.written, first

    again = applied_and_finished(config_dir, store)

    assert again.status == "applied", again.message
    assert again.written is False
    assert (again.added, again.changed, again.deleted, again.unchanged) == (0, 0, 0, 2)
    assert again.generation == first.generation == store.generation()


def test_a_new_manual_job_with_status_start_gets_its_one_run(
    config_dir: Path, write: WriteFile, store: Store
) -> None:
    write("m.yaml", MANUAL.format(name="once"))

    outcome = applied_and_finished(config_dir, store)

    assert outcome.status == "applied", outcome.message
    assert [job for job, _ in outcome.started] == ["once"]
    ((_, run_id),) = outcome.started
    run = store.run(run_id)
    assert run is not None, f"run {run_id} was reported started but is not in the store"
    assert (run.job, run.state) == ("once", "scheduled")


def test_an_apply_that_meets_the_lock_is_busy_and_writes_nothing(
    config_dir: Path, write: WriteFile, store: Store
) -> None:
    write("a.yaml", EVERY_HOUR.format(name="export"))

    with store.lock(timeout=0, command="x"):
        outcome = applied_and_finished(config_dir, store)

    assert outcome.status == "busy", outcome
    assert f"locked by x (pid {os.getpid()}" in outcome.message
    assert outcome.written is False
    assert job_names(store) == set()
    assert store.generation() == 0


def test_a_file_with_a_yaml_error_is_skipped_and_the_good_one_applied(
    config_dir: Path, write: WriteFile, store: Store
) -> None:
    write("good.yaml", EVERY_HOUR.format(name="export"))
    write("bad.yaml", BROKEN)

    outcome = applied_and_finished(config_dir, store)

    assert outcome.status == "applied", outcome.message
    assert outcome.skipped_files == ["jobs.d/bad.yaml"]
    errors = [text for is_error, text in outcome.findings if is_error]
    assert any(text.startswith("jobs.d/bad.yaml:4:16: error: YAML") for text in errors), (
        outcome.findings
    )
    assert job_names(store) == {"export"}


def test_a_child_that_exits_without_a_word_is_a_failed_apply(
    config_dir: Path, write: WriteFile, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    write("a.yaml", EVERY_HOUR.format(name="export"))

    def dies(*args: Any, **kwargs: Any) -> NoReturn:
        os._exit(3)

    monkeypatch.setattr(applier, "apply_here", dies)  # the child inherits the patch
    outcome = applied_and_finished(config_dir, store)

    assert outcome.status == "failed", outcome
    assert "exit code 3" in outcome.message
    assert outcome.pid == 0
    assert job_names(store) == set()


def test_an_exception_in_the_child_is_a_failed_apply_with_its_traceback(
    config_dir: Path, write: WriteFile, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    write("a.yaml", EVERY_HOUR.format(name="export"))

    def raises(*args: Any, **kwargs: Any) -> NoReturn:
        raise RuntimeError("boom")

    monkeypatch.setattr(applier, "apply_here", raises)
    outcome = applied_and_finished(config_dir, store)

    assert outcome.status == "failed", outcome
    assert outcome.message.startswith("RuntimeError: boom\n")
    assert "Traceback (most recent call last):" in outcome.message
    assert "in raises" in outcome.message  # the frame that raised
    assert job_names(store) == set()


calls_here = 0  # incremented by the patched apply_config: in the child, never here


def test_the_child_changes_nothing_in_the_daemons_process(
    config_dir: Path,
    write: WriteFile,
    store: Store,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    write("a.yaml", EVERY_HOUR.format(name="export"))
    ran = tmp_path / "apply-config-ran"  # what the child did, seen from here

    def counting(*args: Any, **kwargs: Any) -> Any:
        global calls_here
        calls_here += 1
        ran.write_text(f"{os.getpid()} {calls_here}")
        return apply_config(*args, **kwargs)

    monkeypatch.setattr(applier, "apply_config", counting)
    monkeypatch.setattr(f"{__name__}.calls_here", 0)
    outcome = applied_and_finished(config_dir, store)

    assert outcome.status == "applied", outcome.message
    child, count = ran.read_text().split()
    assert int(child) != os.getpid() and count == "1"  # it ran once, in another process,
    assert calls_here == 0  # ... whose state went with it
    assert job_names(store) == {"export"}  # and the daemon's store still works
