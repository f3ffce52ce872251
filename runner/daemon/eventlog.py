"""One line per event on stderr (SPEC 5): human-readable, or JSON lines."""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO

from runner.clock import Clock


class EventLog:
    def __init__(self, clock: Clock, *, fmt: str = "text", stream: TextIO | None = None) -> None:
        self.clock = clock
        self.fmt = fmt
        self.stream = stream or sys.stderr

    def __call__(self, event: str, message: str, **fields: Any) -> None:
        at = self.clock.now()
        stamp = at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"
        if self.fmt == "json":
            data = {"time": stamp, "event": event, "message": message}
            data.update({k: v for k, v in fields.items() if v is not None})
            line = json.dumps(data, default=str)
        else:
            line = f"{stamp} {event:<15} {message}"
        try:
            self.stream.write(line + "\n")
            self.stream.flush()
        except (OSError, ValueError):  # stderr closed: the store keeps the history
            pass
