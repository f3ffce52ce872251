"""Every endpoint of SPEC 7 built so far, through the app: tokens and roles, the reads,
the actions with their refusals as `{"error": code, "detail": ...}` and the status of
their kind, idempotency keys, the audit by token name, and the metrics."""

from __future__ import annotations

from runner.store import opened
from tests.api.conftest import Api


def test_every_request_but_healthz_needs_a_valid_token(api: Api) -> None:
    assert api.client.get("/healthz").json() == {"status": "ok"}
    missing = api.client.get("/v1/jobs")
    assert missing.status_code == 401 and missing.json()["error"] == "unauthorized"
    assert missing.headers["www-authenticate"] == "Bearer"
    wrong = api.client.get("/v1/jobs", headers={"Authorization": "Bearer rnr_nope"})
    assert wrong.status_code == 401
    forbidden = api.post("/v1/jobs/export/runs", who="read", json={})
    assert forbidden.status_code == 403
    assert forbidden.json() == {
        "error": "forbidden",
        "detail": "token viewer has role read; this needs operate",
    }
    assert api.get("/metrics", who="read").status_code == 200
    assert api.client.get("/metrics").status_code == 401


def test_the_reads_answer_what_the_cli_json_prints(api: Api) -> None:
    jobs = api.get("/v1/jobs").json()
    assert [j["name"] for j in jobs] == ["export", "gated", "off"]
    finance = api.get("/v1/jobs", params={"label": "team=finance"}).json()
    assert [j["name"] for j in finance] == ["gated"]
    assert api.get("/v1/jobs", params={"label": "team"}).status_code == 422
    bad_state = api.get("/v1/jobs", params={"state": "sleepy"})
    assert bad_state.status_code == 422 and bad_state.json()["error"] == "usage"
    job = api.get("/v1/jobs/export").json()
    assert (job["name"], job["revision"], job["spec"]["tasks"][0]["name"]) == (
        "export",
        1,
        "extract",
    )
    assert set(job) >= {"holds", "active_runs", "missed", "source"}
    unknown = api.get("/v1/jobs/exprt")
    assert unknown.status_code == 404 and unknown.json()["error"] == "not-found"
    assert 'did you mean "export"' in unknown.json()["detail"]
    assert api.get("/v1/jobs/export/status").json()["name"] == "export"
    assert [t["name"] for t in api.get("/v1/jobs/export/tasks").json()] == ["extract", "load"]
    assert api.get("/v1/plan").json()["summary"]["unchanged"] == 3
    assert api.get("/v1/status").json()["daemon"]["running"] is False


def test_a_run_its_history_its_log_and_the_refusals(api: Api) -> None:
    made = api.post("/v1/jobs/export/runs", json={"env": {"X": "1"}})
    assert made.status_code == 201, made.json()
    run = made.json()
    assert (run["id"], run["state"], run["trigger"]) == (1, "success", "manual")
    assert [r["id"] for r in api.get("/v1/runs").json()] == [1]
    assert api.get("/v1/runs", params={"job": "gated"}).json() == []
    assert len(api.get("/v1/runs", params={"start": "2020-01-01", "end": "2999-01-01"}).json()) == 1
    bad = api.get("/v1/runs", params={"start": "yesterday"})
    assert bad.status_code == 422 and bad.json()["error"] == "bad-time"
    one = api.get("/v1/runs/1").json()
    assert [t["state"] for t in one["tasks"]] == ["success", "success"]
    assert api.get("/v1/runs/1/tasks/extract/log").text == "extracted\n"
    assert api.get("/v1/runs/1/tasks/nope/log").status_code == 404
    assert api.get("/v1/runs/7").status_code == 404

    disabled = api.post("/v1/jobs/off/runs", json={})
    assert disabled.status_code == 409 and disabled.json()["error"] == "job-disabled"
    malformed = api.post("/v1/jobs/export/runs", json={"tasks": "extract"})
    assert malformed.status_code == 422 and malformed.json()["error"] == "invalid"
    unknown_field = api.post("/v1/jobs/export/runs", json={"taks": []})
    assert unknown_field.status_code == 422
    ended = api.post("/v1/runs/1/cancel")
    assert ended.status_code == 409 and ended.json()["error"] == "run-ended"


