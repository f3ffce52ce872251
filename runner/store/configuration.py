"""What `apply` writes and `plan` reads: the resources as applied, their revisions, the
store's generation, the plan cache, and the record of reconciles."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, NotRequired, Required, TypedDict, Unpack

import sqlalchemy as sa

from runner.domain import RunState
from runner.plan import Applied
from runner.store.database import Database
from runner.store.events import CONFIG, other_event, record
from runner.store.runs import discard_scheduled
from runner.store.tables import file_cache, holds, meta, reconciles, resources, revisions, runs

KEEP_RECONCILES = 20
SUSPENDED = "suspended"  # the meta key of `runner suspend`'s reason, who and when
GIT_META = "git"  # the daemon's git sync: what it fetched, where its files are, and why not
# The specs `current_specs` read, by (kind, name): (digest, spec). A digest names one
# spec, so a spec kept for a digest is right for any store that has that digest.
_SPECS: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}
SPECS_KEPT = 50_000
RESOURCE_COLUMNS = (  # a StoredResource
    resources.c.kind,
    resources.c.name,
    resources.c.revision,
    resources.c.digest,
    resources.c.source_file,
    resources.c.source_line,
    resources.c.deleting,
)


class StoredResource(NamedTuple):  # a NamedTuple: built straight from 10,000 rows
    kind: str
    name: str
    revision: int
    digest: str
    source_file: str
    source_line: int
    deleting: bool

    @property
    def source(self) -> str:
        return f"{self.source_file}:{self.source_line}"


@dataclass(frozen=True, slots=True, kw_only=True)
class ResourceWrite:
    """A resource as apply writes it: new, changed, or only moved within the files."""

    kind: str
    name: str
    revision: int
    digest: str
    spec: dict[str, Any]
    view: dict[str, Any]
    source_file: str
    source_line: int
    new_revision: bool


class ConfigurationChange(TypedDict, total=False):
    """What one apply writes: `Store.write_configuration`'s keywords."""

    writes: Required[Sequence[ResourceWrite]]
    deletes: Required[Sequence[tuple[str, str]]]  # (kind, name)
    now: Required[datetime]
    digest: Required[str]  # of the configuration applied
    expected_generation: int | None  # refused (StaleStore) when the store moved on


class Reconcile(TypedDict):
    """An apply's outcome as recorded: `Store.record_reconcile`'s keywords."""

    started: datetime
    ended: datetime
    origin: str
    outcome: str
    digest: str | None
    summary: dict[str, Any]
    errors: list[str]
    source: NotRequired[dict[str, Any] | None]  # `runner.config.origin.Origin`'s JSON


