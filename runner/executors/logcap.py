"""The cap on a task's log (issue 17): past it, the log keeps its head and its tail.

A task writes into a pipe; one thread (the `Pump`) copies every running task's pipe into
its log file, in chunks of up to 1 MiB. The first half of the cap goes into the log as
it comes, so `runner logs --follow` shows it live. Past it, a line says so, and the
output goes round a ring file the size of the other half (no directory entry: an
`O_TMPFILE`), so memory stays one chunk whatever the task prints. When the output ends,
a line saying how many bytes were dropped is written, then the ring, oldest first: the
log only ever grows, which is what `--follow` expects. The run is not failed for it.

When all reads were short (a task printing a line now and then), the pump waits 2 ms
before it looks again, so a chatty task's many small writes are read a batch at a time
rather than one wake-up each.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import os
import re
import select
import threading
import time
import traceback

DEFAULT_MAX_LOG_SIZE = 100 * 1024 * 1024  # 100 MiB a task attempt
MIN_LOG_SIZE = 4096
CHUNK = 1 << 20
# Asked for each pipe (the default is 64 KiB): big enough that a fast task's output is
# read in few passes, small enough that many tasks stay within the user's pipe budget
# (fs.pipe-user-pages-soft, 64 MiB), past which the kernel shrinks every new pipe.
PIPE_SIZE = 1 << 18
COALESCE = 0.002
IDLE_EXIT = 5.0  # the pump's thread ends after this long with no task to copy for
NOTES = 512  # bytes of the cap kept for the two lines runner writes into a cut log
_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1000, "kib": 1024, "m": 1024**2, "mb": 1000**2}
_UNITS |= {"mib": 1024**2, "g": 1024**3, "gb": 1000**3, "gib": 1024**3, "tb": 1000**4}
_UNITS |= {"t": 1024**4, "tib": 1024**4}


def parse_size(text: str) -> int | None:
    """A size (`100MB`, `1GiB`, `512k`, a bare number of bytes), or None for
    `unlimited`. ValueError, with what to write, when it is none of these."""
    if text.strip().lower() in ("unlimited", "none"):
        return None
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", text)
    unit = _UNITS.get(found.group(2).lower()) if found else None
    if found is None or unit is None:
        raise ValueError(f'"{text}" is not a size: write 100MB, 512KiB, 1GiB or unlimited')
    size = int(float(found.group(1)) * unit)
    if size < MIN_LOG_SIZE:
        raise ValueError(f'"{text}" is too small for a log cap: {MIN_LOG_SIZE} bytes at least')
    return size


def shown(size: int) -> str:
    for unit, name in ((1024**3, "GiB"), (1024**2, "MiB"), (1024, "KiB")):
        if size >= unit:
            return f"{size / unit:.1f} {name}"
    return f"{size} bytes"


class CappedLog:
    """One attempt's log file with its cap: the head written as it comes, the tail in a
    ring until the output ends (`finish`)."""

    def __init__(self, fd: int, dir_fd: int, cap: int) -> None:
        self.fd, self.dir_fd, self.cap = fd, dir_fd, cap
        self.head_cap = (cap - NOTES) // 2
        self.tail_cap = cap - NOTES - self.head_cap
        self.head = 0  # bytes of output in the head
        self.tail = 0  # bytes of output past the head, the ring holding the last of them
        self.ring = -1
        self.ends_line = True
        self.broken: str | None = None  # why the log cannot be written (a full disk)

    def take(self, data: bytes | memoryview) -> None:
        view = memoryview(data)
        room = self.head_cap - self.head
        if room > 0:
            self._write(view[:room])
            self.head += min(room, len(view))
            view = view[room:]
        if not view:
            return
        if self.ring < 0:
            cut = f"the output passed this log's cap ({shown(self.cap)}): its middle is dropped"
            self._write(self._line(f"{cut}, its last {shown(self.tail_cap)} follow when it ends"))
            try:
                self.ring = self._open_ring()
            except OSError as exc:
                self.broken = self.broken or exc.strerror or str(exc)
        if self.ring >= 0:
            self._into_ring(view)
        else:
            self.tail += len(view)

    def _line(self, text: str) -> bytes:
        return (b"" if self.ends_line else b"\n") + f"[runner: {text}]\n".encode()

    def _write(self, data: bytes | memoryview) -> None:
        if self.broken or not data:
            return
        last = bytes(memoryview(data)[-1:])
        try:
            while data:
                data = memoryview(data)[os.write(self.fd, data) :]
        except OSError as exc:
            self.broken = exc.strerror or str(exc)
            return
        self.ends_line = last == b"\n"

    def _open_ring(self) -> int:
        try:
            return os.open(".", os.O_TMPFILE | os.O_RDWR | os.O_CLOEXEC, 0o600, dir_fd=self.dir_fd)
        except OSError:  # a file system without O_TMPFILE: a named file, unlinked at once
            name = f".ring-{os.getpid()}-{id(self)}"
            fd = os.open(
                name,
                os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                0o600,
                dir_fd=self.dir_fd,
            )
            os.unlink(name, dir_fd=self.dir_fd)
            return fd

    def _into_ring(self, view: memoryview) -> None:
        total = len(view)
        kept = view[-self.tail_cap :]
        at = (self.tail + total - len(kept)) % self.tail_cap
        first = min(self.tail_cap - at, len(kept))
        try:
            os.pwrite(self.ring, kept[:first], at)
            if len(kept) > first:
                os.pwrite(self.ring, kept[first:], 0)
        except OSError as exc:
            self.broken = exc.strerror or str(exc)
        self.tail += total

    def finish(self) -> None:
        """The output ended: the line on what was dropped, then the tail, in order."""
        if self.ring >= 0:
            kept = min(self.tail, self.tail_cap)
            dropped = self.tail - kept
            kept_part = f"the log keeps the first {self.head} and the last {kept} bytes"
            self._write(self._line(f"{dropped} bytes dropped here ({shown(dropped)}); {kept_part}"))
            oldest = self.tail % self.tail_cap if self.tail > self.tail_cap else 0
            self._copy_ring(oldest, kept - oldest)
            self._copy_ring(0, oldest)
            os.close(self.ring)
        if self.broken:
            self.broken, why = None, self.broken
            self._write(self._line(f"the log is incomplete: {why}"))
        os.close(self.fd)
        os.close(self.dir_fd)

    def _copy_ring(self, start: int, length: int) -> None:
        end = start + length
        while start < end and not self.broken:
            try:
                block = os.pread(self.ring, min(CHUNK, end - start), start)
            except OSError as exc:
                self.broken = exc.strerror or str(exc)
                return
            if not block:
                return
            self._write(block)
            start += len(block)


class _Sink:
    """A running attempt's pipe and its log; `drain` is called by the pump's thread and
    by the executor (`settle`), one at a time."""

    def __init__(self, key: str, read_fd: int, log: CappedLog) -> None:
        self.key, self.read_fd, self.log = key, read_fd, log
        self.lock = threading.Lock()
        self.done = False  # the output ended and the log is finished
        self.closed = False  # the pipe is closed (by the pump, under its lock)
        try:
            self.pipe_size = fcntl.fcntl(read_fd, fcntl.F_GETPIPE_SZ)
        except OSError:
            self.pipe_size = 1 << 16

    def drain(self, limit: int) -> tuple[int, bool]:
        """Copy what the pipe holds (up to `limit` bytes): how much, and whether the
        output has ended (every writer closed it), the log then finished."""
        got = 0
        with self.lock:
            while not self.done and got < limit:
                try:
                    data = os.read(self.read_fd, CHUNK)
                except BlockingIOError:
                    break
                if not data:
                    self._end()
                    break
                self.log.take(data)
                got += len(data)
            return got, self.done

    def _end(self) -> None:
        self.done = True
        self.log.finish()


class Pump:
    """Copies every capped log's pipe into its file, on one thread started when a task
    starts and ended when none has run for a while."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pid = os.getpid()
        self.epoll = select.epoll()
        self.by_fd: dict[int, _Sink] = {}
        self.by_key: dict[str, _Sink] = {}
        self.thread: threading.Thread | None = None

    def attach(self, key: str, log_fd: int, dir_fd: int, cap: int) -> int:
        """The write end of a pipe whose output goes into `log_fd` with `cap`; the pump
        owns `log_fd` and `dir_fd` from here on."""
        read_fd, write_fd = os.pipe2(os.O_CLOEXEC)
        os.set_blocking(read_fd, False)
        with contextlib.suppress(OSError):  # over the user's pipe budget: the default size
            fcntl.fcntl(read_fd, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
        sink = _Sink(key, read_fd, CappedLog(log_fd, dir_fd, cap))
        with self.lock:
            self.by_fd[read_fd] = sink
            self.by_key[key] = sink
            self.epoll.register(read_fd, select.EPOLLIN)
            if self.thread is None:
                self.thread = threading.Thread(target=self._loop, name="log-pump", daemon=True)
                self.thread.start()
        return write_fd

    def settle(self, key: str) -> None:
        """Everything written to `key`'s pipe so far is in its file (and, when every
        writer is gone, the log is finished): a task has ended, its log is read next."""
        sink = self.by_key.get(key)
        if sink is not None and sink.drain(4 * CHUNK)[1]:
            self._forget(sink)

    def _forget(self, sink: _Sink) -> None:
        with self.lock:
            if sink.closed:
                return
            sink.closed = True
            if self.by_key.get(sink.key) is sink:
                del self.by_key[sink.key]
            del self.by_fd[sink.read_fd]
            self.epoll.unregister(sink.read_fd)
            os.close(sink.read_fd)

    def _loop(self) -> None:
        idle_since = time.monotonic()
        while True:
            events = self.epoll.poll(IDLE_EXIT)
            busy = False
            for fd, _ in events:
                sink = self.by_fd.get(fd)
                if sink is None:
                    continue
                try:
                    got, ended = sink.drain(CHUNK)
                except Exception:  # a bug: say so, and close the pipe rather than block the task
                    traceback.print_exc()
                    got, ended = 0, True
                busy = busy or got >= sink.pipe_size
                if ended:
                    self._forget(sink)
            if events:
                idle_since = time.monotonic()
            with self.lock:
                if not self.by_fd and time.monotonic() - idle_since >= IDLE_EXIT:
                    self.thread = None
                    return
            if events and not busy:
                time.sleep(COALESCE)

    def finish_all(self) -> None:
        """At exit: every log finished with what its pipe holds, writers or not."""
        if os.getpid() != self.pid:
            return
        for sink in list(self.by_key.values()):
            sink.drain(4 * CHUNK)
            with sink.lock:
                if not sink.done:
                    sink._end()
            self._forget(sink)


PUMP = Pump()


def _new_pump_in_child() -> None:
    # A forked child (the daemon's apply) must not touch the parent's logs or locks.
    global PUMP
    PUMP = Pump()


os.register_at_fork(after_in_child=_new_pump_in_child)
atexit.register(lambda: PUMP.finish_all())
