"""Admission of scheduled runs (SPEC 2.3, 3), as a pure function of what the store says:
jitter, startingDeadline, the preceding run of a follow-up, one run at a time unless
`overlap: allow` (catch-up runs always one after another), holds and free slots. The
runs and jobs are built by hand; nothing here reads a clock or a store."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from runner.domain.jobs import job_view
from runner.domain.runs import ActiveRun
from runner.scheduler.admit import Admission, HoldCheck, admit
from runner.scheduler.decide import jitter
from runner.scheduler.jobs import Job
from runner.store import QueuedRun

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
SEC = timedelta(seconds=1)
MIN = timedelta(minutes=1)


def make_job(
    name: str = "export",
    *,
    schedule: Mapping[str, Any] | None = None,
    deleting: bool = False,
    **fields: Any,
) -> Job:
    """An applied auto job, as the daemon's job table holds it (normalised spec)."""
    spec: dict[str, Any] = {
        "name": name,
        "schedule": {
            "mode": "auto",
            "cron": "* * * * *",
            "jitter": "0s",
            "overlap": "skip",
            "catchup": "latest",
            "startingDeadline": None,
            **(schedule or {}),
        },
        "disabled": False,
        "tasks": [{"name": "a", "run": "true"}],
        **fields,
    }
    return Job(name, 1, job_view(spec), f"/jobs.d/{name}.yaml", deleting)


def queued(
    run_id: int,
    job: str = "export",
    *,
    trigger: str = "schedule",
    due: datetime = T0,
    after_run: int | None = None,
    overlap: str | None = None,
    attempt: int = 1,
    selected: list[str] | None = None,
) -> QueuedRun:
    return QueuedRun(run_id, job, 1, trigger, due, attempt, after_run, overlap, selected, None)


def running(run_id: int, job: str = "export") -> ActiveRun:
    return ActiveRun(id=run_id, job=job, revision=1, state="running")


def not_held(job: Job, run: QueuedRun) -> tuple[str | None, datetime | None]:
    return None, None


def decide(
    runs: Iterable[QueuedRun],
    jobs: Iterable[Job] = (),
    *,
    active: Iterable[ActiveRun] = (),
    preceding: Mapping[int, str] | None = None,
    held: HoldCheck = not_held,
    free: int = 10,
    now: datetime = T0,
) -> Admission:
    found = list(jobs) or [make_job()]
    return admit(
        list(runs),
        jobs={j.name: j for j in found},
        active=list(active),
        preceding=dict(preceding or {}),
        held=held,
        free=free,
        now=now,
    )


def started(admission: Admission) -> list[int]:
    return [r.id for r in admission.start]


def discarded(admission: Admission) -> dict[int, str]:
    return {r.id: reason for r, reason in admission.discard}


def admission_is_quiet(admission: Admission, *, waiting: list[int]) -> bool:
    """Nothing started or discarded; exactly the given runs wait."""
    return (
        admission.start == [] and admission.discard == [] and sorted(admission.waiting) == waiting
    )


# --- a plain due run ----------------------------------------------------------------------


def test_a_due_run_starts_and_nothing_waits() -> None:
    admission = decide([queued(1)])
    assert started(admission) == [1]
    assert admission.discard == [] and admission.waiting == {}
    assert admission.wake_at is None


def test_no_queued_runs_admit_nothing() -> None:
    admission = decide([])
    assert admission.start == [] and admission.discard == [] and admission.waiting == {}
    assert admission.wake_at is None


# --- jitter -------------------------------------------------------------------------------


def test_jitter_delays_a_scheduled_start_and_wakes_when_it_passes() -> None:
    job = make_job(schedule={"jitter": "10m"})
    delay = timedelta(seconds=jitter("export", T0, 600))
    assert SEC < delay <= 10 * MIN  # the test needs a real delay for this job and tick
    early = decide([queued(1)], [job], now=T0 + delay / 2)
    assert started(early) == [] and admission_is_quiet(early, waiting=[1])
    assert early.waiting[1].startswith("jitter")
    assert early.wake_at == T0 + delay
    assert started(decide([queued(1)], [job], now=T0 + delay)) == [1]


def test_jitter_is_the_same_on_every_pass() -> None:
    job = make_job(schedule={"jitter": "10m"})
    first = decide([queued(1)], [job], now=T0 + SEC)
    again = decide([queued(1)], [job], now=T0 + 2 * SEC)
    assert first.wake_at is not None and first.wake_at == again.wake_at


