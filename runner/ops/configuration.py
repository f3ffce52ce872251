"""plan and apply (SPEC 4): the folder compared with the store, and written to it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner.daemon.lock import holder
from runner.errors import RunnerError
from runner.ops.common import Home, now, opened_store
from runner.plan import plan_as_json
from runner.reconciler import ApplyResult, PlanResult, apply_config, apply_saved_plan, make_plan
from runner.reconciler.apply import saved_plan
from runner.runs.afterwards import start_new_manual_jobs
from runner.store import Store
from runner.wakeup import poke


@dataclass(frozen=True, slots=True)
class Planned:
    result: PlanResult

    @property
    def failed(self) -> bool:
        return bool(self.result.skipped)

    def as_json(self) -> dict[str, Any]:
        data = plan_as_json(self.result.plan)
        data["errors"] = [d.as_json() for d in self.result.config.errors]
        return data

    def save(self, out: Path) -> None:
        """Save the plan to apply it exactly later (`apply --plan FILE`)."""
        out.write_text(json.dumps(saved_plan(self.result), indent=1) + "\n")


def plan(home: Home, paths: Sequence[str]) -> Planned:
    """What apply would change, field by field, with its effects."""
    with opened_store(home) as store:
        return Planned(make_plan(list(paths), store, now=now(), thrifty=True))


@dataclass(frozen=True, slots=True)
class Applied:
    result: ApplyResult
    started: list[tuple[str, int]] = field(default_factory=list)  # (job, run id) queued

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
) -> Applied:
    """Apply the folder in one transaction; a daemon on the home is woken to tick the
    changed schedules, and runs the new manual jobs with `status: start` once."""
    with opened_store(home) as store:
        result = apply_config(
            list(paths),
            store,
            now=now(),
            atomic=atomic,
            allow_mass_delete=allow_mass_delete,
            lock_timeout=lock_timeout,
        )
        started = _start_new_manual_jobs(store, result, home.path)
    return Applied(result, started)


def _start_new_manual_jobs(store: Store, result: ApplyResult, home: Path) -> list[tuple[str, int]]:
    """A new manual job with `status: start` runs once (SPEC 2.2): with a daemon on the
    home, its run is queued to it (the daemon's own apply will find nothing new). With
    none, nothing runs by itself, and a scheduled run would only block `runner run`."""
    daemon = holder(home)
    if daemon is None:
        return []
    started = start_new_manual_jobs(store, result.plan, now=now())
    if started or result.written:  # the daemon ticks the changed schedules at once
        poke(home, int(daemon.get("pid") or 0))
    return started


@dataclass(frozen=True, slots=True)
class AppliedPlan:
    plan_file: Path
    written: bool
    summary: dict[str, int]


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
    summary = data.get("summary", {}) if isinstance(data, dict) else {}
    return AppliedPlan(plan_file, result.written, summary)
