"""Semantic checks of one resource alone, beyond the schema (SPEC 1.1).

Checks across resources (references, cycles among jobs, duplicate names) are in
`runner.spec.references`. Both are pure and return findings at paths inside each
resource's document.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from runner.spec.diagnostics import JsonPath, dotted
from runner.spec.env import NEVER_PASSED, FromEnv
from runner.spec.findings import Finding, did_you_mean
from runner.spec.models import Hold, Job, Pool, Resource, Schedule
from runner.spec.schedules import cron_error, timezone_error


def check_resource(resource: Resource) -> list[Finding]:
    if isinstance(resource, Job):
        return list(_check_job(resource))
    if isinstance(resource, Pool):
        return []  # its schema says all: a name and at least one slot
    return list(_check_hold(resource))


def _check_job(job: Job) -> Iterator[Finding]:
    yield from _check_schedule(job.schedule, status=job.status)
    if job.timeout is not None and job.timeout <= 0:
        yield Finding(("timeout",), "timeout-zero", "must be more than 0s; leave it out for none")
    yield from _check_tasks(job)
    yield from _check_env(job)
    names = {t.name for t in job.tasks}
    yield from _unique(((h.name, ("holds", i, "name")) for i, h in enumerate(job.holds)), "hold")
    for i, hold in enumerate(job.holds):
        yield from _unknown_tasks(hold.tasks, names, ("holds", i, "tasks"))
        if hold.depends_on and hold.depends_on.job == job.name:
            yield Finding(
                ("holds", i, "dependsOn", "job"),
                "hold-self",
                "a hold cannot wait for the job it holds",
            )
    for k, name in enumerate(job.after):
        if name == job.name:
            yield Finding(("after", k), "after-self", "a job cannot follow itself")


def _check_schedule(schedule: Schedule | None, *, status: str | None) -> Iterator[Finding]:
    s = schedule or Schedule()
    has_timing = bool(s.cron) or s.every is not None
    manual = s.mode == "manual" or (s.mode is None and not has_timing)
    if s.mode == "manual":
        if s.cron:
            yield Finding(
                ("schedule", "cron"),
                "manual-with-timing",
                "a manual job has no cron; remove it or set mode: auto",
            )
        if s.every is not None:
            yield Finding(
                ("schedule", "every"),
                "manual-with-timing",
                "a manual job has no every; remove it or set mode: auto",
            )
    elif s.mode == "auto" and not has_timing:
        yield Finding(
            ("schedule", "mode"), "auto-without-timing", "mode: auto needs a cron or an every"
        )
    if s.cron and s.every is not None:
        yield Finding(("schedule", "every"), "cron-and-every", "give cron or every, not both")
    for i, expr in enumerate(s.cron or []):
        problem = cron_error(expr)
        if problem:
            yield Finding(("schedule", "cron", i), "cron", problem)
    if s.starting_deadline is not None and s.starting_deadline <= 0:
        yield Finding(
            ("schedule", "startingDeadline"),
            "deadline-zero",
            "must be more than 0s; leave it out for no deadline",
        )
    if s.every is not None and s.every <= 0:
        yield Finding(("schedule", "every"), "every-zero", "must be more than 0s")
    zone_problem = timezone_error(s.timezone)
    if zone_problem:
        yield Finding(("schedule", "timezone"), "timezone", zone_problem)
    if manual and status == "paused":
        yield Finding(
            ("status",),
            "paused-manual",
            "paused is not valid for a manual job; only start (it runs once when apply "
            "creates the job), or leave status out (it waits for a trigger)",
        )


def _check_env(job: Job) -> Iterator[Finding]:
    """The daemon's secrets that no task gets (SPEC 3): named in envPassthrough or
    fromEnv, they would be handed on; an error, not a silent drop."""
    for k, name in enumerate(job.env_passthrough or ()):
        if name in NEVER_PASSED:
            yield Finding(("envPassthrough", k), "env-never-passed", _never(name))
    scopes = [((), job.env)] + [(("tasks", i), t.env) for i, t in enumerate(job.tasks)]
    for here, env in scopes:
        for key, value in env.items():
            if isinstance(value, FromEnv) and value.name in NEVER_PASSED:
                yield Finding(
                    (*here, "env", key, "fromEnv"), "env-never-passed", _never(value.name)
                )


def _never(name: str) -> str:
    what = "the store's URL and password" if name == "RUNNER_STORE" else "a token"
    return f"{name} is never passed on to tasks (it holds {what}); remove it"


def _check_tasks(job: Job) -> Iterator[Finding]:
    names = [t.name for t in job.tasks]
    yield from _unique(((t.name, ("tasks", i, "name")) for i, t in enumerate(job.tasks)), "task")
    for i, task in enumerate(job.tasks):
        here: JsonPath = ("tasks", i)
        if task.timeout is not None and task.timeout <= 0:
            yield Finding(
                (*here, "timeout"), "timeout-zero", "must be more than 0s; leave it out for none"
            )
        if task.kind == "command":
            if task.run is not None and task.argv is not None:
                yield Finding((*here, "argv"), "run-and-argv", "give run or argv, not both")
            elif task.run is None and task.argv is None:
                yield Finding(
                    here,
                    "no-command",
                    f'task "{task.name}" needs run (a shell command) or argv (a list)',
                )
            for field in ("prompt", "assignee"):
                if getattr(task, field) is not None:
                    yield Finding(
                        (*here, field),
                        f"{field}-on-command",
                        f"{field} is only for manual tasks (kind: manual)",
                    )
        else:
            for field in ("run", "argv"):
                if getattr(task, field) is not None:
                    yield Finding(
                        (*here, field),
                        "manual-with-command",
                        f"a manual task runs nothing; remove {field}",
                    )
        for k, name in enumerate(task.after or []):
            if name == task.name:
                yield Finding((*here, "after", k), "after-self", "a task cannot come after itself")
            elif name not in names:
                yield Finding(
                    (*here, "after", k),
                    "unknown-task",
                    f'unknown task "{name}"{did_you_mean(name, names)}',
                )
    yield from _task_cycles(job)


def _task_cycles(job: Job) -> Iterator[Finding]:
    if all(t.after is None for t in job.tasks):
        return  # the written order: a chain, which cannot loop
    graph: dict[str, list[str]] = {}
    for i, task in enumerate(job.tasks):
        after = task.after if task.after is not None else ([job.tasks[i - 1].name] if i else [])
        graph.setdefault(task.name, [a for a in after if a != task.name])
    index = {t.name: i for i, t in enumerate(job.tasks)}
    for cycle in find_cycles(graph):
        yield Finding(
            ("tasks", index[cycle[0]], "after"),
            "task-cycle",
            "tasks form a cycle: " + " -> ".join([*cycle, cycle[0]]),
        )


def _check_hold(hold: Hold) -> Iterator[Finding]:
    if not hold.jobs and hold.selector is None:
        yield Finding(
            (),
            "hold-covers-nothing",
            f'Hold "{hold.name}" needs jobs or a selector to say what it holds',
        )


def _unique(items: Iterator[tuple[str, JsonPath]], what: str) -> Iterator[Finding]:
    first: dict[str, JsonPath] = {}
    for name, path in items:
        if name in first:
            where = dotted(first[name][:2])
            yield Finding(
                path, f"duplicate-{what}", f'duplicate {what} name "{name}" (first at {where})'
            )
        else:
            first[name] = path


def _unknown_tasks(
    tasks: list[str] | None, known: set[str] | frozenset[str], path: JsonPath
) -> Iterator[Finding]:
    for k, name in enumerate(tasks or []):
        if name not in known:
            yield Finding(
                (*path, k), "unknown-task", f'unknown task "{name}"{did_you_mean(name, known)}'
            )


def find_cycles(graph: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """One cycle per strongly connected group that loops, each starting at its first node."""
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    cycles: list[list[str]] = []
    for start in graph:
        if state.get(start):
            continue
        stack: list[tuple[str, Iterator[str]]] = [(start, iter(graph.get(start, ())))]
        path = [start]
        state[start] = 1
        while stack:
            node, edges = stack[-1]
            nxt = next(edges, None)
            if nxt is None:
                stack.pop()
                path.pop()
                state[node] = 2
            elif state.get(nxt) == 1:
                cycles.append(path[path.index(nxt) :])
            elif not state.get(nxt) and nxt in graph:
                state[nxt] = 1
                path.append(nxt)
                stack.append((nxt, iter(graph[nxt])))
    return cycles
