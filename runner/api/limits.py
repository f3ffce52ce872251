"""The API's limit on request bodies: 1 MiB (`MAX_BODY`), and 25 MiB for a git host's
push webhook (GitHub's own cap on a delivery, so that every real one passes). None of
the API's bodies comes near it; without a limit, one request could make the daemon hold
any number of bytes (every `POST` reads its whole body before anything else).

A body declared larger (`Content-Length`) is refused with 413 before a byte of it is
read; one sent in chunks, once it passes the limit. The answer is the API's error,
`{"error": "too-large", "detail": ...}`, and uvicorn closes the connection after it (the
rest of the body is not read). A pure ASGI middleware: it wraps `receive`, it reads and
buffers nothing itself."""

from __future__ import annotations

import json

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY = 1 << 20
HOOK = "/v1/hooks/git"  # its body is only hashed, as it comes: never held in memory
LIMITS = {HOOK: 25 << 20}


class BodyTooLarge(HTTPException):
    """Raised from `receive` past the limit: an HTTPException, so that FastAPI's body
    parsing passes it on as it is and the app's handler answers it (413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, too_large(limit))


def too_large(limit: int) -> str:
    return f"the request's body is over {limit} bytes, the most this API reads"


class BodyLimit:
    """Refuses a request whose body is over its path's limit (413)."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = LIMITS.get(scope["path"], self.limit)
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await refuse(send, limit)
            return
        seen = 0
        started = False

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited, watched)
        except BodyTooLarge:
            if started:
                raise
            await refuse(send, limit)


async def refuse(send: Send, limit: int) -> None:
    body = json.dumps({"error": "too-large", "detail": too_large(limit)}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})
