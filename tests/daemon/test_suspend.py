"""`runner suspend` and `runner resume` (issue 16) against a daemon process: a change to
the folder is not applied while suspended (runs go on), `runner apply` refuses, status
and plan say so, the suspension survives a restart, and resume applies what changed."""

from __future__ import annotations

from tests.daemon.conftest import Env
from tests.waiting import wait_for

JOB = """
apiVersion: runner/v1
kind: Job
name: {name}
tasks:
  - {{name: a, run: "true"}}
"""


def names(env: Env) -> list[str]:
    return [j["name"] for j in env.runner_json("jobs", "--json")]


def test_a_suspended_daemon_applies_nothing_until_resumed(env: Env) -> None:
    env.write("a.yaml", JOB.format(name="a"))
    daemon = env.start()
    daemon.wait_up()
    done = env.runner("suspend", "--reason", "change freeze until Monday")
    assert done.returncode == 0, done.stderr
    assert "applying suspended by " in done.stdout and "change freeze until Monday" in done.stdout

    env.write("b.yaml", JOB.format(name="b"))
    daemon.wait_event("config-suspended", "change freeze until Monday")
    assert names(env) == ["a"]
    refused = env.runner("apply", "--config", "jobs.d")
    assert refused.returncode == 1
    assert (
        "applying is suspended (by " in refused.stderr and "`runner resume` first" in refused.stderr
    )
    status = env.runner("status").stdout
    assert "applying       SUSPENDED by " in status and "change freeze until Monday" in status
    plan = env.runner("plan", "--config", "jobs.d").stdout
    assert "+ job b" in plan and "Applying is suspended" in plan
    run = env.runner("run", "a", "--wait")  # runs go on
    assert run.returncode == 0, run.stderr

    daemon.stop()
    daemon = env.start()  # it survives a restart: the start's apply waits too
    daemon.wait_event("config-suspended", "not applying (start)")
    assert names(env) == ["a"]

    resumed = env.runner("resume")
    assert resumed.returncode == 0 and "resumed applying (it was suspended by" in resumed.stdout
    daemon.wait_event("config-applied", "resume")
    wait_for("job b applied", lambda: names(env) == ["a", "b"])
    again = env.runner("resume")
    assert "applying was not suspended" in again.stdout
    audit = env.runner("audit").stdout
    assert "suspend" in audit and "resume" in audit
