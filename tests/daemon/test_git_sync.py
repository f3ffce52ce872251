"""`runner daemon --git` (issue 16) with a real bare repository on local disk as the
remote: commits applied in order, a bad commit isolated per file, a force-push refused
then taken with --allow-rewind, suspend and resume, the push webhook's signature, and
the applied commit in `status --json` and the API."""

from __future__ import annotations

import hashlib
import hmac
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.cli.test_origin import git
from tests.daemon.conftest import DaemonProcess, Env
from tests.daemon.test_api_daemon import free_port
from tests.waiting import wait_for

JOB = "apiVersion: runner/v1\nkind: Job\nname: {name}\ntasks: [{{name: a, run: 'true'}}]\n"


class Remote:
    """A bare repository and a work tree that pushes to it."""

    def __init__(self, root: Path) -> None:
        self.bare, self.work = root / "remote.git", root / "work"
        git(root, "init", "-q", "--bare", "-b", "main", str(self.bare))
        git(root, "clone", "-q", str(self.bare), str(self.work))
        git(self.work, "checkout", "-q", "-b", "main")

    def commit(
        self,
        files: dict[str, str | None],
        message: str,
        *,
        force: bool = False,
        key: Path | None = None,
    ) -> str:
        for name, text in files.items():
            path = self.work / "jobs" / name
            if text is None:
                path.unlink()
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text)
        git(self.work, "add", "-A")
        signing = ["-c", "gpg.format=ssh", "-c", f"user.signingkey={key}"] if key else []
        git(self.work, *signing, "commit", "-q", *(["-S"] if key else []), "-m", message)
        git(self.work, "push", "-q", *(["--force"] if force else []), "origin", "main")
        return git(self.work, "rev-parse", "HEAD")


@pytest.fixture
def remote(env: Env) -> Remote:
    return Remote(env.root)


def start(env: Env, remote: Remote, *args: str) -> DaemonProcess:
    daemon = env.start("--git", str(remote.bare), "--branch", "main", "--path", "jobs", *args)
    daemon.wait_up()
    return daemon


def names(env: Env) -> list[str]:
    return sorted(j["name"] for j in env.runner_json("jobs", "--json"))


def applied(env: Env) -> dict[str, object]:
    last = env.runner_json("status")["configuration"]["last_reconcile"]
    assert isinstance(last, dict)
    return last


def wait_applied(env: Env, commit: str) -> dict[str, object]:
    found: list[dict[str, object]] = []

    def there() -> bool:
        found[:] = [applied(env)]
        source = found[0].get("source") or {}
        return isinstance(source, dict) and source.get("commit") == commit

    wait_for(f"commit {commit[:7]} applied", there)
    return found[0]


def test_commits_are_applied_in_order_and_a_bad_file_is_isolated(env: Env, remote: Remote) -> None:
    first = remote.commit({"a.yaml": JOB.format(name="a")}, "a")
    start(env, remote, "--interval", "1s")
    last = wait_applied(env, first)
    assert last["source"] == {
        "commit": first,
        "branch": "main",
        "dirty": 0,
        "remote": str(remote.bare),
        "user": last["source"]["user"],  # type: ignore[index]
        "host": last["source"]["host"],  # type: ignore[index]
    }
    assert names(env) == ["a"]
    second = remote.commit({"b.yaml": JOB.format(name="b")}, "b")
    wait_applied(env, second)
    assert names(env) == ["a", "b"]
    bad = remote.commit(
        {
            "b.yaml": JOB.format(name="b") + "schedule: {cron: 'not cron'}\n",
            "c.yaml": JOB.format(name="c"),
        },
        "c, and b broken",
    )
    last = wait_applied(env, bad)
    assert last["outcome"] == "partial" and "b.yaml" in " ".join(last["errors"])  # type: ignore[arg-type]
    assert names(env) == ["a", "b", "c"]  # b keeps its last good revision
    status = env.runner("status").stdout
    assert f"source         {bad[:7]} (main, clean)" in status
    git_state = env.runner_json("status")["configuration"]["git"]
    assert git_state["head"] == bad and git_state["held"] is None


