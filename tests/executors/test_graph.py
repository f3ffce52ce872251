"""The order of a run's tasks (SPEC 1.2), played on the pure graph: every ready task is
started at once (one "wave"), then each ends as the case says."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pytest

from runner.executors.graph import TaskGraph
from runner.executors.order import TaskSpec


def task(
    name: str, after: Sequence[str], *, active: bool = True, keep_going: bool = False
) -> TaskSpec:
    return TaskSpec(
        name=name, run="true", after=tuple(after), active=active, continue_on_error=keep_going
    )


def chain(*names: str) -> list[TaskSpec]:
    """A plain list: each task after the one written above it (the normalised default)."""
    return [task(n, [names[i - 1]] if i else []) for i, n in enumerate(names)]


@dataclass
class Played:
    waves: list[list[str]] = field(default_factory=list)
    states: dict[str, str] = field(default_factory=dict)
    reasons: dict[str, str | None] = field(default_factory=dict)


def play(
    tasks: Sequence[TaskSpec],
    *,
    fails: Sequence[str] = (),
    selected: frozenset[str] | None = None,
    kept: Mapping[str, tuple[str, str | None]] | None = None,
) -> Played:
    graph = TaskGraph(tasks, selected, kept)
    played = Played()
    while ready := graph.ready():
        played.waves.append(ready)
        for name in ready:
            graph.start(name)
        for name in ready:
            graph.finish(name, "failed" if name in fails else "success", None)
    assert graph.done(), f"the graph stalled with {graph.state}"
    played.states = dict(graph.state)
    played.reasons = dict(graph.reason)
    return played


@dataclass(frozen=True)
class Case:
    tasks: list[TaskSpec]
    waves: list[list[str]]
    states: Mapping[str, str] = field(default_factory=dict)  # the rest: success
    reasons: Mapping[str, str] = field(default_factory=dict)
    fails: tuple[str, ...] = ()
    selected: frozenset[str] | None = None


CASES = {
    "a plain list is a chain": Case(chain("a", "b", "c"), [["a"], ["b"], ["c"]]),
    "after: [] starts with the run": Case(
        [task("a", []), task("b", []), task("c", ["b"])], [["a", "b"], ["c"]]
    ),
    "a join waits for both branches": Case(
        [task("a", []), task("a2", ["a"]), task("b", []), task("j", ["a2", "b"])],
        [["a", "b"], ["a2"], ["j"]],
    ),
    "after may name a task written below": Case(
        [task("last", ["first"]), task("first", [])], [["first"], ["last"]]
    ),
    "a failure skips its followers, transitively": Case(
        chain("a", "b", "c"),
        [["a"]],
        states={"a": "failed", "b": "skipped", "c": "skipped"},
        reasons={"b": "preceding task a failed", "c": "preceding task a failed"},
        fails=("a",),
    ),
    "a failure does not stop a parallel branch, but stops the join": Case(
        [task("a", []), task("b", []), task("b2", ["b"]), task("j", ["a", "b2"])],
        [["a", "b"], ["b2"]],
        states={"a": "failed", "j": "skipped"},
        reasons={"j": "preceding task a failed"},
        fails=("a",),
    ),
    "a failure reaches a follower written above it": Case(
        [task("last", ["first"]), task("first", [])],
        [["first"]],
        states={"first": "failed", "last": "skipped"},
        reasons={"last": "preceding task first failed"},
        fails=("first",),
    ),
    "continueOnError satisfies the followers": Case(
        [task("a", []), task("b", ["a"]), task("c", ["b"], keep_going=True), task("d", ["c"])],
        [["a"], ["b"], ["c"], ["d"]],
        states={"c": "failed"},
        fails=("c",),
    ),
    "an inactive task is skipped and lets its followers run": Case(
        [task("a", []), task("b", ["a"], active=False), task("c", ["b"])],
        [["a"], ["c"]],
        states={"b": "skipped"},
        reasons={"b": "inactive (active: false)"},
    ),
    "an inactive task keeps the order around it": Case(
        [task("a", []), task("slow", []), task("b", ["slow"], active=False), task("c", ["b"])],
        [["a", "slow"], ["c"]],
        states={"b": "skipped"},
    ),
    "a failure before an inactive task still stops what follows it": Case(
        [task("a", []), task("b", ["a"], active=False), task("c", ["b"])],
        [["a"]],
        states={"a": "failed", "b": "skipped", "c": "skipped"},
        reasons={"b": "inactive (active: false)"},
        fails=("a",),
    ),
    "tasks not selected are skipped and satisfy their followers": Case(
        chain("a", "b", "c"),
        [["a"], ["c"]],
        states={"b": "skipped"},
        reasons={"b": "not selected"},
        selected=frozenset({"a", "c"}),
    ),
    "a selected task whose unselected predecessor comes first starts at once": Case(
        chain("a", "b", "c"),
        [["b"]],
        states={"a": "skipped", "c": "skipped"},
        reasons={"a": "not selected", "c": "not selected"},
        selected=frozenset({"b"}),
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_task_order(case: Case) -> None:
    played = play(case.tasks, fails=case.fails, selected=case.selected)
    assert played.waves == case.waves
    expected = {t.name: case.states.get(t.name, "success") for t in case.tasks}
    assert played.states == expected
    for name, reason in case.reasons.items():
        assert played.reasons[name] == reason


def test_skipped_followers_further_down_name_a_preceding_task() -> None:
    graph = TaskGraph(chain("a", "b", "c"), None)
    graph.start("a")
    skipped = graph.finish("a", "failed", "exit code 1")
    assert [name for name, _ in skipped] == ["b", "c"]
    assert all(reason.startswith("preceding task ") for _, reason in skipped)
    assert graph.done()
    assert graph.failures() == ["a"]


def test_a_join_is_not_ready_while_one_branch_runs() -> None:
    graph = TaskGraph([task("a", []), task("b", []), task("j", ["a", "b"])], None)
    assert graph.ready() == ["a", "b"]
    graph.start("a")
    graph.start("b")
    graph.finish("a", "success")
    assert graph.ready() == []
    graph.finish("b", "success")
    assert graph.ready() == ["j"]


def test_ready_tasks_come_in_written_order() -> None:
    graph = TaskGraph([task(n, []) for n in ("z", "m", "a")], None)
    assert graph.ready() == ["z", "m", "a"]


def test_a_retried_task_holds_its_followers_until_it_ends() -> None:
    graph = TaskGraph(chain("a", "b"), None)
    graph.start("a")
    graph.start("a", "retrying")
    assert graph.ready() == []
    graph.start("a", "pending")
    assert graph.ready() == ["a"]
    graph.start("a")
    graph.finish("a", "success")
    assert graph.ready() == ["b"]


def test_cancel_pending_ends_what_has_not_started_and_leaves_running_tasks() -> None:
    graph = TaskGraph([task("a", []), task("b", ["a"]), task("w", [])], None)
    graph.start("a")
    graph.start("w", "waiting")
    assert graph.cancel_pending("cancelled", "by test") == ["b", "w"]
    assert graph.state == {"a": "running", "b": "cancelled", "w": "cancelled"}
    assert not graph.done()
    graph.finish("a", "cancelled", "by test")
    assert graph.done()


def test_initially_skipped_lists_inactive_and_unselected_tasks() -> None:
    tasks = [task("a", []), task("b", ["a"], active=False), task("c", ["b"])]
    graph = TaskGraph(tasks, frozenset({"b", "c"}))
    assert graph.initially_skipped() == [("a", "not selected"), ("b", "inactive (active: false)")]


# --- a run that goes on (`runner retry`): what ended keeps how it ended ------------------


def test_a_retried_chain_starts_after_the_tasks_kept_as_succeeded() -> None:
    played = play(chain("a", "b", "c"), kept={"a": ("success", None)})
    assert played.waves == [["b"], ["c"]]
    assert played.states == {"a": "success", "b": "success", "c": "success"}


def test_a_join_waits_for_its_branch_that_runs_again_not_the_kept_one() -> None:
    tasks = [task("a", []), task("b", []), task("join", ["a", "b"])]
    played = play(tasks, kept={"a": ("success", None)})
    assert played.waves == [["b"], ["join"]]


def test_with_the_others_kept_as_they_ended_only_the_task_run_again_runs() -> None:
    tasks = chain("a", "b", "c", "d")
    kept = {"a": ("success", None), "b": ("failed", "exit code 1"), "c": ("skipped", "x")}
    played = play(tasks, kept=kept)  # (--only d, say: d follows a skipped task)
    assert played.waves == [["d"]]
    assert played.states["b"] == "failed" and played.reasons["b"] == "exit code 1"


def test_an_inactive_task_stays_a_pass_through_whatever_is_kept() -> None:
    tasks = [task("a", []), task("b", ["a"], active=False), task("c", ["b"])]
    played = play(tasks, kept={"a": ("success", None), "b": ("skipped", "inactive")})
    assert played.waves == [["c"]]
    assert played.states["b"] == "skipped"
