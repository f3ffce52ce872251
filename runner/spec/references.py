"""Checks across resources: `after` and hold references, cycles among jobs, duplicates.

They work on `RefView`s, the little of each resource that references need, so that a
plan over 10,000 files can check them without parsing the files that did not change
(views are kept in the plan cache as JSON).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from runner.spec.checks import find_cycles
from runner.spec.diagnostics import JsonPath, Severity
from runner.spec.findings import Finding, did_you_mean
from runner.spec.models import Job, Pool, Resource


@dataclass(frozen=True, slots=True)
class Dependency:
    """A hold's `dependsOn`, with the path of that `dependsOn` in its document."""

    path: JsonPath
    job: str
    task: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class RefView:
    kind: str
    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    tasks: tuple[str, ...] | None = None  # a job's tasks; None: exists, tasks unknown
    after: tuple[str, ...] = ()
    depends: tuple[Dependency, ...] = ()
    jobs: tuple[str, ...] = ()  # a Hold's jobs, by name
    selector: Mapping[str, str] | None = None  # a Hold's selector labels
    hold_tasks: tuple[str, ...] = ()
    timed: bool = False  # a Hold with `until`: released by time whatever it waits for
    pools: tuple[tuple[JsonPath, str], ...] = ()  # a job's `pool`s, with their paths
    # a job's `user`s and `group`s, with their paths (checked against the host)
    accounts: tuple[tuple[JsonPath, str], ...] = ()

    @classmethod
    def of(cls, resource: Resource) -> RefView:
        if isinstance(resource, Job):
            return cls(
                kind="Job",
                name=resource.name,
                labels=dict(resource.labels),
                tasks=tuple(t.name for t in resource.tasks),
                after=tuple(resource.after),
                depends=tuple(
                    Dependency(("holds", i, "dependsOn"), h.depends_on.job, h.depends_on.task)
                    for i, h in enumerate(resource.holds)
                    if h.depends_on
                ),
                pools=_pools(resource),
                accounts=_accounts(resource),
            )
        if isinstance(resource, Pool):
            return cls(kind="Pool", name=resource.name)
        dep = resource.depends_on
        return cls(
            kind="Hold",
            name=resource.name,
            depends=(Dependency(("dependsOn",), dep.job, dep.task),) if dep else (),
            jobs=tuple(resource.jobs or ()),
            selector=dict(resource.selector.labels) if resource.selector else None,
            hold_tasks=tuple(resource.tasks or ()),
            timed=resource.until is not None,
        )

    @classmethod
    def existing_job(cls, name: str, kind: str = "Job") -> RefView:
        """A job (or pool) known to exist whose document did not pass the schema."""
        return cls(kind=kind, name=name)

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "labels": dict(self.labels),
            "tasks": list(self.tasks) if self.tasks is not None else None,
            "after": list(self.after),
            "depends": [[list(d.path), d.job, d.task] for d in self.depends],
            "jobs": list(self.jobs),
            "selector": self.selector,
            "hold_tasks": list(self.hold_tasks),
            "pools": [[list(path), name] for path, name in self.pools],
            "accounts": [[list(path), name] for path, name in self.accounts],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RefView:
        tasks = data.get("tasks")
        return cls(
            kind=data["kind"],
            name=data["name"],
            labels=data.get("labels") or {},
            tasks=tuple(tasks) if tasks is not None else None,
            after=tuple(data.get("after") or ()),
            depends=tuple(Dependency(tuple(p), j, t) for p, j, t in data.get("depends") or ()),
            jobs=tuple(data.get("jobs") or ()),
            selector=data.get("selector"),
            hold_tasks=tuple(data.get("hold_tasks") or ()),
            pools=tuple((tuple(p), n) for p, n in data.get("pools") or ()),
            accounts=tuple((tuple(p), n) for p, n in data.get("accounts") or ()),
        )

    def selects(self, job: RefView) -> bool:
        """Whether this Hold covers `job`, by name or by labels."""
        return job.name in self.jobs or labels_match(self.selector, job.labels)


def labels_match(selector: Mapping[str, str] | None, labels: Mapping[str, str]) -> bool:
    """Whether a selector (every label it gives must match) selects these labels."""
    return bool(selector) and all(labels.get(k) == v for k, v in (selector or {}).items())


def check_references(
    views: Sequence[RefView], *, known_jobs: Sequence[RefView] = ()
) -> list[tuple[int, Finding]]:
    """Findings across resources, each with the index of the view it is about.

    `known_jobs` are jobs that exist but are not among `views` (a file that failed
    validation, or what the store holds for it).
    """
    jobs: dict[str, RefView] = {j.name: j for j in known_jobs if j.kind == "Job"}
    jobs.update({v.name: v for v in views if v.kind == "Job"})
    pools = {v.name for v in [*known_jobs, *views] if v.kind == "Pool"}
    out: list[tuple[int, Finding]] = []
    for i, view in enumerate(views):
        if view.kind == "Job":
            found = [*_job_refs(view, jobs), *_pool_refs(view, pools)]
        elif view.kind == "Hold":
            found = list(_hold_refs(view, jobs))
        else:
            found = []
        out += [(i, f) for f in found]
    out += _job_cycles(views)
    return out


