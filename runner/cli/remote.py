"""The CLI's `--server URL` (SPEC 7): the reads and actions of the commands asked of a
runner daemon's HTTP API, answered as the same typed results the operations give here,
so that each command prints them with the same code, the same `--json` and the same exit
code. An API refusal (`{"error": code, "detail": ...}`) becomes the `RunnerError` the
operation raises here: the same code, message and exit code.

`run --wait` follows the run through the API's Server-Sent Events (`runner.cli.stream`),
not by asking again and again."""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any, NoReturn
from urllib.parse import quote

import httpx

from runner import __version__
from runner.cli.stream import Events
from runner.domain import ENDED_RUN_STATES, MAX_ID
from runner.errors import ExitCode, NotFound, RunnerError, UsageError
from runner.ops.actions import ActionOutcome
from runner.ops.holds import Released, nothing_to_release
from runner.ops.placing import HoldRequest, Placed, check_target
from runner.ops.reading import Logs, LogText, TaskLastRun
from runner.ops.runs import OnQueued, RunOutcome, RunRequest
from runner.ops.status import Overview, RunStatus, Status
from runner.reconciler.inventory import JobSummary
from runner.runs.reading import JobStatus, logs_of
from runner.runs.trigger import Refused
from runner.runs.views import run_from_json
from runner.store import RunRecord, StoreError

# An action waits on the server for the run's owner to answer it (up to 25 s).
TIMEOUT = httpx.Timeout(60.0, connect=10.0)
FOLLOW_REFUSED = "--follow needs a local home; remotely, use `runner logs` again"


def base_url(server: str) -> str:
    """`--server`'s URL; `HOST:PORT` alone means http://HOST:PORT."""
    url = server if "://" in server else f"http://{server}"
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        parsed = None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
        raise UsageError(
            f'--server "{server}": give the URL of a runner daemon\'s API, '
            "e.g. http://127.0.0.1:8080"
        )
    return url.rstrip("/")


def segment(name: str) -> str:
    """A name (job, task, hold) as one segment of a path."""
    return quote(name, safe="")


