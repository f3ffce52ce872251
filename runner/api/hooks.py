"""`POST /v1/hooks/git`: a git host's push webhook makes a `--git` daemon fetch at once.
Git hosts cannot send a bearer token, so the request is authenticated by the host's
signature instead, with the secret of `RUNNER_GIT_WEBHOOK_SECRET`: GitHub's and Gitea's
`X-Hub-Signature-256` (HMAC-SHA256 of the body), Gitea's `X-Gitea-Signature` (the same,
without the prefix), GitLab's `X-Gitlab-Token` (the secret itself). Compared in constant
time; the body is hashed as it comes and not otherwise read (nor held: a body may be up
to 25 MiB, runner/api/limits.py): any push fetches the branch the daemon follows."""

from __future__ import annotations

import hashlib
import hmac

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from runner.api.app import ApiError

router = APIRouter(prefix="/v1", tags=["daemon"])


@router.post(
    "/hooks/git",
    status_code=202,
    responses={
        202: {"description": "the daemon fetches now"},
        401: {"description": "no valid signature"},
        404: {"description": "this daemon does not sync from git, or has no webhook secret"},
    },
)
async def git_push(request: Request) -> JSONResponse:
    """A push webhook (GitHub, GitLab, Gitea): fetch the remote now."""
    hook = getattr(request.app.state, "git_hook", None)
    if hook is None:
        raise ApiError(
            404,
            "no-git-hook",
            "this daemon has no git webhook: start it with --git URL and "
            "RUNNER_GIT_WEBHOOK_SECRET set",
        )
    secret, fetch_now = hook
    mac = hmac.new(secret.encode(), digestmod=hashlib.sha256)
    async for chunk in request.stream():  # hashed as it comes, never held (up to 25 MiB)
        mac.update(chunk)
    if not signed(request.headers, mac.hexdigest(), secret):
        raise ApiError(
            401,
            "bad-signature",
            "the request has no valid X-Hub-Signature-256, X-Gitea-Signature or "
            "X-Gitlab-Token for this daemon's webhook secret",
        )
    fetch_now()
    return JSONResponse({"status": "fetching"}, 202)


def signed(headers: object, digest: str, secret: str) -> bool:
    """Whether one of the hosts' signature headers is right for the body whose
    HMAC-SHA256 with `secret` is `digest` (in hex)."""
    get = getattr(headers, "get")  # noqa: B009 (starlette's Headers, or a dict in tests)
    offered = [
        (get("x-hub-signature-256") or "").removeprefix("sha256="),
        get("x-gitea-signature") or "",
    ]
    ok = any(hmac.compare_digest(digest, o) for o in offered if o)
    token = get("x-gitlab-token")
    if token:
        ok = hmac.compare_digest(token.encode(), secret.encode()) or ok
    return ok
