"""The API's Server-Sent Events (`GET /v1/events`, SPEC 7) as `runner run --wait
--server` reads them: each event's data, in order, keep-alive comments skipped. A
connection that drops is opened again with `Last-Event-ID`, so that no event is missed
or told twice; a server away for longer than `RECONNECT_FOR` is an error."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import httpx

from runner.errors import RunnerError

if TYPE_CHECKING:
    from runner.cli.remote import Api

RECONNECT_FOR = 30.0  # seconds a server may stay away (a daemon restarting) before giving up
RECONNECT_AFTER = 0.5  # between two tries
# Keep-alives come far more often than `read`: a stream silent that long is dead.
STREAM_TIMEOUT = httpx.Timeout(10.0, read=120.0)


class Events:
    """The events the API sends for `params` (`run`, `job`), from the first stored."""

    def __init__(self, api: Api, params: Mapping[str, Any]) -> None:
        self.api = api
        self.params = dict(params)
        self.last_id: str | None = None
        self.lost_since: float | None = None  # when the connection was lost, until back

    def __iter__(self) -> Iterator[dict[str, Any]]:
        while True:
            try:
                yield from self._connection()
            except httpx.TransportError as exc:  # dropped, or cannot connect
                self._lost(exc)
            time.sleep(RECONNECT_AFTER)

    def _connection(self) -> Iterator[dict[str, Any]]:
        headers = {"Last-Event-ID": self.last_id} if self.last_id else {}
        with self.api.client.stream(
            "GET", "/v1/events", params=self.params, headers=headers, timeout=STREAM_TIMEOUT
        ) as response:
            if not response.is_success:
                response.read()
                raise self._refused(response)
            self.lost_since = None
            for event_id, kind, data in parse(response.iter_lines()):
                if event_id:
                    self.last_id = event_id
                event = json.loads(data)
                if isinstance(event, dict):
                    event.setdefault("kind", kind)
                    yield event

    def _lost(self, exc: httpx.TransportError) -> None:
        now = time.monotonic()
        if self.lost_since is None:
            self.lost_since = now
        elif now - self.lost_since > RECONNECT_FOR:
            raise self.api.unreachable(exc) from None

    def _refused(self, response: httpx.Response) -> RunnerError:
        if response.status_code in (404, 405):
            return RunnerError(
                f"the runner API at {self.api.url} has no event stream (GET /v1/events): "
                "its daemon is older than this runner",
                code="no-events",
            )
        return self.api.refusal(response)


def parse(lines: Iterable[str]) -> Iterator[tuple[str | None, str, str]]:
    """Server-Sent Events from their lines: (id, event, data) for each, in order; comment
    lines (`: keep-alive`) and events without data are passed over."""
    event_id: str | None = None
    kind, data = "message", list[str]()
    for line in lines:
        if not line:
            if data:
                yield event_id, kind, "\n".join(data)
            event_id, kind, data = None, "message", []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "id":
            event_id = value
        elif name == "event":
            kind = value
        elif name == "data":
            data.append(value)