class Api:
    """A client of the API at `server`, authenticated by `token`."""

    def __init__(self, server: str, token: str | None) -> None:
        self.url = base_url(server)
        self.has_token = bool(token)
        headers = {"User-Agent": f"runner/{__version__}"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.client = httpx.Client(base_url=self.url, headers=headers, timeout=TIMEOUT)

    def __enter__(self) -> Api:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.client.close()

    # --- the transport ---------------------------------------------------------------

    def send(self, method: str, path: str, **how: Any) -> httpx.Response:
        """The answer, whatever its status; a server that cannot be reached is an error."""
        try:
            return self.client.request(method, path, **how)
        except httpx.TransportError as exc:
            raise self.unreachable(exc) from None

    def answer(self, method: str, path: str, **how: Any) -> Any:
        """The JSON of a successful answer; a refusal raised as the operation's error."""
        return self.answer_of(self.send(method, path, **how))

    def answer_of(self, response: httpx.Response) -> Any:
        if not response.is_success:
            raise self.refusal(response)
        body = json_of(response)
        if body is None:
            asked = f"{response.request.method} {response.request.url.path}"
            raise RunnerError(
                f"the runner API at {self.url} answered {asked} with no JSON: is it runner's?",
                code="api-error",
            )
        return body

    def get(self, path: str, **params: Any) -> Any:
        return self.answer("GET", path, params=query(params))

    def unreachable(self, exc: Exception) -> RunnerError:
        why = str(exc) or type(exc).__name__
        return RunnerError(f"cannot reach runner API at {self.url}: {why}", code="unreachable")

    def refusal(self, response: httpx.Response) -> RunnerError:
        """The error an API's refusal stands for (SPEC 7's statuses)."""
        body = json_of(response)
        if not isinstance(body, dict) or "error" not in body:
            return RunnerError(
                f"the runner API at {self.url} answered {response.status_code} "
                f"{response.reason_phrase}",
                code="api-error",
            )
        return self.error(response.status_code, str(body["error"]), detail_text(body))

    def error(self, status: int, code: str, detail: str) -> RunnerError:
        if status == 401:
            what = "refused the token" if self.has_token else "needs a token"
            return RunnerError(
                f"the runner API at {self.url} {what}: give a valid token with --token "
                "or RUNNER_API_TOKEN",
                code=code,
                exit_code=ExitCode.USAGE,
            )
        if status == 403:
            return RunnerError(f"the runner API at {self.url} refused: {detail}", code=code)
        if status == 404:
            return NotFound(detail, code=code)
        if status == 409:
            return Refused(detail, code=code)
        if status == 422:
            return RunnerError(detail, code=code) if code == "bad-time" else UsageError(detail)
        if status == 503:
            return StoreError(detail, code=code)
        return RunnerError(f"the runner API at {self.url} answered {status}: {detail}", code=code)

    # --- reads -----------------------------------------------------------------------

    def jobs(self, *, labels: Mapping[str, str], state: str | None) -> list[JobSummary]:
        label = [f"{k}={v}" for k, v in labels.items()]
        return [JobSummary.from_json(j) for j in self.get("/v1/jobs", label=label, state=state)]

    def status(self, target: str | None) -> Status:
        """As `runner.ops.status.status`: a number is a run's id when such a run exists."""
        if target is None:
            return Overview.from_json(self.get("/v1/status"))
        if target.isdigit() and 0 < int(target) <= MAX_ID:
            try:
                return RunStatus(self.run_record(int(target)))
            except NotFound:
                pass
        return JobStatus.from_json(self.get(f"/v1/jobs/{segment(target)}/status"))

    def run_record(self, run_id: int) -> RunRecord:
        return run_from_json(self.get(f"/v1/runs/{run_id}"))

    def history(
        self,
        *,
        job: str | None,
        since: str | None,
        until: str | None,
        states: tuple[str, ...],
        limit: int,
    ) -> list[RunRecord]:
        found = self.get(
            "/v1/runs", job=job, state=list(states), start=since, end=until, limit=limit
        )
        return [run_from_json(r) for r in found]

    def tasks(self, job: str) -> list[TaskLastRun]:
        return [TaskLastRun.from_json(t) for t in self.get(f"/v1/jobs/{segment(job)}/tasks")]

    def logs(self, run_id: int, *, task: str | None, attempt: int | None) -> Logs:
        run = self.run_record(run_id)
        texts = []
        for ref in logs_of(run, task, attempt):
            path = f"/v1/runs/{run_id}/tasks/{segment(ref.task)}/log"
            response = self.send("GET", path, params={"attempt": ref.attempt})
            if not response.is_success:
                raise self.refusal(response)  # the text is no JSON: not `answer_of`
            texts.append(LogText(ref, response.content))
        return Logs(run, texts)

    def follow_logs(self) -> NoReturn:
        raise UsageError(FOLLOW_REFUSED)

    def audit(self, *, since: str | None, who: str | None, limit: int) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.get("/v1/audit", since=since, who=who, limit=limit)
        return found

    def daemon_pid(self) -> int:
        """The pid of the daemon that serves the API (`queued to the daemon (pid N)`)."""
        return int(self.get("/v1/status")["daemon"].get("pid") or 0)

    # --- actions ---------------------------------------------------------------------

    def run(self, request: RunRequest, *, on_queued: OnQueued | None = None) -> RunOutcome:
        """Queue a run to the daemon; with `wait`, follow its events until it ends."""
        body: dict[str, Any] = {"tasks": list(request.tasks), "env": dict(request.env)}
        if request.overlap is not None:
            body["overlap"] = request.overlap
        made = self.answer("POST", f"/v1/jobs/{segment(request.job)}/runs", json=body)
        queued, pid = run_from_json(made), self.daemon_pid()
        if not request.wait:
            return RunOutcome(queued, daemon_pid=pid, followed=False)
        if on_queued is not None:
            on_queued(queued.id, pid)
        try:
            ended = self.wait_for_end(queued.id)
        except KeyboardInterrupt:
            return RunOutcome(queued, daemon_pid=pid, followed=False, stopped_waiting=True)
        return RunOutcome(ended, daemon_pid=pid)

    def wait_for_end(self, run_id: int) -> RunRecord:
        """The run once an event says it ended (its events from its first, then as they
        come: one that ended before the stream opened is seen at once)."""
        for event in Events(self, {"run": run_id}):
            if event.get("kind") == "run" and event.get("state") in ENDED_RUN_STATES:
                return self.run_record(run_id)
        raise AssertionError("the event stream does not end")  # pragma: no cover

    def cancel(self, run_id: int, *, reason: str | None) -> RunRecord:
        answer = self.answer("POST", f"/v1/runs/{run_id}/cancel", json={"reason": reason})
        return run_from_json(answer)

    def finish(self, run_id: int, task: str, *, reject: str | None) -> ActionOutcome:
        return self.act(run_id, {"type": "finish", "task": task, "reject": reject})

    def stop(self, run_id: int, task: str) -> ActionOutcome:
        return self.act(run_id, {"type": "stop", "task": task})

    def retry(self, run_id: int, *, from_task: str | None, only: str | None) -> ActionOutcome:
        outcome = self.act(run_id, {"type": "retry", "task": only, "from": from_task})
        if outcome.run.state != "scheduled" or outcome.refused:
            return outcome
        return ActionOutcome(outcome.run, outcome.results, self.daemon_pid())  # queued to it

    def act(self, run_id: int, body: dict[str, Any]) -> ActionOutcome:
        """finish, stop or retry: answered per task, a refusal by state (409) too."""
        response = self.send("POST", f"/v1/runs/{run_id}/actions", json=body)
        answer = json_of(response)
        if response.status_code == 409 and isinstance(answer, dict) and "results" in answer:
            return ActionOutcome.from_json(answer)
        return ActionOutcome.from_json(self.answer_of(response))

    def hold(self, request: HoldRequest) -> Placed:
        check_target(request)
        body: dict[str, Any] = {
            "tasks": list(request.tasks),
            "until": request.until,
            "on": request.on,
            "reason": request.reason,
            "name": request.name,
        }
        if request.job is not None:
            path = f"/v1/jobs/{segment(request.job)}/holds"
        else:
            path, body["selector"] = "/v1/holds", dict(request.selector or {})
        return Placed.from_json(self.answer("POST", path, json=body))

    def release(self, *, job: str | None, hold: str | None) -> Released:
        """As `runner.ops.holds.release`: JOB alone ends every runtime hold naming JOB."""
        if job is None:
            return Released.from_json(self.answer("DELETE", f"/v1/holds/{segment(hold or '')}"))
        if hold is not None:
            return self.release_one(job, hold)
        # SPEC 6's hold objects, each with its selector (a freeze is not on the job)
        holds = self.get(f"/v1/jobs/{segment(job)}/status")["holds"]
        named = [h["name"] for h in holds if h["origin"] == "runtime" and not h.get("selector")]
        if named:
            ended = [
                row for name in dict.fromkeys(named) for row in self.release_one(job, name).holds
            ]
            return Released(ended)
        configured = [h["name"] for h in holds if h["origin"] == "config"]
        if configured:  # refused, saying which file releases it
            self.release_one(job, configured[0])
        raise nothing_to_release(job=job, hold=None)

    def release_one(self, job: str, hold: str) -> Released:
        path = f"/v1/jobs/{segment(job)}/holds/{segment(hold)}"
        return Released.from_json(self.answer("DELETE", path))


def json_of(response: httpx.Response) -> Any:
    """The answer's JSON; None when it is none (a proxy's page, say)."""
    try:
        return response.json()
    except ValueError:
        return None


def query(params: Mapping[str, Any]) -> dict[str, Any]:
    """Query parameters, less those not given (httpx would send `?state=`)."""
    return {k: v for k, v in params.items() if v is not None and v != []}


def detail_text(body: Mapping[str, Any]) -> str:
    """A refusal's detail as one line: a malformed request's list of fields too."""
    detail = body.get("detail")
    if isinstance(detail, list):
        return "; ".join(
            f"{'.'.join(str(p) for p in d.get('loc', ()))}: {d.get('msg', '')}"
            if isinstance(d, dict)
            else str(d)
            for d in detail
        )
    return str(detail if detail is not None else body["error"])
