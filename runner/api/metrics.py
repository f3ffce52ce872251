"""`/metrics` (SPEC 7), with prometheus_client: every name prefixed `runner_`, read from
the store at each scrape (so any daemon on a shared store answers the same). Labels are
jobs, states and reasons: never a run id, so their number stays that of the jobs."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from runner.ops.common import Home, opened_store

DELAY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 300, float("inf"))
DURATION_BUCKETS = (0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 4 * 3600, float("inf"))


def exposition(home: Home, *, started: float) -> tuple[bytes, str]:
    """The metrics in Prometheus' text format, and its content type."""
    with opened_store(home) as store:
        figures = store.figures()
        reconciles = store.reconciles()
    registry = CollectorRegistry()
    runs = Gauge(
        "runner_runs",
        "Runs kept in the store, by job and state",
        ["job", "state"],
        registry=registry,
    )
    for job, state, count in figures["runs"]:
        runs.labels(job=job, state=state).set(count)
    missed = Counter(
        "runner_ticks_missed", "Ticks that started no run, by reason", ["reason"], registry=registry
    )
    for reason, count in figures["missed"].items():
        missed.labels(reason=reason).inc(count)
    _by_job(
        registry,
        "runner_task_duration_seconds",
        "Task attempts that ended, by job",
        DURATION_BUCKETS,
        figures["durations"],
    )
    _by_job(
        registry,
        "runner_firing_delay_seconds",
        "From a scheduled run's due time to its start, by job (the latest 10,000)",
        DELAY_BUCKETS,
        [(job, max(seconds, 0.0)) for job, seconds in figures["delays"]],
    )
    outcomes = Gauge(
        "runner_reconciles", "The last reconciles kept, by outcome", ["outcome"], registry=registry
    )
    for r in reconciles:
        outcomes.labels(outcome=r["outcome"]).inc()
    Gauge("runner_queue_length", "Runs scheduled, not started", registry=registry).set(
        figures["queued"]
    )
    Gauge("runner_uptime_seconds", "Seconds since the daemon started", registry=registry).set(
        time.time() - started
    )
    return generate_latest(registry), CONTENT_TYPE_LATEST


def _by_job(
    registry: CollectorRegistry,
    name: str,
    text: str,
    buckets: tuple[float, ...],
    samples: list[tuple[str, float]],
) -> None:
    """A histogram of `samples` (job, seconds), labelled by job."""
    histogram = Histogram(name, text, ["job"], buckets=buckets, registry=registry)
    for job, seconds in samples:
        histogram.labels(job=job).observe(seconds)
