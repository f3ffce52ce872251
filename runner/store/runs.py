"""Runs and holds in the store: what plans need of them today (active runs, runtime
holds, the latest run of each job) and their creation, idempotent on (job, due time)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from runner.plan import ActiveRun, RuntimeHold
from runner.store.tables import holds, runs

ACTIVE_STATES = ("scheduled", "running")


class RunOperations:
    engine: sa.Engine

    def active_runs(self) -> list[ActiveRun]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(runs.c.id, runs.c.job, runs.c.revision, runs.c.state)
                .where(runs.c.state.in_(ACTIVE_STATES))
                .order_by(runs.c.id)
            ).all()
        return [ActiveRun(id=r.id, job=r.job, revision=r.revision, state=r.state) for r in rows]

    def last_runs(self) -> dict[str, tuple[int, str]]:
        """The latest run of each job: (id, state)."""
        latest = (
            sa.select(runs.c.job, sa.func.max(runs.c.id).label("id"))
            .group_by(runs.c.job)
            .subquery()
        )
        query = sa.select(runs.c.job, runs.c.id, runs.c.state).join(
            latest, runs.c.id == latest.c.id
        )
        with self.engine.connect() as conn:
            return {r.job: (r.id, r.state) for r in conn.execute(query).all()}

    def runtime_holds(self) -> list[RuntimeHold]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(holds.c.job, holds.c.name, holds.c.reason).order_by(
                    holds.c.job, holds.c.name
                )
            ).all()
        return [RuntimeHold(job=r.job, name=r.name, reason=r.reason) for r in rows]

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
        with self.engine.begin() as conn:
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

    def create_run(
        self,
        *,
        job: str,
        revision: int,
        trigger: str,
        due: datetime,
        now: datetime,
        state: str = "scheduled",
    ) -> int:
        """A run row; idempotent on (job, due): a second create returns the first's id."""
        with self.engine.begin() as conn:
            found = conn.execute(
                sa.select(runs.c.id).where(runs.c.job == job, runs.c.due == due)
            ).scalar()
            if found is not None:
                return int(found)
            result = conn.execute(
                sa.insert(runs).values(
                    job=job,
                    revision=revision,
                    trigger=trigger,
                    state=state,
                    due=due,
                    created=now,
                    started=now if state == "running" else None,
                    attempt=1,
                )
            )
            key = result.inserted_primary_key
            if key is None:  # pragma: no cover - every backend reports it
                raise RuntimeError("the store did not return the new run's id")
            return int(key[0])

    def set_run_state(
        self, run_id: int, state: str, *, now: datetime, reason: str | None = None
    ) -> None:
        ended = now if state not in ACTIVE_STATES else None
        with self.engine.begin() as conn:
            conn.execute(
                sa.update(runs)
                .where(runs.c.id == run_id)
                .values(state=state, reason=reason, ended=ended)
            )
