"""Idempotency keys (SPEC 7): the first answer to a request with a key, kept 24 h and
given again to a repeat, never acted on twice, whichever daemon on the store answers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from runner.store.database import Database
from runner.store.tables import idempotency

KEEP = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class Kept:
    request: str  # the method and path it was made for
    status: int | None  # None: the first request is still being answered
    body: Any


class IdempotencyOperations(Database):
    def reserve_key(self, token: str, key: str, request: str, now: datetime) -> Kept | None:
        """Take `key` for this request (None), or what was kept for it: its answer, or
        that it is being answered. Keys older than 24 h are forgotten first."""
        with self.writing("reserving an idempotency key") as conn:
            conn.execute(sa.delete(idempotency).where(idempotency.c.created < now - KEEP))
            row = conn.execute(
                sa.select(idempotency).where(idempotency.c.token == token, idempotency.c.key == key)
            ).first()
            if row is not None:
                return Kept(row.request, row.status, row.body)
            conn.execute(
                sa.insert(idempotency).values(token=token, key=key, request=request, created=now)
            )
        return None

    def keep_answer(self, token: str, key: str, status: int, body: Any) -> None:
        with self.writing("keeping an answer for its idempotency key") as conn:
            conn.execute(
                sa.update(idempotency)
                .where(idempotency.c.token == token, idempotency.c.key == key)
                .values(status=status, body=body)
            )

    def release_key(self, token: str, key: str) -> None:
        """The request failed without an answer to keep (a bug): a repeat may try again."""
        with self.writing("releasing an idempotency key") as conn:
            conn.execute(
                sa.delete(idempotency).where(idempotency.c.token == token, idempotency.c.key == key)
            )
