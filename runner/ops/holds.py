"""release (SPEC 3.1): runtime holds ended by hand. A hold a file defines is released
by changing the file, and the refusal says which file."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

from runner.clock import Clock, SystemClock
from runner.domain.holds import hold_covers
from runner.errors import NotFound, RunnerError
from runner.ops.audit import record
from runner.ops.common import Home, now, opened_store, wake_everyone
from runner.ops.identity import Actor, local_actor
from runner.runs.holds import job_holds
from runner.runs.trigger import Refused
from runner.store import Store


@dataclass(frozen=True, slots=True)
class Released:
    """The runtime holds a release ended, one result each (SPEC 3.1's shape)."""

    holds: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "holds": [
                {
                    "name": h["name"],
                    "job": h["job"] or None,
                    "selector": _labels(h),
                    "origin": "runtime",
                    "reason": h["reason"],
                }
                for h in self.holds
            ],
            "results": [
                {"hold": h["name"], "job": h["job"] or None, "status": "ok", "detail": None}
                for h in self.holds
            ],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Released:
        """`as_json`'s answer read back (the CLI's `--server`) as the rows it was made of."""
        return cls(
            [
                {
                    "name": h["name"],
                    "job": h["job"] or "",
                    "selector": {"labels": h["selector"]} if h["selector"] else None,
                    "reason": h["reason"],
                }
                for h in data["holds"]
            ]
        )


def target(hold: dict[str, Any]) -> str:
    """What a runtime hold (a row) is on, as shown: its job, or the labels it selects."""
    labels = _labels(hold)
    if labels is None:
        return str(hold["job"])
    return "jobs labelled " + ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def _labels(hold: dict[str, Any]) -> dict[str, str] | None:
    return (hold.get("selector") or {}).get("labels") if not hold["job"] else None


def release(
    home: Home,
    *,
    job: str | None = None,
    hold: str | None = None,
    actor: Actor | None = None,
    clock: Clock | None = None,
) -> Released:
    """End runtime holds: `job` alone, every one on that job; `job` and `hold`, that one;
    `hold` alone (`--name`), every runtime hold so named. A daemon on the home is woken,
    so that what they held starts now."""
    clock, actor = clock or SystemClock(), actor or local_actor()
    with opened_store(home) as store:
        if (
            job is not None
            and not store.resources("Job", names=[job])
            and not store.runtime_hold_rows(job)
        ):
            raise NotFound(f"no job {job}: `runner jobs` lists the jobs")
        ended = store.release_runtime_holds(job=job, name=hold, now=clock.now())
        for h in ended:
            record(
                store,
                actor,
                "release",
                status="ok",
                clock=clock,
                job=h["job"] or None,
                target=h["name"],
                detail=f"released {h['name']} on {target(h)}",
            )
        if not ended:
            try:
                _refuse(store, job=job, hold=hold)
            except RunnerError as refused:
                record(
                    store,
                    actor,
                    "release",
                    status="refused",
                    clock=clock,
                    job=job,
                    target=hold,
                    detail=refused.message,
                )
                raise
        wake_everyone(store, home)
    return Released(ended)


def _refuse(store: Store, *, job: str | None, hold: str | None) -> NoReturn:
    """Why nothing was released: the hold is a configured one (its file releases it),
    or there is no such runtime hold."""
    for name, spec in _configured(store, job=job, hold=hold):
        for h in job_holds(store, spec, now=now()):
            if h["origin"] == "config" and (hold is None or h["name"] == hold):
                raise Refused(
                    f"hold {h['name']} on {name} is defined in the configuration, not placed "
                    f"at run time: it is released {h['releases_when']}",
                    code="hold-configured",
                )
    raise nothing_to_release(job=job, hold=hold)


def nothing_to_release(*, job: str | None, hold: str | None) -> NotFound:
    """No runtime hold named `hold` (on `job`), or none at all on `job`."""
    if job is None:
        return NotFound(f"no runtime hold named {hold}: `runner jobs` lists the holds")
    what = f"hold {hold}" if hold else "runtime hold"
    return NotFound(f"no {what} on {job}: `runner status {job}` lists its holds")


def _configured(
    store: Store, *, job: str | None, hold: str | None
) -> list[tuple[str, dict[str, Any]]]:
    """The jobs (name, spec) that a configured hold could be meant by: `job`, or with
    `--name` only those with an inline hold or a `Hold` so named, so that a mistyped
    name does not read every job's holds."""
    if job is not None:
        spec = store.specs([("Job", job)]).get(("Job", job))
        return [(job, spec)] if spec is not None else []
    specs = store.specs(("Job", r.name) for r in store.resources("Job"))
    resource = store.specs([("Hold", hold or "")]).get(("Hold", hold or ""))
    return [
        (name, spec)
        for (_, name), spec in sorted(specs.items())
        if any(h["name"] == hold for h in spec.get("holds") or ())
        or (resource is not None and hold_covers(resource, spec))
    ]