@pytest.mark.parametrize("trigger", ["manual", "api", "follow-up", "retry"])
def test_jitter_does_not_delay_runs_that_no_tick_made(trigger: str) -> None:
    job = make_job(schedule={"jitter": "10m"})
    after_run = 41 if trigger == "follow-up" else None
    admission = decide(
        [queued(1, trigger=trigger, after_run=after_run)],
        [job],
        preceding={41: "success"},
        now=T0,
    )
    assert started(admission) == [1]
    assert admission.wake_at is None


# --- startingDeadline ---------------------------------------------------------------------


def test_a_run_past_its_starting_deadline_is_discarded_with_the_reason() -> None:
    job = make_job(schedule={"startingDeadline": "5m"})
    admission = decide([queued(1)], [job], now=T0 + 5 * MIN + SEC)
    assert started(admission) == [] and admission.waiting == {}
    reason = discarded(admission)[1]
    assert "startingDeadline" in reason and "5m" in reason
    assert "2026-12-01 12:00:00" in reason  # its due time


def test_a_run_within_its_starting_deadline_starts() -> None:
    job = make_job(schedule={"startingDeadline": "5m"})
    admission = decide([queued(1)], [job], now=T0 + 5 * MIN)
    assert started(admission) == [1] and admission.discard == []


def test_a_waiting_run_wakes_the_daemon_at_its_deadline() -> None:
    job = make_job(schedule={"startingDeadline": "5m"})

    def held(job: Job, run: QueuedRun) -> tuple[str | None, datetime | None]:
        return "held by freeze (released when removed)", None

    admission = decide([queued(1)], [job], held=held, now=T0 + MIN)
    assert admission_is_quiet(admission, waiting=[1])
    assert admission.wake_at == T0 + 5 * MIN


def test_a_retried_runs_deadline_counts_from_its_retry_not_its_due_time() -> None:
    job = make_job(schedule={"startingDeadline": "5m"})
    run = queued(1)._replace(retried=T0 + 60 * MIN)  # `runner retry` an hour later
    assert started(decide([run], [job], now=T0 + 61 * MIN)) == [1]
    reason = discarded(decide([run], [job], now=T0 + 66 * MIN))[1]
    assert "of its retry at 2026-12-01 13:00:00Z" in reason


@pytest.mark.parametrize("why", ["held", "preceding", "queued", "slot"])
def test_the_deadline_discards_whatever_the_run_waits_for(why: str) -> None:
    job = make_job(schedule={"startingDeadline": "2m"})
    run = queued(
        2,
        trigger="follow-up" if why == "preceding" else "schedule",
        after_run=1 if why == "preceding" else None,
    )

    def held(job: Job, run: QueuedRun) -> tuple[str | None, datetime | None]:
        return ("held by freeze (released when removed)", None) if why == "held" else (None, None)

    admission = decide(
        [run],
        [job],
        active=[running(1)] if why == "queued" else [],
        preceding={1: "running"},
        held=held,
        free=0 if why == "slot" else 10,
        now=T0 + 3 * MIN,
    )
    assert list(discarded(admission)) == [2] and admission.waiting == {}
    assert "startingDeadline" in discarded(admission)[2]


# --- follow-ups and their preceding run ---------------------------------------------------


def test_a_follow_up_starts_once_its_preceding_run_succeeded() -> None:
    admission = decide([queued(2, trigger="follow-up", after_run=41)], preceding={41: "success"})
    assert started(admission) == [2]


@pytest.mark.parametrize("state", ["running", "scheduled"])
def test_a_follow_up_waits_while_its_preceding_run_has_not_ended(state: str) -> None:
    admission = decide([queued(2, trigger="follow-up", after_run=41)], preceding={41: state})
    assert admission_is_quiet(admission, waiting=[2])
    assert "preceding run 41" in admission.waiting[2]


def test_a_follow_up_of_a_failed_run_is_discarded_naming_the_run() -> None:
    admission = decide([queued(2, trigger="follow-up", after_run=41)], preceding={41: "failed"})
    assert discarded(admission) == {2: "preceding run 41 failed"}
    assert admission.start == [] and admission.waiting == {}


