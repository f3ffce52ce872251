"""`GET /v1/events`: Server-Sent Events of what happens (runs' and tasks' states, holds,
configurations applied), each with its id in the store, so that a client that reconnects
with `Last-Event-ID` gets what it missed, from any daemon on the store.

One `Tail` per app reads the new events from the store for every client at once (a few
reads a second while a client is connected, none otherwise), and keeps the latest in
memory: a hundred clients cost one read, not a hundred. A client that starts further
back than the tail holds reads its backlog from the store first."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
from collections import deque
from collections.abc import AsyncIterator
from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse

from runner.api.app import ApiError, Read
from runner.domain import MAX_ID
from runner.ops import events as event_ops
from runner.ops.common import Home
from runner.store.events import PAGE, StoredEvent

log = logging.getLogger("runner.api")
router = APIRouter(prefix="/v1", tags=["read"])

TAIL_EVERY = 0.2  # seconds between the tail's reads while a client listens
KEPT = 10_000  # events the tail keeps in memory


class Tail:
    """The newest events, read from the store while anyone listens."""

    def __init__(self, home: Home, every: float = TAIL_EVERY) -> None:
        self.home, self.every = home, every
        self.kept: deque[StoredEvent] = deque(maxlen=KEPT)
        self.floor = -1  # every event after this id is in `kept` (-1: not read yet)
        self.listeners = 0
        self.closing = False
        self._news: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._ready: asyncio.Event | None = None  # set once the tail knows where it starts
        self._frames: dict[int, str] = {}  # each event's text, by id
        self._loop: asyncio.AbstractEventLoop | None = None

    def close(self) -> None:
        """End every stream (the server stops): from any thread."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._closed)

    def _closed(self) -> None:
        self.closing = True
        self.news().set()

    @contextlib.asynccontextmanager
    async def listening(self) -> AsyncIterator[None]:
        """While a client listens: the tail reads (started by the first client)."""
        self.listeners += 1
        self._loop = asyncio.get_running_loop()
        try:
            if self._task is None or self._task.done():  # no await before it is made:
                self._ready = asyncio.Event()  # a hundred clients at once start one tail
                self._task = asyncio.create_task(self._follow(self._ready))
            assert self._ready is not None
            await self._ready.wait()
            yield
        finally:
            self.listeners -= 1

    def news(self) -> asyncio.Event:
        """Set when the tail has read something new (wait on it, then look again)."""
        if self._news is None:
            self._news = asyncio.Event()
        return self._news

    @property
    def following(self) -> bool:
        """Whether the tail reads now (so `newest` is at most TAIL_EVERY old)."""
        return self.floor >= 0 and self._task is not None and not self._task.done()

    @property
    def newest(self) -> int:
        """The newest event's id that the tail has read."""
        return self.kept[-1].id if self.kept else self.floor

    def since(self, after: int, job: str | None, run: int | None) -> list[StoredEvent] | None:
        """The kept events after `after`, of `job`/`run`; None when the tail does not
        reach back that far (read the store)."""
        if after < self.floor:
            return None
        newer = []  # from the newest back: a client woken by news looks at what is new only
        for e in reversed(self.kept):
            if e.id <= after:
                break
            if (job is None or e.job == job) and (run is None or e.run == run):
                newer.append(e)
        newer.reverse()
        return newer

    def frame(self, event: StoredEvent) -> str:
        """The event as the stream sends it, made once for every client."""
        text = self._frames.get(event.id)
        if text is None:
            text = frame(event)
            if len(self._frames) >= KEPT:
                self._frames.clear()
            self._frames[event.id] = text
        return text

    async def _start(self) -> None:
        """Where the tail starts: the newest event now (tried until the store answers)."""
        while not self.closing:
            try:
                self.floor = await to_thread.run_sync(event_ops.newest_event, self.home)
                break
            except Exception:
                log.warning("the event stream cannot read the store", exc_info=True)
                await asyncio.sleep(self.every)
        self.kept.clear()

    async def _follow(self, ready: asyncio.Event) -> None:
        try:
            await self._start()
        finally:
            ready.set()
        while self.listeners > 0 and not self.closing:
            try:
                found = await to_thread.run_sync(event_ops.events_after, self.home, self.newest)
            except Exception:  # the store is away: the clients wait, the tail tries again
                log.warning("the event stream cannot read the store", exc_info=True)
                found = []
            if found:
                for event in found:
                    if len(self.kept) == self.kept.maxlen:
                        self.floor = self.kept[0].id
                    self.kept.append(event)
                news, self._news = self.news(), asyncio.Event()
                news.set()
            if len(found) < PAGE:
                await asyncio.sleep(self.every)


