"""Runtime holds: placed while runs go on (`holdOnFailure`'s `on-failure`, say), as
opposed to the holds written in the configuration."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from runner.plan import RuntimeHold
from runner.store.database import Database
from runner.store.tables import holds


class HoldOperations(Database):
    def runtime_holds(self) -> list[RuntimeHold]:
        with self.reading("reading the runtime holds") as conn:
            rows = conn.execute(
                sa.select(holds.c.job, holds.c.name, holds.c.reason).order_by(
                    holds.c.job, holds.c.name
                )
            ).all()
        return [RuntimeHold(job=r.job, name=r.name, reason=r.reason) for r in rows]

    def runtime_hold_rows(self, job: str) -> list[dict[str, Any]]:
        with self.reading(f"reading the runtime holds of {job}") as conn:
            rows = conn.execute(
                sa.select(holds).where(holds.c.job == job).order_by(holds.c.name)
            ).all()
        return [dict(r._mapping) for r in rows]

    def add_runtime_hold(
        self,
        *,
        job: str,
        name: str,
        now: datetime,
        reason: str | None = None,
        tasks: list[str] | None = None,
        until: datetime | None = None,
        depends_job: str | None = None,
        depends_task: str | None = None,
        created_by: str | None = None,
    ) -> None:
        with self.writing(f"placing hold {name} on {job}") as conn:
            conn.execute(
                sa.insert(holds).values(
                    job=job,
                    name=name,
                    reason=reason,
                    tasks=tasks,
                    until=until,
                    depends_job=depends_job,
                    depends_task=depends_task,
                    created=now,
                    created_by=created_by,
                )
            )
