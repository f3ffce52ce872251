"""plan and apply (SPEC 4): the folder compared with the store, and written to it."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner.errors import RunnerError
from runner.ops.common import Home, now, opened_store, wake_daemon
from runner.ops.plan_json import plan_as_json
from runner.reconciler import ApplyResult, PlanResult, apply_config, apply_saved_plan, make_plan
from runner.reconciler.apply import saved_plan
from runner.runs.afterwards import jobs_added_by, start_created_manual_jobs, start_new_manual_jobs


@dataclass(frozen=True, slots=True)
class Planned:
    result: PlanResult
    suspended: dict[str, Any] | None = None  # `runner suspend`'s, if applying is

    @property
    def failed(self) -> bool:
        return bool(self.result.skipped)

    def as_json(self) -> dict[str, Any]:
        data = plan_as_json(self.result.plan)
        data["errors"] = [d.as_json() for d in self.result.config.errors]
        data["source"] = self.result.origin.as_json()
        data["suspended"] = self.suspended
        return data

    def save(self, out: Path) -> None:
        """Save the plan to apply it exactly later (`apply --plan FILE`)."""
        saved = {**plan_as_json(self.result.plan), "saved": saved_plan(self.result)}
        try:
            write_private(out, json.dumps(saved, indent=1) + "\n")
        except OSError as exc:
            raise RunnerError(
                f"cannot save the plan to {out}: {exc.strerror or exc}", code="plan-not-saved"
            ) from None


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner reads (0600, an existing file's mode narrowed too):
    a saved plan holds every env value that is not secret, and the store's digests."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", closefd=False) as handle:
            handle.write(text)
    finally:
        os.close(fd)


def plan(home: Home, paths: Sequence[str]) -> Planned:
    """What apply would change, field by field, with its effects."""
    with opened_store(home) as store:
        result = make_plan(list(paths), store, now=now(), thrifty=True)
        return Planned(result, store.suspension())


@dataclass(frozen=True, slots=True)
class Applied:
    result: ApplyResult
    started: list[tuple[str, int]] = field(default_factory=list)  # (job, run id) queued
    daemon: int | None = None  # the pid of the daemon on the home, if one runs

    @property
    def plan_result(self) -> PlanResult:
        assert self.result.result is not None  # apply_config always plans
        return self.result.result


def apply(
    home: Home,
    paths: Sequence[str],
    *,
    atomic: bool = False,
    allow_mass_delete: bool = False,
    lock_timeout: float = 0.0,
    require_clean: bool = False,
) -> Applied:
    """Apply the folder in one transaction. The new manual jobs with `status: start`
    get their one run (SPEC 2.2), queued for a daemon whether one runs or not; a daemon
    on the home is woken to tick the changed schedules and start those runs."""
    with opened_store(home) as store:
        at = now()
        result = apply_config(
            list(paths),
            store,
            now=at,
            atomic=atomic,
            allow_mass_delete=allow_mass_delete,
            lock_timeout=lock_timeout,
            require_clean=require_clean,
        )
        started = start_new_manual_jobs(store, result.plan, now=at)
    return Applied(result, started, wake_daemon(home.path, changed=bool(started or result.written)))


@dataclass(frozen=True, slots=True)
class AppliedPlan:
    plan_file: Path
    written: bool
    summary: dict[str, int]
    started: list[tuple[str, int]] = field(default_factory=list)  # (job, run id) queued
    daemon: int | None = None  # the pid of the daemon on the home, if one runs


def apply_plan_file(
    home: Home, plan_file: Path, *, allow_mass_delete: bool = False, lock_timeout: float = 0.0
) -> AppliedPlan:
    """Apply a plan saved by `plan --out`, exactly, or refuse it as stale."""
    with opened_store(home) as store:
        try:
            data = json.loads(plan_file.read_text())
        except (OSError, ValueError) as exc:
            raise RunnerError(
                f"{plan_file}: cannot read the saved plan: {exc}", code="bad-plan-file"
            ) from None
        result = apply_saved_plan(
            data,
            store,
            now=now(),
            allow_mass_delete=allow_mass_delete,
            lock_timeout=lock_timeout,
        )
        started = start_created_manual_jobs(store, jobs_added_by(data), now=now())
    summary = data.get("summary", {}) if isinstance(data, dict) else {}
    daemon = wake_daemon(home.path, changed=bool(started or result.written))
    return AppliedPlan(plan_file, result.written, summary, started, daemon)