class ConfigurationOperations(Database):
    """What `apply` wrote: the resources and their revisions, the generation every
    apply bumps, the plan cache, and the record of reconciles."""

    # --- meta ------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        with self.reading("reading the store's settings") as conn:
            return read_meta(conn, key)

    def set_meta(self, key: str, value: str) -> None:
        with self.writing(f"writing the store's setting {key}") as conn:
            write_meta(conn, key, value)

    def generation(self) -> int:
        """A counter that grows with every apply that changed the store."""
        return int(self.get_meta("generation") or 0)

    def suspension(self) -> dict[str, Any] | None:
        """Why applying is suspended (`runner suspend`): {reason, by, at}; None if not."""
        value = self.get_meta(SUSPENDED)
        return dict(json.loads(value)) if value else None

    def set_suspension(
        self, info: dict[str, Any] | None, *, now: datetime, by: str
    ) -> dict[str, Any] | None:
        """Suspend applying (`info`: {reason, by, at}) or resume it (None), with its
        event; the suspension there was before."""
        with self.writing("suspending applying" if info else "resuming applying") as conn:
            before = read_meta(conn, SUSPENDED, lock=True)
            write_meta(conn, SUSPENDED, json.dumps(info) if info else "")
            state = "suspended" if info else "resumed"
            reason = info.get("reason") if info else None
            message = f"applying {state} by {by}" + (f": {reason}" if reason else "")
            record(conn, [other_event(CONFIG, message, at=now, state=state, detail=reason)])
        return dict(json.loads(before)) if before else None

    # --- resources -------------------------------------------------------------------

    def resources(
        self, kind: str | None = None, *, names: Sequence[str] | None = None
    ) -> list[StoredResource]:
        query = sa.select(*RESOURCE_COLUMNS)
        if kind:
            query = query.where(resources.c.kind == kind)
        if names is not None:
            query = query.where(resources.c.name.in_(list(names)))
        with self.reading("reading the resources") as conn:
            rows = conn.execute(query.order_by(resources.c.kind, resources.c.name))
            return [StoredResource._make(r) for r in rows]

    def views(self, names: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The reference views of the given jobs, as applied."""
        found = self._by_key(resources.c.view, (("Job", n) for n in names))
        return {name: view for (_, name), view in found.items()}

    def current_specs(
        self, stored: Sequence[StoredResource]
    ) -> dict[tuple[str, str], dict[str, Any]]:
        """The applied specs of `stored` (as `resources` read them), read from the store
        only when not read before at the same digest: listing 1,000 jobs, or triggering
        one, parses no JSON twice. Shared between callers: not to be changed."""
        fresh = [s for s in stored if _SPECS.get((s.kind, s.name), ("",))[0] != s.digest]
        if fresh:
            read = self.specs((s.kind, s.name) for s in fresh)
            if len(_SPECS) + len(fresh) > SPECS_KEPT:
                _SPECS.clear()
            for s in fresh:
                _SPECS[(s.kind, s.name)] = (s.digest, read.get((s.kind, s.name)) or {})
        return {(s.kind, s.name): _SPECS[(s.kind, s.name)][1] for s in stored}

    def specs(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        """The applied normalised specs of the given (kind, name) resources."""
        return self._by_key(resources.c.spec, keys)

    def _by_key(
        self, column: sa.Column[Any], keys: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], Any]:
        """One column of the given (kind, name) resources, in chunks of names."""
        wanted = list(keys)
        out: dict[tuple[str, str], Any] = {}
        with self.reading("reading the applied resources") as conn:
            for chunk in chunks(wanted, 500):
                query = sa.select(resources.c.kind, resources.c.name, column).where(
                    resources.c.name.in_([n for _, n in chunk])
                )
                here = set(chunk)
                out.update(
                    {(r[0], r[1]): r[2] for r in conn.execute(query) if (r[0], r[1]) in here}
                )
        return out

    def applied(
        self,
        with_specs: Iterable[tuple[str, str]] = (),
        stored: Sequence[StoredResource] | None = None,
    ) -> list[Applied]:
        """The applied resources for a diff; specs only for `with_specs` (the rest are
        compared by digest)."""
        specs = self.specs(with_specs)
        return [
            Applied(
                kind=r.kind,
                name=r.name,
                spec=specs.get((r.kind, r.name), {}),
                digest=r.digest,
                revision=r.revision,
                source=r.source,
                deleting=r.deleting,
            )
            for r in (self.resources() if stored is None else stored)
        ]

    def revision_spec(self, kind: str, name: str, revision: int) -> dict[str, Any] | None:
        with self.reading("reading a revision") as conn:
            spec = conn.execute(
                sa.select(revisions.c.spec).where(
                    revisions.c.kind == kind,
                    revisions.c.name == name,
                    revisions.c.revision == revision,
                )
            ).scalar()
        return dict(spec) if spec is not None else None

    def write_configuration(self, **change: Unpack[ConfigurationChange]) -> int:
        """Apply resource writes and deletes in one transaction; return the new generation.

        Deleting a job with a running run only marks it `deleting` (it goes when the run
        ends); its scheduled runs are discarded either way.
        """
        with self.writing("writing the configuration") as conn:
            generation = int(read_meta(conn, "generation", lock=True) or 0)
            expected = change.get("expected_generation")
            if expected is not None and generation != expected:
                raise StaleStore(generation)
            writes, deletes, now = change["writes"], change["deletes"], change["now"]
            self._write(conn, writes, now)
            self._delete(conn, deletes, now)
            if writes or deletes:
                generation += 1
                write_meta(conn, "generation", str(generation))
            write_meta(conn, "applied_digest", change["digest"])
            return generation

    def _write(self, conn: sa.Connection, writes: Sequence[ResourceWrite], now: datetime) -> None:
        existing = (
            {
                (r.kind, r.name)
                for r in conn.execute(sa.select(resources.c.kind, resources.c.name)).all()
            }
            if writes
            else set()
        )
        inserts = [w for w in writes if (w.kind, w.name) not in existing]
        if inserts:
            inserts = _after_old_revisions(conn, inserts)
        writes = [w for w in writes if (w.kind, w.name) in existing] + inserts
        if inserts:
            conn.execute(sa.insert(resources), [_row(w, now, created=now) for w in inserts])
        for w in writes:
            if (w.kind, w.name) in existing:
                values = _row(w, now)
                values.pop("created")
                if not w.new_revision:  # moved, or back from deleting: the spec stays
                    for unchanged in ("spec", "view", "digest", "revision"):
                        values.pop(unchanged)
                conn.execute(
                    sa.update(resources)
                    .where(resources.c.kind == w.kind, resources.c.name == w.name)
                    .values(**values)
                )
        revs = [
            {
                "kind": w.kind,
                "name": w.name,
                "revision": w.revision,
                "digest": w.digest,
                "spec": w.spec,
                "created": now,
            }
            for w in writes
            if w.new_revision
        ]
        if revs:
            conn.execute(sa.insert(revisions), revs)

    def _delete(
        self, conn: sa.Connection, deletes: Sequence[tuple[str, str]], now: datetime
    ) -> None:
        for kind, name in deletes:
            if kind == "Job":
                discard_scheduled(conn, name, now=now, reason="the job was deleted")
                running = conn.execute(
                    sa.select(sa.func.count())
                    .select_from(runs)
                    .where(runs.c.job == name, runs.c.state == RunState.RUNNING)
                ).scalar()
                if running:
                    conn.execute(
                        sa.update(resources)
                        .where(resources.c.kind == kind, resources.c.name == name)
                        .values(deleting=True, updated=now)
                    )
                    continue
            conn.execute(
                sa.delete(resources).where(resources.c.kind == kind, resources.c.name == name)
            )
            if kind == "Job":  # its runtime holds go with it (docs/decisions.md)
                conn.execute(sa.delete(holds).where(holds.c.job == name))

    def finish_deferred_deletes(self) -> list[str]:
        """Delete jobs marked `deleting` whose last running run has ended."""
        with self.writing("deleting the deleted jobs") as conn:
            busy = sa.select(runs.c.job).where(runs.c.state == RunState.RUNNING)
            rows = conn.execute(
                sa.select(resources.c.name).where(
                    resources.c.deleting.is_(True), resources.c.name.not_in(busy)
                )
            ).all()
            names = [r.name for r in rows]
            if names:
                conn.execute(
                    sa.delete(resources).where(
                        resources.c.kind == "Job", resources.c.name.in_(names)
                    )
                )
                conn.execute(sa.delete(holds).where(holds.c.job.in_(names)))
        return names

    # --- the file cache ----------------------------------------------------------------

    def file_cache(self, root: str) -> str | None:
        """The plan cache of a configuration root, as the loader wrote it (opaque text)."""
        with self.reading("reading the plan cache") as conn:
            text = conn.execute(
                sa.select(file_cache.c.blob).where(file_cache.c.root == root)
            ).scalar()
        return str(text) if text is not None else None

    def save_file_cache(self, root: str, text: str) -> None:
        with self.writing("saving the plan cache") as conn:
            conn.execute(sa.delete(file_cache).where(file_cache.c.root == root))
            conn.execute(sa.insert(file_cache).values(root=root, blob=text))

    # --- reconciles --------------------------------------------------------------------

    def record_reconcile(self, **reconcile: Unpack[Reconcile]) -> None:
        row = {**reconcile, "errors": reconcile["errors"][:200]}
        with self.writing("recording the reconcile") as conn:
            conn.execute(sa.insert(reconciles).values(row))
            if reconcile["outcome"] != "unchanged":  # an event for what changed or failed
                record(conn, [_config_event(reconcile)])
            write_meta(conn, "attempted_digest", reconcile["digest"] or "")
            ids = [
                r.id
                for r in conn.execute(
                    sa.select(reconciles.c.id)
                    .order_by(reconciles.c.id.desc())
                    .limit(KEEP_RECONCILES)
                ).all()
            ]
            conn.execute(sa.delete(reconciles).where(reconciles.c.id.not_in(ids)))

    def reconciles(self, limit: int = KEEP_RECONCILES) -> list[dict[str, Any]]:
        with self.reading("reading the reconciles") as conn:
            rows = conn.execute(
                sa.select(reconciles).order_by(reconciles.c.id.desc()).limit(limit)
            ).all()
        return [dict(r._mapping) for r in rows]


class StaleStore(Exception):
    def __init__(self, generation: int) -> None:
        super().__init__(generation)
        self.generation = generation


def _after_old_revisions(conn: sa.Connection, inserts: list[ResourceWrite]) -> list[ResourceWrite]:
    """A resource added again after it was deleted continues its revisions (its runs
    and old revisions are kept), rather than starting again at 1. One query: the last
    revision of every resource that has revisions but is not in the store now."""
    gone = (
        sa.select(revisions.c.kind, revisions.c.name, sa.func.max(revisions.c.revision))
        .outerjoin(
            resources,
            sa.and_(resources.c.kind == revisions.c.kind, resources.c.name == revisions.c.name),
        )
        .where(resources.c.name.is_(None))
        .group_by(revisions.c.kind, revisions.c.name)
    )
    last = {(k, n): int(r) for k, n, r in conn.execute(gone)}
    if not last:
        return inserts
    return [
        dataclasses.replace(w, revision=last[(w.kind, w.name)] + 1, new_revision=True)
        if (w.kind, w.name) in last
        else w
        for w in inserts
    ]


def _row(w: ResourceWrite, now: datetime, created: datetime | None = None) -> dict[str, Any]:
    return {
        "kind": w.kind,
        "name": w.name,
        "revision": w.revision,
        "digest": w.digest,
        "spec": w.spec,
        "view": w.view,
        "source_file": w.source_file,
        "source_line": w.source_line,
        "deleting": False,
        "created": created,
        "updated": now,
    }


def _config_event(reconcile: Reconcile) -> dict[str, Any]:
    outcome, summary = reconcile["outcome"], reconcile["summary"]
    counts = ", ".join(f"{summary.get(k, 0)} {k}" for k in ("add", "change", "delete"))
    first_error = reconcile["errors"][0] if reconcile["errors"] else None
    return other_event(
        CONFIG,
        f"configuration {outcome} by {reconcile['origin']}: {counts}",
        at=reconcile["ended"],
        state=outcome,
        detail=first_error,
        origin=reconcile["origin"],
        digest=reconcile["digest"],
        summary={k: summary.get(k, 0) for k in ("add", "change", "delete")},
    )


def read_meta(conn: sa.Connection, key: str, *, lock: bool = False) -> str | None:
    query = sa.select(meta.c.value).where(meta.c.key == key)
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    value = conn.execute(query).scalar()
    return str(value) if value is not None else None


def write_meta(conn: sa.Connection, key: str, value: str) -> None:
    updated = conn.execute(sa.update(meta).where(meta.c.key == key).values(value=value))
    if updated.rowcount == 0:
        conn.execute(sa.insert(meta).values(key=key, value=value))


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