@pytest.mark.parametrize("state", ["cancelled", "discarded", "stale"])
def test_a_follow_up_of_a_run_that_did_not_succeed_is_discarded(state: str) -> None:
    admission = decide([queued(2, trigger="follow-up", after_run=41)], preceding={41: state})
    reason = discarded(admission)[2]
    assert "preceding run 41" in reason and state in reason
    assert admission.start == [] and admission.waiting == {}


def test_a_follow_up_whose_preceding_run_is_gone_is_discarded() -> None:
    admission = decide([queued(2, trigger="follow-up", after_run=41)], preceding={})
    assert "preceding run 41" in discarded(admission)[2]
    assert admission.start == [] and admission.waiting == {}


def test_a_chain_is_discarded_down_in_one_pass() -> None:
    """B follows a failed run 1 of A; C follows B, which is discarded in this very pass."""
    jobs = [make_job("a"), make_job("b"), make_job("c")]
    b = queued(2, "b", trigger="follow-up", after_run=1)
    c = queued(3, "c", trigger="follow-up", after_run=2)
    admission = decide([b, c], jobs, preceding={1: "failed", 2: "scheduled"})
    assert discarded(admission) == {
        2: "preceding run 1 failed",
        3: "preceding run 2 discarded",
    }
    assert admission.start == [] and admission.waiting == {}


# --- overlap ------------------------------------------------------------------------------


@pytest.mark.parametrize("policy", ["skip", "queue", "cancel-running"])
def test_a_run_waits_behind_the_jobs_running_run(policy: str) -> None:
    job = make_job(schedule={"overlap": policy})
    admission = decide([queued(2, due=T0 + MIN)], [job], active=[running(1)], now=T0 + MIN)
    assert admission_is_quiet(admission, waiting=[2])
    assert "active run" in admission.waiting[2]


def test_overlap_allow_starts_beside_the_running_run() -> None:
    job = make_job(schedule={"overlap": "allow"})
    admission = decide([queued(2, due=T0 + MIN)], [job], active=[running(1)], now=T0 + MIN)
    assert started(admission) == [2]


def test_a_trigger_with_overlap_allow_starts_beside_whatever_the_job_says() -> None:
    job = make_job(schedule={"overlap": "skip"})
    run = queued(2, trigger="manual", due=T0 + MIN, overlap="allow")
    assert started(decide([run], [job], active=[running(1)], now=T0 + MIN)) == [2]


def test_a_running_run_of_another_job_does_not_hold_a_run_back() -> None:
    jobs = [make_job("export"), make_job("other")]
    admission = decide([queued(2)], jobs, active=[running(1, "other")])
    assert started(admission) == [2]


def test_a_catch_up_run_waits_for_the_running_run_even_under_allow() -> None:
    job = make_job(schedule={"overlap": "allow", "catchup": "all"})
    admission = decide(
        [queued(2, trigger="catchup", due=T0 - MIN)], [job], active=[running(1)], now=T0
    )
    assert admission_is_quiet(admission, waiting=[2])


@pytest.mark.parametrize("policy", ["skip", "queue", "cancel-running"])
def test_of_two_scheduled_runs_of_a_job_only_the_first_starts(policy: str) -> None:
    job = make_job(schedule={"overlap": policy})
    admission = decide([queued(1), queued(2, due=T0 + MIN)], [job], now=T0 + MIN)
    assert started(admission) == [1]
    assert sorted(admission.waiting) == [2]


def test_under_allow_two_scheduled_runs_of_a_job_start_together() -> None:
    job = make_job(schedule={"overlap": "allow"})
    admission = decide([queued(1), queued(2, due=T0 + MIN)], [job], now=T0 + MIN)
    assert started(admission) == [1, 2]


def test_catch_up_runs_start_one_after_another_oldest_first() -> None:
    job = make_job(schedule={"overlap": "allow", "catchup": "all"})
    runs = [queued(i, trigger="catchup", due=T0 + i * MIN) for i in (1, 2, 3)]
    admission = decide(runs, [job], now=T0 + 10 * MIN)
    assert started(admission) == [1]
    assert sorted(admission.waiting) == [2, 3]


def test_catch_up_runs_stay_oldest_first_when_the_oldest_is_in_its_jitter() -> None:
    job = make_job("backfill", schedule={"jitter": "10m", "catchup": "all"})
    first, second = T0 + MIN, T0 + 2 * MIN
    first_at = first + timedelta(seconds=jitter("backfill", first, 600))
    second_at = second + timedelta(seconds=jitter("backfill", second, 600))
    assert second_at < first_at  # the younger tick's jitter ends first
    now = second_at + (first_at - second_at) / 2
    runs = [
        queued(1, "backfill", trigger="catchup", due=first),
        queued(2, "backfill", trigger="catchup", due=second),
    ]
    admission = decide(runs, [job], now=now)
    assert started(admission) == []  # run 1 first, once its jitter has passed


