"""Runtime holds: placed while runs go on (`holdOnFailure`'s `on-failure`, say), as
opposed to the holds written in the configuration."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Required, TypedDict, Unpack

import sqlalchemy as sa

from runner.domain.runs import RuntimeHold
from runner.store.database import Database
from runner.store.events import HOLD, other_event, record
from runner.store.tables import holds


class NewHold(TypedDict, total=False):
    """A runtime hold: `Store.add_runtime_hold`'s keywords (a row of the holds table)."""

    job: Required[str]  # "" for a freeze by label
    name: Required[str]
    now: Required[datetime]  # when it was placed
    reason: str | None
    tasks: list[str] | None  # None: every task of the job
    until: datetime | None
    depends_job: str | None  # released when that job's (task's) next run succeeds
    depends_task: str | None
    created_by: str | None
    selector: dict[str, Any] | None  # {"labels": {...}}: the jobs it covers, by label


class HoldOperations(Database):
    def runtime_holds(self) -> list[RuntimeHold]:
        with self.reading("reading the runtime holds") as conn:
            rows = conn.execute(
                sa.select(holds.c.job, holds.c.name, holds.c.reason, holds.c.selector).order_by(
                    holds.c.job, holds.c.name
                )
            ).all()
        return [
            RuntimeHold(
                job=r.job,
                name=r.name,
                reason=r.reason,
                selector=(r.selector or {}).get("labels") if r.job == "" else None,
            )
            for r in rows
        ]

    def runtime_hold_rows(
        self, job: str, labels: Mapping[str, str] | None = None
    ) -> list[dict[str, Any]]:
        """The runtime holds on `job`; with its `labels`, the freezes by label that
        cover it too."""
        where = holds.c.job == job
        if labels is not None:
            where = sa.or_(where, holds.c.job == "")
        with self.reading(f"reading the runtime holds of {job}") as conn:
            rows = conn.execute(sa.select(holds).where(where).order_by(holds.c.name)).all()
        return [
            dict(r._mapping)
            for r in rows
            if r.job == job or _selects((r.selector or {}).get("labels") or {}, labels or {})
        ]

    def runtime_hold_names(self, job: str) -> set[str]:
        """The names taken by runtime holds on `job` ("" : by freezes by label)."""
        with self.reading("reading the names of runtime holds") as conn:
            return set(conn.execute(sa.select(holds.c.name).where(holds.c.job == job)).scalars())

    def add_runtime_hold(self, **hold: Unpack[NewHold]) -> None:
        row = {"created": hold["now"], **{k: v for k, v in hold.items() if k != "now"}}
        with self.writing(f"placing hold {hold['name']} on {hold['job']}") as conn:
            conn.execute(sa.insert(holds).values(row))
            record(conn, [_hold_event(row, "placed", hold["now"])])

    def release_runtime_holds(
        self, *, job: str | None = None, name: str | None = None, now: datetime | None = None
    ) -> list[dict[str, Any]]:
        """End the runtime holds on `job` (all, or the one `name`d), or every runtime
        hold named `name`; the rows ended."""
        where = [holds.c.job == job] if job is not None else []
        if name is not None:
            where.append(holds.c.name == name)
        what = f"releasing the runtime holds {name or ''} of {job or 'any job'}"
        with self.writing(what) as conn:
            rows = conn.execute(sa.select(holds).where(*where).order_by(holds.c.job)).all()
            if rows:
                conn.execute(sa.delete(holds).where(holds.c.id.in_([r.id for r in rows])))
                at = now or datetime.now(UTC)
                record(conn, [_hold_event(dict(r._mapping), "released", at) for r in rows])
        return [dict(r._mapping) for r in rows]


def _hold_event(row: Mapping[str, Any], state: str, at: datetime) -> dict[str, Any]:
    """A hold placed or released (a freeze, on job "", names no job)."""
    job, name = row["job"] or None, row["name"]
    on = f"on {job}" if job else "by label"
    return other_event(
        HOLD,
        f"hold {name} {on} {state}",
        at=at,
        job=job,
        name=name,
        state=state,
        reason=row.get("reason"),
        tasks=row.get("tasks"),
        selector=row.get("selector"),
    )


def _selects(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())