def test_actions_answer_per_task_and_refusals_are_409(api: Api) -> None:
    assert api.post("/v1/jobs/export/runs", json={}).status_code == 201
    retry = api.post("/v1/runs/1/actions", json={"type": "retry"})
    assert retry.status_code == 409
    body = retry.json()
    assert body["error"] == "refused" and "succeeded: nothing to retry" in body["detail"]
    assert body["run"]["id"] == 1 and body["results"][0]["status"] == "refused"
    again = api.post("/v1/runs/1/actions", json={"type": "retry", "from": "load"})
    assert again.status_code == 200, again.json()
    assert [(r["task"], r["state"]) for r in again.json()["results"]] == [("load", "pending")]
    assert api.get("/v1/runs/1").json()["tasks"][1]["attempt"] == 2
    finish = api.post("/v1/runs/1/actions", json={"type": "finish", "task": "load"})
    assert finish.status_code == 409 and "already ended" in finish.json()["detail"]
    no_task = api.post("/v1/runs/1/actions", json={"type": "stop"})
    assert no_task.status_code == 422
    assert api.post("/v1/runs/1/actions", json={"type": "pause"}).status_code == 422


def test_finishing_a_task_with_an_assignee_needs_that_token_or_an_admin(api: Api) -> None:
    with opened(home=api.home) as store:
        run_id = store.create_run(
            job="gated",
            revision=1,
            trigger="manual",
            due=_now(),
            now=_now(),
            tasks=["build", "approve", "publish"],
        )
    finish = {"type": "finish", "task": "approve"}
    other = api.post(f"/v1/runs/{run_id}/actions", json=finish)
    assert other.status_code == 403 and other.json()["error"] == "not-assignee"
    assert "assigned to releasers, not to token ops" in other.json()["detail"]
    for who in ("releasers", "admin"):  # may: refused only because it has not started
        allowed = api.post(f"/v1/runs/{run_id}/actions", who=who, json=finish)
        assert allowed.status_code == 409 and "has not started" in allowed.json()["detail"]


def test_an_idempotent_retry_gets_the_first_answer_and_no_second_run(api: Api) -> None:
    key = {"Idempotency-Key": "deploy-4711"}
    first = api.post("/v1/jobs/export/runs", json={}, headers=key)
    second = api.post("/v1/jobs/export/runs", json={}, headers=key)
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert [r["id"] for r in api.get("/v1/runs").json()] == [first.json()["id"]]
    other = api.post("/v1/runs/1/cancel", headers=key)
    assert other.status_code == 422 and other.json()["error"] == "idempotency-key-reused"
    refused = {"Idempotency-Key": "off-1"}
    assert api.post("/v1/jobs/off/runs", json={}, headers=refused).status_code == 409
    repeat = api.post("/v1/jobs/off/runs", json={}, headers=refused)
    assert repeat.status_code == 409 and repeat.headers["idempotent-replayed"] == "true"
    by_admin = api.post("/v1/jobs/export/runs", who="admin", json={}, headers=key)
    assert by_admin.json()["id"] != first.json()["id"]  # keys are per token


