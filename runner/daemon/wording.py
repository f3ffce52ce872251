"""What the daemon says (SPEC 5: one line per event): each event's words and its JSON
fields, written once here, so that the loop reports what happened without spelling it.
The README and the tests show these lines: a change of wording is a change for users."""

from __future__ import annotations

import signal
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runner.daemon.applier import Outcome
from runner.daemon.eventlog import EventLog
from runner.executors import journal as j
from runner.executors.order import RunOrder
from runner.scheduler.tick import TickReport
from runner.spec.durations import format_seconds
from runner.spec.types import format_timestamp


class EventWording:
    """Turns what the loop saw into lines of its event log, one method per event."""

    def __init__(self, log: EventLog) -> None:
        self.log = log

    # --- the daemon itself -------------------------------------------------------------

    def daemon_up(
        self, *, pid: int, home: Path, config: Sequence[str], jobs: int, max_parallel: int
    ) -> None:
        self.log(
            "daemon-up",
            f"pid {pid}, home {home}, config {', '.join(config)}, {jobs} jobs, "
            f"max-parallel {max_parallel}",
            pid=pid,
        )

    def stopping(self, why: str, *, active: int, grace: float) -> None:
        self.log(
            "daemon-stopping",
            f"{why}: no new starts; {active} run(s) running get {grace:g}s to end, "
            "then SIGKILL; scheduled runs stay for the next start",
        )

    def stopped(self) -> None:
        self.log("daemon-stopped", "stopped")

    def store_error(self, message: str, *, again: float) -> None:
        self.log("store-error", f"{message}; trying again in {again:g}s")

    def store_waiting(self, message: str, *, seconds: float, every: float, most: float) -> None:
        self.log(
            "store-waiting",
            f"{message}; the record of the tasks waits, {_took(seconds)} so far: the tasks "
            f"run on, and it is tried again every {every:g}s, for {_took(most)} at most "
            "(then the tasks are killed and the daemon exits 1)",
        )

    def store_back(self, *, seconds: float) -> None:
        self.log("store-back", f"the store took the record of the tasks after {_took(seconds)}")

    def store_taken(self, why: str) -> None:
        self.log("store-taken", f"{why}; stopping (exit 1)")

    def internal_error(self, exc: Exception, *, again: float) -> None:
        self.log(
            "internal-error",
            f"{type(exc).__name__}: {exc}; trying again in "
            f"{again:g}s (please report it with the traceback below)",
        )

    def clock_jumped(self, *, seconds: float) -> None:
        self.log(
            "clock-jump",
            f"{_took(seconds)} passed since the last look (a "
            "suspend, or the clock stepped): the ticks missed meanwhile are caught up "
            "per each job's catchup",
        )

    def loop_late(self, *, seconds: float, tick: datetime) -> None:
        self.log(
            "daemon-late",
            f"the tick of {tick.astimezone(UTC):%H:%M:%S}Z was handled {_took(seconds)} "
            "late (the store was busy or unreachable, or the process was stopped): the "
            "ticks missed meanwhile are caught up per each job's catchup, not skipped "
            "as overlaps",
        )

    def clock_stepped_back(self, *, seconds: float) -> None:
        self.log(
            "clock-jump",
            f"the clock stepped back {_took(seconds)}: next ticks computed again",
        )

    # --- applying the folder -----------------------------------------------------------

    def apply_failed(self, status: str, message: str, *, again: float) -> None:
        if status == "store-error":
            self.log("store-error", f"{message}; applying again in {again:g}s")
        else:  # a bug, or the child died: its traceback, if any, is in the message
            self.log(
                "internal-error",
                f"applying the folder failed: {message}; applying again in "
                f"{again:g}s (please report it)",
            )

    def config_busy(self, message: str, *, again: float) -> None:
        self.log("config-busy", f"{message}; applying again in {again:g}s")

    def config_suspended(self, info: Mapping[str, Any], origin: str) -> None:
        self.log(
            "config-suspended",
            f"not applying ({origin}): applying is suspended by {info.get('by')} at "
            f"{info.get('at')}: {info.get('reason')}; the last applied configuration runs on "
            "until `runner resume`",
        )

    def config_refused(self, message: str) -> None:
        self.log("config-rejected", f"{message}; the last applied configuration runs on")

    def config_applied(self, done: Outcome, origin: str) -> None:
        """An apply that wrote what it could: its findings, what it skipped or applied,
        and the runs it created (`status: start`)."""
        for is_error, text in done.findings:
            self.log("config-error" if is_error else "config-warning", text)
        if done.skipped_files:
            self.log(
                "config-rejected",
                f"skipped {len(done.skipped_files)} file(s) with errors: "
                f"{', '.join(done.skipped_files)} (what they hold keeps its applied "
                f"revision); applied the rest: {done.counts}",
            )
        else:
            self.log(
                "config-applied",
                f"{done.counts} ({origin})",
                generation=done.generation,
                apply_peak_mb=round(done.peak_mb),
            )
        for job, run_id in done.started:
            self.log(
                "run-created",
                f"run {run_id} of {job}: runs once as it was created (status: start)",
                run=run_id,
                job=job,
            )

    # --- ticks and starts --------------------------------------------------------------

    def ticked(self, report: TickReport) -> None:
        for made in report.created:
            self.log(
                "run-created",
                f"run {made.run_id} of {made.job}: {made.trigger}, due {whole_seconds(made.due)}",
                run=made.run_id,
                job=made.job,
                trigger=made.trigger,
                due=whole_seconds(made.due),
            )
        for run_id in report.cancelled:
            self.log(
                "run-cancelling",
                f"run {run_id}: a new tick cancels it (overlap: cancel-running)",
                run=run_id,
            )
        for line in report.events:
            self.log("ticks-missed", line)
        for job, reasons in report.missed.items():
            if "overlap" in reasons:
                self.log(
                    "tick-skipped",
                    f"{job}: {reasons['overlap']} tick(s) skipped: a run is active (overlap)",
                    job=job,
                )

    def run_started(self, order: RunOrder) -> None:
        self.log(
            "run-started",
            f"run {order.run_id} of {order.job} ({order.trigger}, due {whole_seconds(order.due)})",
            run=order.run_id,
            job=order.job,
            trigger=order.trigger,
        )

    def run_discarded(self, run_id: int, *, job: str, reason: str) -> None:
        self.log("run-discarded", f"run {run_id} of {job}: {reason}", run=run_id, job=job)

    def service_up(self, what: str) -> None:
        self.log("service-up", what)

    def run_waiting(self, run_id: int, why: str) -> None:
        self.log("run-waiting", f"run {run_id}: {why}", run=run_id)

    def follow_up(
        self, *, run_id: int | None, job: str, what: str, after_run: int, after_job: str
    ) -> None:
        """A follower's run created when a run of the job it follows started, or why
        none was (`run_id` None)."""
        if run_id is not None:
            self.log(
                "run-created",
                f"run {run_id} of {job}: {what}",
                run=run_id,
                job=job,
                trigger="follow-up",
            )
        else:
            self.log(
                "follow-up-dropped",
                f"{job}: {what} (run {after_run} of {after_job} started)",
                job=job,
            )

    # --- what the executor reports -----------------------------------------------------

    def task_set(self, change: j.TaskSet, job: str) -> None:
        """A task held, or waiting for `runner finish`: what an operator acts on."""
        self.log(
            f"task-{change.state}",
            f"run {change.run_id} of {job}: task {change.task} {change.state}: {change.reason}",
            run=change.run_id,
            job=job,
            task=change.task,
        )

    def task_ended(self, ended: j.AttemptEnded, job: str) -> None:
        code = ""
        if ended.exit_code is not None and ended.exit_code < 0:
            code = f", killed by {_signal_name(-ended.exit_code)}"
        elif ended.exit_code and f"exit code {ended.exit_code}" not in (ended.reason or ""):
            code = f", exit code {ended.exit_code}"
        why = f": {ended.reason}" if ended.reason else ""
        self.log(
            "task-ended",
            f"run {ended.run_id} of {job}: task {ended.task} {ended.state}{code}{why}",
            run=ended.run_id,
            job=job,
            task=ended.task,
            attempt=ended.attempt,
            state=ended.state,
            exit_code=ended.exit_code,
        )

    def run_ended(self, ended: j.RunEnded, *, started: datetime) -> None:
        took = _took((ended.at - started).total_seconds())
        why = f": {ended.reason}" if ended.reason else ""
        self.log(
            "run-ended",
            f"run {ended.run_id} of {ended.job} {ended.state} in {took}{why}",
            run=ended.run_id,
            job=ended.job,
            state=ended.state,
        )

    def hold_placed(self, job: str, reason: str) -> None:
        self.log("hold-placed", f"{job}: on-failure (runtime): {reason}", job=job)

    def run_stale(self, run_id: int) -> None:
        self.log(
            "run-stale",
            f"run {run_id}: its runner died while it ran (found at start)",
            run=run_id,
        )

    def stale_run_retried(self, run_id: int, *, job: str, stale: int) -> None:
        self.log(
            "run-created",
            f"run {run_id} of {job}: retry of stale run {stale} (its task had retries left)",
            run=run_id,
            job=job,
            trigger="retry",
        )


def whole_seconds(at: datetime) -> str:
    """A time as the log and the daemon's record show it: UTC, to the second."""
    return format_timestamp(at.replace(microsecond=0))


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _took(seconds: float) -> str:
    return f"{seconds:.2f}s" if seconds < 60 else format_seconds(int(seconds))