def _start(
    last_event_id: Annotated[str | None, Header()] = None,
    after: int | None = Query(None, ge=0, le=MAX_ID, description="as Last-Event-ID"),
) -> int | None:
    """Where a stream starts: after `Last-Event-ID` (or `?after=`), else None. (A
    dependency: a bad one is refused before the stream begins.)"""
    if last_event_id is not None and last_event_id.strip():
        text = last_event_id.strip()
        # ASCII digits only (str.isdigit() takes "²", which int() refuses), and few enough
        # for int() and for the store's column
        digits = text.isascii() and text.isdigit() and len(text) <= len(str(MAX_ID))
        if not (digits and int(text) <= MAX_ID):
            raise ApiError(422, "bad-event-id", f"Last-Event-ID {last_event_id!r} is not an id")
        return int(text)
    return after


PING = 15.0  # seconds of silence before a keep-alive comment (proxies close idle streams)
STREAM: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "a stream of Server-Sent Events (`id:`, `event:`, `data:` JSON)",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    },
    422: {"description": "a bad Last-Event-ID"},
}


@router.get("/events", response_class=StreamingResponse, responses=STREAM)
async def events(
    request: Request,
    ctx: Read,
    job: str | None = Query(None, description="only this job's events"),
    run: int | None = Query(None, ge=1, le=MAX_ID, description="only this run's events"),
    start: int | None = Depends(_start),
) -> StreamingResponse:
    """What happens, as Server-Sent Events: `event:` is the kind (`run`, `task`, `hold`,
    `config`, `missed`), `id:` the event's id, `data:` `{id, at, kind, job, run, task,
    state, detail, message}`. It starts after `Last-Event-ID` (or `?after=`); without
    one, from now, or with `?run=`, from that run's first event."""
    tail: Tail = request.app.state.tail
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    if start is None and run is None:
        # "now" is fixed before the headers go out: a client that has them gets every
        # event written after, whatever it does next (a run it asks for at once)
        start = (
            tail.newest
            if tail.following
            else await to_thread.run_sync(event_ops.newest_event, ctx.home)
        )
    body = _sse(tail, ctx.home, start, job, run)
    return StreamingResponse(body, media_type="text/event-stream", headers=headers)


async def _sse(
    tail: Tail, home: Home, start: int | None, job: str | None, run: int | None
) -> AsyncIterator[str]:
    async with tail.listening():
        if start is None:
            start = 0 if run is not None else tail.newest
        async for event in _stream(tail, home, start, job, run):
            yield ": ping\n\n" if event is None else tail.frame(event)


def frame(event: StoredEvent) -> str:
    """One Server-Sent Event: `id:`, `event:` (the kind), `data:` (JSON on one line)."""
    data = json.dumps(event.as_json(), separators=(",", ":"))
    return f"id: {event.id}\nevent: {event.kind}\ndata: {data}\n\n"


async def _stream(
    tail: Tail, home: Home, after: int, job: str | None, run: int | None
) -> AsyncIterator[StoredEvent | None]:
    """The events after `after`, as they come; None when nothing came for PING seconds."""
    while not tail.closing:
        news = tail.news()
        found = tail.since(after, job, run)
        reached = after
        if found is None:  # further back than the tail: the store's backlog, a page at a time
            floor = tail.floor  # every event up to it was written before this read
            read = functools.partial(event_ops.events_after, home, after, job=job, run=run)
            found = await to_thread.run_sync(read)
            if len(found) == PAGE:
                news.set()  # more to read at once
            else:
                reached = max(after, floor)
        for event in found:
            yield event
            after = event.id
        after = max(after, reached)
        try:
            await asyncio.wait_for(news.wait(), PING)
        except TimeoutError:
            yield None