def test_runtime_holds_and_freezes(api: Api) -> None:
    placed = api.post("/v1/jobs/export/holds", json={"tasks": ["load"], "reason": "incident"})
    assert placed.status_code == 201, placed.json()
    assert placed.json()["results"] == [
        {"hold": "export-1", "job": "export", "status": "ok", "detail": None}
    ]
    holds = api.get("/v1/jobs/export/status").json()["holds"]
    assert [(h["name"], h["origin"], h["tasks"]) for h in holds] == [
        ("export-1", "runtime", ["load"])
    ]
    late = api.post("/v1/jobs/export/holds", json={"until": "2001-01-01"})
    assert late.status_code == 422 and late.json()["error"] == "usage"
    assert api.post("/v1/jobs/nope/holds", json={}).status_code == 404
    assert api.delete("/v1/jobs/export/holds/export-1").json()["holds"][0]["name"] == "export-1"
    assert api.delete("/v1/jobs/export/holds/export-1").status_code == 404

    freeze = api.post("/v1/holds", json={"selector": {"team": "finance"}, "reason": "year end"})
    assert freeze.status_code == 201
    assert freeze.json()["holds"][0]["covers"] == ["gated"]
    assert api.post("/v1/holds", json={"reason": "no selector"}).status_code == 422
    assert api.delete("/v1/holds/freeze-1").status_code == 200


def test_the_audit_names_the_token(api: Api) -> None:
    api.post("/v1/jobs/export/runs", json={})
    api.post("/v1/jobs/off/runs", json={})
    entries = api.get("/v1/audit").json()
    assert [(e["who"], e["action"], e["status"]) for e in entries] == [
        ("ops", "run", "ok"),
        ("ops", "run", "refused"),
    ]
    assert entries[0]["origin"] == "api from testclient"
    assert api.get("/v1/audit", params={"who": "root"}).json() == []


def test_metrics_are_prefixed_and_labelled_by_job(api: Api) -> None:
    api.post("/v1/jobs/export/runs", json={})
    text = api.get("/metrics").text
    assert 'runner_runs{job="export",state="success"} 1.0' in text
    assert 'runner_task_duration_seconds_count{job="export"} 2.0' in text
    assert "runner_queue_length 0.0" in text
    assert "runner_firing_delay_seconds_count" not in text.replace("# ", "")  # none fired


def test_metrics_give_the_firing_delay_of_scheduled_runs(api: Api) -> None:
    from datetime import UTC, datetime, timedelta

    from runner.store import Owner

    due = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
    with opened(home=api.home) as store:
        (run_id,) = store.create_runs(
            [
                {
                    "job": "export",
                    "revision": 1,
                    "trigger": "schedule",
                    "due": due,
                    "now": due,
                    "tasks": ["extract", "load"],
                }
            ]
        )
        owner = Owner(host="h", pid=1, started=1.0)
        assert store.claim_run(run_id, owner=owner, now=due + timedelta(milliseconds=20))
    text = api.get("/metrics").text
    assert 'runner_firing_delay_seconds_count{job="export"} 1.0' in text
    assert 'runner_firing_delay_seconds_bucket{job="export",le="0.01"} 0.0' in text
    assert 'runner_firing_delay_seconds_bucket{job="export",le="0.025"} 1.0' in text
    names = [line.split()[2] for line in text.splitlines() if line.startswith("# TYPE")]
    assert names and all(n.startswith("runner_") for n in names)


def test_the_openapi_document_is_served(api: Api) -> None:
    doc = api.client.get("/openapi.json").json()
    assert "/v1/runs/{run_id}/actions" in doc["paths"]
    assert doc["info"]["title"] == "runner"


def _now():  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    return datetime.now(UTC)


def test_odd_input_is_422_never_a_500(api: Api) -> None:
    """What schemathesis found: a NUL (PostgreSQL keeps none in text), a body that is
    not UTF-8, a duration further back than any date."""
    for bad in (
        api.get("/v1/jobs/a%00b"),
        api.get("/v1/runs", params={"job": "a\x00b"}),
        api.post("/v1/jobs/export/holds", json={"reason": "a\u0000b"}),
        api.post("/v1/holds", json={"selector": {"team": "a\u0000"}}),
        api.post("/v1/holds", content=b"o\xff2Q", headers={"content-type": "application/json"}),
    ):
        assert bad.status_code == 422 and bad.json()["error"] == "invalid", bad.text
    everything = api.get("/v1/audit", params={"since": "99999999h"})
    assert everything.status_code == 200 and everything.json() == []
