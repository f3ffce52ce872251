"""What the supervisor holds of each run it executes and each attempt it has started,
and the rules that turn how they ended into states (an attempt's, then its run's)."""

from __future__ import annotations

from dataclasses import dataclass, field

from runner.domain import RunState, TaskState
from runner.executors.graph import TaskGraph
from runner.executors.order import RunOrder, TaskSpec
from runner.executors.process import Child, describe_exit
from runner.executors.timers import Timer
from runner.spec.durations import format_seconds


@dataclass(eq=False)
class Attempt:
    run: ActiveRun
    task: TaskSpec
    number: int
    log: str  # the key of its log file
    child: Child | None = None
    stopping: str | None = None  # why it is being killed: timeout, cancel, run-timeout, stop
    timers: list[Timer] = field(default_factory=list)
    stopped_by: str | None = None  # `runner stop`: who asked
    answer: int | None = None  # ... and the request to answer once it is stopped


@dataclass(eq=False)
class ActiveRun:
    order: RunOrder
    graph: TaskGraph
    attempts: dict[str, int] = field(default_factory=dict)
    running: dict[str, Attempt] = field(default_factory=dict)
    retries: dict[str, Timer] = field(default_factory=dict)
    ending: tuple[str, str] | None = None  # (final state, reason) once cancelled or timed out
    timers: list[Timer] = field(default_factory=list)
    held: dict[str, str] = field(default_factory=dict)  # tasks a hold keeps from starting
    hold_timer: Timer | None = None  # when the earliest `until` of those holds passes
    limited: bool = False  # its tasks wait for slots beyond max_parallel (order.limited)

    def cancel_timers(self) -> None:
        """The run is over or not ours: none of its timers, nor its attempts', fires."""
        for timer in self.timers:
            timer.cancel()
        if self.hold_timer is not None:
            self.hold_timer.cancel()
        for attempt in self.running.values():
            for timer in attempt.timers:
                timer.cancel()


def finished(run: ActiveRun) -> bool:
    """Every task has ended: the run ends as it is, whatever arrives now."""
    return not run.running and not run.retries and run.graph.done()


def outcome(attempt: Attempt, code: int, failure: str | None) -> tuple[TaskState, str | None]:
    """The attempt's state and reason, from its exit code or why it could not run."""
    run = attempt.run
    if run.ending and attempt.stopping in ("cancel", "run-timeout", "stop"):
        cancelled = run.ending[0] == RunState.CANCELLED
        return (TaskState.CANCELLED if cancelled else TaskState.FAILED), run.ending[1]
    if attempt.stopping == "stop":
        return TaskState.STOPPED, f"stopped by {attempt.stopped_by}"
    if attempt.stopping == "timeout":
        return TaskState.FAILED, f"timed out after {seconds(attempt.task.timeout or 0)}"
    if failure is not None:
        return TaskState.FAILED, failure
    if code == 0:
        return TaskState.SUCCESS, None
    return TaskState.FAILED, describe_exit(code, shell=attempt.task.argv is None)


def verdict(graph: TaskGraph) -> tuple[RunState, str | None]:
    """How a run that was not ended early ends: by its failed tasks."""
    failed = graph.failures()
    if not failed:
        return RunState.SUCCESS, None
    if len(failed) == 1:
        return RunState.FAILED, f"task {failed[0]} failed: {graph.reason[failed[0]]}"
    return RunState.FAILED, f"{len(failed)} tasks failed: {', '.join(failed)}"


def seconds(value: float) -> str:
    return format_seconds(int(value)) if value == int(value) else f"{value:g}s"
