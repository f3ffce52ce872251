"""Task logs: one file per attempt, under the runner's home (SPEC 3, 9).

`<home>/logs/<job>/<run id>/<task>.<attempt>.log`, holding the task's stdout and
stderr as it wrote them, interleaved. The child writes to the file itself, so a task's
output never passes through the runner's memory. Logs are named by a key relative to
the home (what the store records), and everything that reads or prunes them goes
through `LogFiles`, so that they can live elsewhere later (the store, an object store).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path


class LogFiles:
    def __init__(self, home: str | os.PathLike[str]) -> None:
        self.home = Path(home)

    def key(self, job: str, run_id: int, task: str, attempt: int) -> str:
        return f"logs/{job}/{run_id}/{task}.{attempt}.log"

    def open_for_attempt(self, key: str) -> int:
        """A file descriptor to give the task as stdout and stderr (close it after)."""
        path = self.home / key
        path.parent.mkdir(parents=True, exist_ok=True)
        # Truncated: a run id seen again (the same home used with another store) starts
        # a fresh log rather than appending to an old one.
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND | os.O_CLOEXEC
        return os.open(path, flags, 0o640)

    def path(self, key: str) -> Path:
        return self.home / key

    def exists(self, key: str) -> bool:
        return (self.home / key).exists()

    def size(self, key: str) -> int:
        try:
            return (self.home / key).stat().st_size
        except FileNotFoundError:
            return 0

    def read_chunks(self, key: str, offset: int = 0, chunk: int = 1 << 16) -> Iterator[bytes]:
        """The log from `offset`, in chunks, without holding it all in memory."""
        try:
            with open(self.home / key, "rb") as handle:
                handle.seek(offset)
                while block := handle.read(chunk):
                    yield block
        except FileNotFoundError:
            return

    def remove_run(self, job: str, run_id: int) -> None:
        shutil.rmtree(self.home / "logs" / job / str(run_id), ignore_errors=True)

    def runs_with_logs(self, job: str) -> list[int]:
        folder = self.home / "logs" / job
        try:
            return [int(p.name) for p in folder.iterdir() if p.name.isdigit()]
        except OSError:  # no folder yet (or something else in its place)
            return []