def duplicate_names(named: Sequence[tuple[str, str, str]]) -> list[tuple[int, Finding]]:
    """Names used twice within a kind. `named` is (kind, name, where) per document,
    including documents that failed the schema; every occurrence gets a finding so that
    no file involved is applied as if it had won."""
    seen: dict[tuple[str, str], list[int]] = {}
    for i, (kind, name, _) in enumerate(named):
        seen.setdefault((kind, name), []).append(i)
    out: list[tuple[int, Finding]] = []
    for (kind, name), where in seen.items():
        for i in where if len(where) > 1 else ():
            others = ", ".join(named[j][2] for j in where if j != i)
            out.append(
                (
                    i,
                    Finding(
                        ("name",),
                        "duplicate-name",
                        f'{kind} name "{name}" is also used at {others}',
                    ),
                )
            )
    return out


def _job_refs(job: RefView, jobs: Mapping[str, RefView]) -> Iterator[Finding]:
    for k, name in enumerate(job.after):
        if name != job.name and name not in jobs:
            yield _unknown_job(("after", k), name, jobs)
    for dep in job.depends:
        yield from _dependency(dep, jobs)


def _pool_refs(job: RefView, pools: set[str]) -> Iterator[Finding]:
    for path, name in job.pools:
        if name not in pools:
            yield Finding(
                path,
                "unknown-pool",
                f'unknown pool "{name}"{did_you_mean(name, pools)}: a Pool resource '
                "(kind: Pool, name, slots) defines it",
                subject=name,
            )


def _pools(job: Job) -> tuple[tuple[JsonPath, str], ...]:
    found: list[tuple[JsonPath, str]] = [(("pool",), job.pool)] if job.pool else []
    found += [(("tasks", i, "pool"), t.pool) for i, t in enumerate(job.tasks) if t.pool]
    return tuple(found)


def _accounts(job: Job) -> tuple[tuple[JsonPath, str], ...]:
    found: list[tuple[JsonPath, str]] = []
    for where, owner in [((), job), *((("tasks", i), t) for i, t in enumerate(job.tasks))]:
        found += [((*where, f), v) for f in ("user", "group") if (v := getattr(owner, f))]
    return tuple(found)


def _unknown_job(path: JsonPath, name: str, jobs: Mapping[str, RefView]) -> Finding:
    return Finding(
        path, "unknown-job", f'unknown job "{name}"{did_you_mean(name, jobs)}', subject=name
    )


def _dependency(dep: Dependency, jobs: Mapping[str, RefView]) -> Iterator[Finding]:
    target = jobs.get(dep.job)
    if target is None:
        yield _unknown_job((*dep.path, "job"), dep.job, jobs)
    elif dep.task is not None and target.tasks is not None and dep.task not in target.tasks:
        yield Finding(
            (*dep.path, "task"),
            "unknown-task",
            f'job "{dep.job}" has no task "{dep.task}"{did_you_mean(dep.task, target.tasks)}',
        )


def _hold_refs(hold: RefView, jobs: Mapping[str, RefView]) -> Iterator[Finding]:
    for k, name in enumerate(hold.jobs):
        if name not in jobs:
            yield _unknown_job(("jobs", k), name, jobs)
    for dep in hold.depends:
        yield from _dependency(dep, jobs)
    covered = [j for j in jobs.values() if hold.selects(j)]
    for dep in hold.depends:
        if not hold.timed and any(j.name == dep.job and _holds_some_task(hold, j) for j in covered):
            yield Finding(
                (*dep.path, "job"),
                "hold-self",
                f'the hold covers "{dep.job}" and waits for it, so it could never '
                "be released; wait for another job",
            )
    if hold.selector and not any(labels_match(hold.selector, j.labels) for j in jobs.values()):
        yield Finding(
            ("selector",),
            "selector-matches-nothing",
            "the selector matches no job",
            Severity.WARNING,
        )
    task_sets = [j.tasks for j in covered]
    if covered and all(t is not None for t in task_sets):
        present = set().union(*(t for t in task_sets if t is not None))
        for k, name in enumerate(hold.hold_tasks):
            if name not in present:
                yield Finding(
                    ("tasks", k),
                    "hold-task-unused",
                    f'no job this hold covers has a task "{name}"{did_you_mean(name, present)}',
                    Severity.WARNING,
                )


def _holds_some_task(hold: RefView, job: RefView) -> bool:
    """Whether the hold keeps a task of `job` from starting: every task without a
    `tasks` filter, else one it names (names a job lacks are ignored, SPEC 1.3)."""
    if not hold.hold_tasks or job.tasks is None:
        return True
    return any(t in job.tasks for t in hold.hold_tasks)


def _job_cycles(views: Sequence[RefView]) -> Iterator[tuple[int, Finding]]:
    index = {v.name: i for i, v in enumerate(views) if v.kind == "Job"}
    graph = {
        v.name: [a for a in v.after if a in index and a != v.name] for v in views if v.kind == "Job"
    }
    for cycle in find_cycles(graph):
        text = "jobs form a cycle through after: " + " -> ".join([*cycle, cycle[0]])
        for name in cycle:
            yield index[name], Finding(("after",), "job-cycle", text)
