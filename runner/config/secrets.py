"""The secret values of a job (`{value: V, secret: true}`), read again from its file
when a run is ordered: the store keeps only their digests (`runner.spec.env`), so after
a restart, a retry or a queued run the value is where the operator wrote it, and
nowhere else. A value is found by its digest: a file changed since it was applied
holds other digests, and the task that needs the old value fails saying so."""

from __future__ import annotations

from typing import Any

from runner.config.yamlread import read_yaml
from runner.domain.jobs import JobView
from runner.spec.env import secret_digest


def secret_values(source_file: str | None, job: str) -> dict[str, str]:
    """Digest -> value of every secret value written in job `job`'s document of
    `source_file` (its `env` and its tasks'); empty when the file cannot be read or
    no longer holds the job. Never raises: what is missing fails the task that needs
    it, with the reason, when it starts."""
    if not source_file:
        return {}
    try:
        with open(source_file, "rb") as handle:
            raw = handle.read()
    except OSError:
        return {}
    found: dict[str, str] = {}
    for doc in read_yaml(raw, source_file).documents:
        data = doc.data
        if isinstance(data, dict) and data.get("kind") == "Job" and data.get("name") == job:
            for env in _envs(data):
                found.update(_secrets(job, env))
    return found


def _envs(job: dict[str, Any]) -> list[Any]:
    tasks = job.get("tasks")
    if not isinstance(tasks, list):
        tasks = []
    return [job.get("env"), *(t.get("env") for t in tasks if isinstance(t, dict))]


def _secrets(job: str, env: Any) -> dict[str, str]:
    if not isinstance(env, dict):
        return {}
    return {
        secret_digest(job, name, value["value"]): value["value"]
        for name, value in env.items()
        if isinstance(value, dict)
        and value.get("secret") is True
        and isinstance(value.get("value"), str)
    }


def job_secrets(view: JobView, source_file: str | None) -> dict[str, str]:
    """A run's secret values: its job's file read only when the job has some."""
    return secret_values(source_file, view.name) if view.has_secrets else {}