def test_a_force_push_is_refused_then_taken_with_allow_rewind(env: Env, remote: Remote) -> None:
    first = remote.commit({"a.yaml": JOB.format(name="a")}, "a")
    second = remote.commit({"b.yaml": JOB.format(name="b")}, "b")
    daemon = start(env, remote, "--interval", "1s")
    wait_applied(env, second)
    git(remote.work, "reset", "-q", "--hard", first)
    rewritten = remote.commit({"c.yaml": JOB.format(name="c")}, "c instead of b", force=True)
    held = daemon.wait_event("git-held", "does not descend")
    assert rewritten[:7] in held and "--allow-rewind" in held
    assert names(env) == ["a", "b"]
    state = env.runner_json("status")["configuration"]["git"]
    assert state["head"] == rewritten and state["checked_out"] == second
    assert "does not descend" in state["held"]
    assert "does not descend" in env.runner("status").stdout  # the drift shown
    daemon.stop()
    start(env, remote, "--interval", "1s", "--allow-rewind")
    wait_applied(env, rewritten)
    assert names(env) == ["a", "c"]


def test_a_suspended_daemon_fetches_but_takes_no_commit_until_resumed(
    env: Env, remote: Remote
) -> None:
    first = remote.commit({"a.yaml": JOB.format(name="a")}, "a")
    daemon = start(env, remote, "--interval", "1s")
    wait_applied(env, first)
    assert env.runner("hold", "a", "--name", "maint").returncode == 0
    status = env.runner("status").stdout
    assert "not in git     1 runtime hold(s): maint on a (`runner release` ends them)" in status
    assert env.runner("suspend", "--reason", "incident 42").returncode == 0
    second = remote.commit({"b.yaml": JOB.format(name="b")}, "b")
    daemon.wait_event("git-held", "applying is suspended")
    assert names(env) == ["a"]
    assert env.runner_json("status")["configuration"]["git"]["head"] == second
    assert env.runner("resume").returncode == 0
    wait_applied(env, second)
    assert names(env) == ["a", "b"]


def test_the_push_webhook_is_checked_and_fetches_at_once(
    env: Env, remote: Remote, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNNER_API_TOKEN", "s3cret-token")
    monkeypatch.setenv("RUNNER_GIT_WEBHOOK_SECRET", "hook-secret")
    first = remote.commit({"a.yaml": JOB.format(name="a")}, "a")
    port = free_port()
    daemon = start(env, remote, "--interval", "1h", "--api", f"127.0.0.1:{port}")
    wait_applied(env, first)
    second = remote.commit({"b.yaml": JOB.format(name="b")}, "b")
    body = b'{"ref": "refs/heads/main"}'
    good = "sha256=" + hmac.new(b"hook-secret", body, hashlib.sha256).hexdigest()
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as api:
        bad = api.post("/v1/hooks/git", content=body, headers={"X-Hub-Signature-256": "sha256=00"})
        assert bad.status_code == 401 and bad.json()["error"] == "bad-signature"
        assert api.post("/v1/hooks/git", content=body).status_code == 401
        gitlab = api.post("/v1/hooks/git", content=body, headers={"X-Gitlab-Token": "nope"})
        assert gitlab.status_code == 401
        ok = api.post("/v1/hooks/git", content=body, headers={"X-Hub-Signature-256": good})
        assert ok.status_code == 202, ok.text
        wait_applied(env, second)  # an hour before the next fetch: the hook did it
        auth = {"Authorization": "Bearer s3cret-token"}
        status = api.get("/v1/status", headers=auth).json()
        assert status["configuration"]["last_reconcile"]["source"]["commit"] == second
    assert "hook-secret" not in daemon.log()


def test_a_token_in_the_url_is_refused_without_showing_it(env: Env) -> None:
    daemon = env.start("--git", "https://deploy:t0ken@git.example.org/ops/jobs.git")
    assert daemon.wait_exit(20) == 1
    log = daemon.log()
    assert "t0ken" not in log and "RUNNER_GIT_TOKEN" in log
    assert "https://git.example.org/ops/jobs.git" in log


def test_with_verify_signatures_only_signed_heads_are_taken(env: Env, remote: Remote) -> None:
    key = env.root / "signer"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    allowed = env.root / "allowed_signers"
    allowed.write_text(f"t@example.org {key.with_suffix('.pub').read_text()}")
    first = remote.commit({"a.yaml": JOB.format(name="a")}, "a", key=key)
    daemon = start(env, remote, "--interval", "1s", "--verify-signatures", str(allowed))
    wait_applied(env, first)
    unsigned = remote.commit({"b.yaml": JOB.format(name="b")}, "b, unsigned")
    held = daemon.wait_event("git-held", "is not signed by a key of")
    assert unsigned[:7] in held and "--verify-signatures" in held
    assert names(env) == ["a"]
    signed = remote.commit({"c.yaml": JOB.format(name="c")}, "c, signed", key=key)
    wait_applied(env, signed)
    assert names(env) == ["a", "b", "c"]  # the signed head brings the commits before it
