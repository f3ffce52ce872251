"""The HTTP API (SPEC 7): a FastAPI app over the operations layer. Each handler checks the
token's role, calls one operation and answers its result; it holds no logic of its own.

Every refusal is `{"error": code, "detail": ...}` with the operation's own code: 404 for
an unknown job, run or task, 409 for a refusal by state, 422 for a malformed body or
date, 401 without a valid token, 403 for a role that may not, 413 for a body over 1 MiB
(runner/api/limits.py). Never a 500 for a user's input: an unexpected error is a bug,
logged, and answered 500 with no detail."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException

from runner import __version__
from runner.api.limits import HOOK, BodyLimit
from runner.errors import NotFound, RunnerError, UsageError
from runner.ops.common import Home
from runner.ops.identity import Actor
from runner.ops.tokens import Token, TokenSet
from runner.runs.trigger import Refused
from runner.store import StoreError

log = logging.getLogger("runner.api")
BEARER = HTTPBearer(auto_error=False, description="A token of `runner token add`.")


class ApiError(Exception):
    def __init__(self, status: int, code: str, detail: Any) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail


class Context:
    """What every handler gets: the home, the watched folder, who asks, from where."""

    def __init__(self, home: Home, config: Sequence[str], token: Token, request: Request) -> None:
        self.home = home
        self.config = list(config)
        self.token = token
        client = request.client.host if request.client else "unknown"
        self.actor = Actor(token.name, f"api from {client}")
        self.idempotency_key = request.headers.get("idempotency-key")


def create_app(
    home: Home,
    tokens: TokenSet,
    *,
    config: Sequence[str] = ("jobs.d",),
    started: float | None = None,
) -> FastAPI:
    """The API of the daemon on `home`, accepting `tokens`; `config`: the folder it
    watches (for `GET /v1/plan`)."""
    from runner.api import acting, events, hooks, reading  # the routes

    app = FastAPI(
        title="runner",
        version=__version__,
        description="The HTTP API of `runner daemon --api` (SPEC 7).",
        responses={401: {"description": "no valid token"}},
        dependencies=[Depends(_no_nul)],
    )
    app.add_middleware(BodyLimit)  # 413 for a body over 1 MiB, before it is read
    app.state.home, app.state.tokens, app.state.config = home, tokens, list(config)
    app.state.started = started if started is not None else time.time()
    _errors(app)
    app.include_router(reading.router)
    app.include_router(reading.metrics_router)
    app.include_router(acting.router)
    app.include_router(events.router)
    app.include_router(hooks.router)
    app.state.tail = events.Tail(home)

    @app.get("/healthz", tags=["daemon"])
    async def healthz() -> dict[str, str]:  # async: never waits for the worker thread
        """Liveness: the API answers (no token needed)."""
        return {"status": "ok"}

    return app


async def _no_nul(request: Request) -> None:
    """A NUL character or a lone surrogate in the path, the query or the body's text is
    refused (422): no name holds one, and PostgreSQL cannot keep one in text. (A git
    webhook's body is only hashed, never kept: it is not read here.)"""
    texts = [request.url.path, *request.query_params.values()]
    if request.method in ("POST", "PUT", "PATCH", "DELETE") and request.url.path != HOOK:
        body = await request.body()
        if b"\x00" in body or b"\\u0000" in body or b"\\ud" in body.lower():
            texts.append(_all_text(body))
    if any("\x00" in t for t in texts):
        raise ApiError(422, "invalid", "a NUL character is not allowed in a name or a text")
    if not all(_unicode(t) for t in texts):
        raise ApiError(422, "invalid", "a lone surrogate (\\ud800 to \\udfff) is not text")


def _unicode(text: str) -> bool:
    """Whether `text` is Unicode text: a JSON string may hold half of a surrogate pair
    (`"\\ud800"`), which no store can keep (PostgreSQL refuses it in JSON)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _all_text(body: bytes) -> str:
    """Every string of a JSON body, joined (the body itself when it is not JSON)."""
    import json

    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # not JSON, or nested too deep for the parser
        return body.decode("utf-8", "replace")
    out: list[str] = []
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return "\n".join(out)


def role(needed: str) -> Callable[..., Context]:
    """A dependency: the request's token, which must have `needed`'s role or above."""

    def check(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)],
    ) -> Context:
        state = request.app.state
        token = state.tokens.verify(credentials.credentials) if credentials else None
        if token is None:
            raise ApiError(401, "unauthorized", "give a valid token: Authorization: Bearer TOKEN")
        if not token.may(needed):
            raise ApiError(
                403, "forbidden", f"token {token.name} has role {token.role}; this needs {needed}"
            )
        return Context(state.home, state.config, token, request)

    return check


Read = Annotated[Context, Depends(role("read"))]
Operate = Annotated[Context, Depends(role("operate"))]


def _errors(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    def api_error(_: Request, exc: ApiError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse({"error": exc.code, "detail": exc.detail}, exc.status, headers)

    @app.exception_handler(RunnerError)
    def runner_error(_: Request, exc: RunnerError) -> JSONResponse:
        return JSONResponse({"error": exc.code, "detail": exc.message}, status_of(exc))

    @app.exception_handler(RequestValidationError)
    def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        detail = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()]
        return JSONResponse({"error": "invalid", "detail": detail}, 422)

    @app.exception_handler(StarletteHTTPException)
    def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:  # FastAPI could not parse the body (not UTF-8, say)
            detail = [{"loc": ["body"], "msg": "the body is not JSON (in UTF-8)"}]
            return JSONResponse({"error": "invalid", "detail": detail}, 422)
        codes = {404: "not-found", 405: "method-not-allowed", 413: "too-large"}
        code = codes.get(exc.status_code, "http")
        return JSONResponse({"error": code, "detail": exc.detail}, exc.status_code)

    @app.exception_handler(Exception)
    def bug(_: Request, exc: Exception) -> JSONResponse:
        log.error("the API hit a bug", exc_info=exc)
        return JSONResponse({"error": "internal", "detail": "runner hit a bug"}, 500)


def status_of(exc: RunnerError) -> int:
    """The HTTP status of an operation's refusal, from its kind."""
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, UsageError) or exc.code in ("bad-time", "usage"):
        return 422
    if isinstance(exc, StoreError):
        return 503
    if isinstance(exc, Refused):
        return 409
    return 409  # every other refusal of an action by state


def openapi_text() -> str:
    """The API's OpenAPI document, as committed in schemas/openapi.json."""
    import json
    from pathlib import Path

    app = create_app(Home(Path(".runner")), TokenSet([]), started=0.0)
    return json.dumps(app.openapi(), indent=2, sort_keys=True) + "\n"
