"""Task logs: one file per attempt, under the runner's home (SPEC 3, 9).

`<home>/logs/<job>/<run id>/<task>.<attempt>.log`, holding the task's stdout and
stderr as it wrote them, interleaved. Logs are named by a key relative to the home (what
the store records), and everything that reads or prunes them goes through `LogFiles`,
so that they can live elsewhere later (the store, an object store).

Every folder and file under the home is reached without following a link
(`runner.system.safefs`), so a link planted there never makes runner write, read or
delete another file. With a cap (`max_size`, the default), the task writes into a pipe
that `logcap` copies into the file, keeping the head and the tail; without one, the
child writes to the file itself.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from runner.executors.logcap import DEFAULT_MAX_LOG_SIZE, PUMP
from runner.system import safefs


class LogFiles:
    def __init__(
        self, home: str | os.PathLike[str], *, max_size: int | None = DEFAULT_MAX_LOG_SIZE
    ) -> None:
        self.home = Path(home)
        self.max_size = max_size  # bytes of each attempt's log; None: no cap

    def key(self, job: str, run_id: int, task: str, attempt: int) -> str:
        return f"logs/{job}/{run_id}/{task}.{attempt}.log"

    def open_for_attempt(self, key: str) -> int:
        """A file descriptor to give the task as stdout and stderr (close it after)."""
        *parts, name = Path(key).parts
        if not self.home.exists():
            safefs.make_home(self.home)
        with safefs.folder(self.home, parts, create=True) as dir_fd:
            # A fresh file: a run id seen again (the same home used with another store)
            # starts a new log, and whatever was at that name (a link) is left alone.
            fd = safefs.create_fresh(dir_fd, name)
            if self.max_size is None:
                return fd
            try:
                return PUMP.attach(key, fd, os.dup(dir_fd), self.max_size)
            except BaseException:
                os.close(fd)
                raise

    def settle(self, key: str) -> None:
        """The task of `key` has ended: what it wrote is in the file when this returns."""
        PUMP.settle(key)

    def path(self, key: str) -> Path:
        return self.home / key

    def exists(self, key: str) -> bool:
        info = safefs.lstat_in(self.home, key)
        return info is not None and stat.S_ISREG(info.st_mode)

    def size(self, key: str) -> int:
        info = safefs.lstat_in(self.home, key)
        return info.st_size if info is not None and stat.S_ISREG(info.st_mode) else 0

    def read_chunks(self, key: str, offset: int = 0, chunk: int = 1 << 16) -> Iterator[bytes]:
        """The log from `offset`, in chunks, without holding it all in memory (nothing
        when it is missing, or a link is in its place)."""
        try:
            fd = safefs.open_in(self.home, key, os.O_RDONLY | os.O_NONBLOCK)
        except OSError:
            return
        with contextlib.closing(os.fdopen(fd, "rb")) as handle:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return
            handle.seek(offset)
            while block := handle.read(chunk):
                yield block

    def remove_run(self, job: str, run_id: int) -> None:
        safefs.remove_tree(self.home, ["logs", job, str(run_id)])

    def runs_with_logs(self, job: str) -> list[int]:
        """The runs of `job` with a log folder (none when `logs/JOB` is not a folder)."""
        return [int(n) for n in safefs.list_folder(self.home, ["logs", job]) if n.isdigit()]