# --- free slots ---------------------------------------------------------------------------


def test_free_slots_limit_how_many_start() -> None:
    jobs = [make_job(n) for n in ("a", "b", "c")]
    runs = [queued(1, "a"), queued(2, "b"), queued(3, "c")]
    admission = decide(runs, jobs, free=2)
    assert started(admission) == [1, 2]
    assert sorted(admission.waiting) == [3] and "slot" in admission.waiting[3]


def test_no_free_slot_starts_nothing() -> None:
    admission = decide([queued(1)], free=0)
    assert admission_is_quiet(admission, waiting=[1])


def test_a_waiting_run_takes_no_slot() -> None:
    jobs = [make_job("a", schedule={"jitter": "10m"}), make_job("b")]
    assert jitter("a", T0, 600) > 1
    admission = decide([queued(1, "a"), queued(2, "b")], jobs, free=1, now=T0)
    assert started(admission) == [2] and sorted(admission.waiting) == [1]


# --- jobs disabled or deleted -------------------------------------------------------------


def test_a_run_of_a_disabled_job_is_discarded() -> None:
    admission = decide([queued(1)], [make_job(disabled=True)])
    assert list(discarded(admission)) == [1] and "disabled" in discarded(admission)[1]
    assert admission.start == [] and admission.waiting == {}


def test_a_run_of_a_job_being_deleted_is_discarded() -> None:
    admission = decide([queued(1)], [make_job(deleting=True)])
    assert list(discarded(admission)) == [1] and "deleted" in discarded(admission)[1]


def test_a_run_of_a_job_no_longer_applied_is_discarded() -> None:
    admission = decide([queued(1, "gone")], [make_job("export")])
    assert list(discarded(admission)) == [1] and "deleted" in discarded(admission)[1]


def test_a_discarded_run_takes_no_slot() -> None:
    jobs = [make_job("a", disabled=True), make_job("b")]
    admission = decide([queued(1, "a"), queued(2, "b")], jobs, free=1)
    assert started(admission) == [2] and list(discarded(admission)) == [1]


# --- holds --------------------------------------------------------------------------------


def test_a_held_run_waits_with_the_reason_and_wakes_when_the_hold_ends() -> None:
    seen: list[tuple[str, int]] = []
    until = T0 + 30 * MIN

    def held(job: Job, run: QueuedRun) -> tuple[str | None, datetime | None]:
        seen.append((job.name, run.id))
        return "held by freeze on a (released at 12:30)", until

    admission = decide([queued(1)], held=held)
    assert admission_is_quiet(admission, waiting=[1])
    assert admission.waiting[1] == "held by freeze on a (released at 12:30)"
    assert admission.wake_at == until
    assert seen == [("export", 1)]


def test_a_manual_hold_waits_without_a_wake_up() -> None:
    def held(job: Job, run: QueuedRun) -> tuple[str | None, datetime | None]:
        return "held by incident (runtime) on a (released by runner release)", None

    admission = decide([queued(1)], held=held)
    assert admission_is_quiet(admission, waiting=[1])
    assert admission.wake_at is None


def test_the_earliest_wake_up_wins() -> None:
    jobs = [make_job("a"), make_job("b")]
    until = {"a": T0 + 30 * MIN, "b": T0 + 10 * MIN}

    def held(job: Job, run: QueuedRun) -> tuple[str | None, datetime | None]:
        return f"held until {until[job.name]}", until[job.name]

    admission = decide([queued(1, "a"), queued(2, "b")], jobs, held=held)
    assert admission.wake_at == T0 + 10 * MIN


def test_a_hold_on_one_job_does_not_stop_another() -> None:
    jobs = [make_job("a"), make_job("b")]

    def held(job: Job, run: QueuedRun) -> tuple[str | None, datetime | None]:
        return ("held by freeze", None) if job.name == "a" else (None, None)

    admission = decide([queued(1, "a"), queued(2, "b")], jobs, held=held)
    assert started(admission) == [2] and sorted(admission.waiting) == [1]
