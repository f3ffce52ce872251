"""A daemon driven in-process one pass at a time (`Daemon.start`, then `step`: what
`Daemon.run` does, without its signals, watcher or loop), on a clock a test chooses."""

from __future__ import annotations

import io
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runner.daemon.eventlog import EventLog
from runner.daemon.service import Daemon
from runner.store import Store, open_store
from runner.system.wakeup import Listener

START = datetime(2026, 1, 5, 10, 0, 30, tzinfo=UTC)


class Harness:
    def __init__(self, root: Path, clock: Any) -> None:
        self.root = root
        self.config = root / "jobs.d"
        self.config.mkdir(exist_ok=True)
        self.home = root / "home"
        self.home.mkdir(exist_ok=True)
        self.clock = clock
        self.out = io.StringIO()
        self.store: Store = open_store(home=self.home)
        self.daemon: Daemon | None = None
        self.listener: Listener | None = None

    def write(self, name: str, text: str) -> None:
        (self.config / name).write_text(textwrap.dedent(text).lstrip("\n"))

    def boot(self) -> Daemon:
        d = Daemon(
            store=self.store,
            home=self.home,
            config=[str(self.config)],
            clock=self.clock,
            log=EventLog(self.clock, stream=self.out),
            max_parallel=4,
            kill_grace=1.0,
        )
        self.listener = Listener(self.home)
        d.start(self.listener)
        self.daemon = d
        return d

    def step(self) -> None:
        assert self.daemon is not None
        self.daemon.step()
        assert "internal-error" not in self.out.getvalue(), self.out.getvalue()

    def close(self) -> None:
        if self.daemon is not None and self.daemon.supervisor is not None:
            sup = self.daemon.supervisor
            sup.kill_everything()
            sup.close()
        if self.listener is not None:
            self.listener.close()
        self.store.close()

    def runs(self, job: str | None = None) -> list[Any]:
        return list(reversed(self.store.history(job=job, limit=1000)))
