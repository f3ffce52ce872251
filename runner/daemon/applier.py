"""The daemon's applies, each in a child process forked for it.

Planning 10,000 files builds a few hundred MB of short-lived objects; in the daemon's
own process that heap stays with it (freed, but fragmented) for as long as it runs. A
child forked for the apply takes it with it when it exits, so the daemon keeps only
what it holds: its job table (SPEC 5's footprint).

The child shares nothing with the daemon's store connections: it drops its copies of
the pool without closing them and opens its own. It is forked from the loop's thread
between two passes, when no transaction is open. What it did comes back over a pipe as
one JSON document; a child that dies says nothing, and the apply counts as failed.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import resource
import signal
import traceback
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime

from runner.errors import RunnerError
from runner.plan import Action
from runner.reconciler import apply_config
from runner.runs.afterwards import start_new_manual_jobs
from runner.store import StaleStore, Store, StoreError
from runner.store.lock import LockHeld


class ApplyFailed(Exception):
    """An apply that could not be made: the store failed, or a bug (`status`)."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(slots=True)
class Outcome:
    """What an apply did, as the daemon logs it."""

    status: str  # applied | busy (lock held, store moved) | refused | store-error | failed
    message: str = ""
    findings: list[tuple[bool, str]] = field(default_factory=list)  # (is an error, text)
    added: int = 0
    changed: int = 0
    deleted: int = 0
    unchanged: int = 0
    skipped_files: list[str] = field(default_factory=list)
    written: bool = False
    generation: int = 0
    names: list[str] = field(default_factory=list)  # the jobs and holds the plan changed
    started: list[tuple[str, int]] = field(default_factory=list)  # start-once runs made
    peak_mb: float = 0.0  # the child's peak resident size (what the apply took)
    pid: int = 0  # the child, still saving the file cache: `finish` waits for it

    @property
    def counts(self) -> str:
        return (
            f"{self.added} added, {self.changed} changed, {self.deleted} deleted, "
            f"{self.unchanged} unchanged"
        )


def apply_here(
    config: Sequence[str], store: Store, *, now: datetime, origin: str
) -> tuple[Outcome, Callable[[], None]]:
    """Apply the folder in this process (what the child runs); what it did, and what is
    left to do once that is said (save the file cache)."""
    try:
        applied = apply_config(config, store, now=now, origin=origin, defer_cache=True)
    except LockHeld as busy:
        return Outcome("busy", busy.message), _nothing
    except StaleStore:
        return Outcome("busy", "another apply wrote meanwhile"), _nothing
    except StoreError as failed:
        return Outcome("store-error", failed.message), _nothing
    except RunnerError as refused:
        return Outcome("refused", refused.message), _nothing
    result, plan = applied.result, applied.plan
    assert result is not None
    outcome = Outcome(
        "applied",
        findings=[(f.is_error, f.text()) for f in result.config.diagnostics],
        added=plan.count(Action.ADD),
        changed=plan.count(Action.CHANGE),
        deleted=plan.count(Action.DELETE),
        unchanged=plan.unchanged,
        skipped_files=list(applied.skipped_files),
        written=applied.written,
        generation=applied.generation,
        names=sorted({c.name for c in plan.changes}),
        started=start_new_manual_jobs(store, plan, now=now),
    )
    return outcome, lambda: result.save_cache(store)


def _nothing() -> None:
    pass


def apply_forked(config: Sequence[str], store: Store, *, now: datetime, origin: str) -> Outcome:
    """Apply the folder in a child process; what it did, once the child has said it
    (`finish` then waits for the child's end)."""
    read_end, write_end = os.pipe2(os.O_CLOEXEC)
    gc.freeze()  # the daemon's objects out of the child's collections (and copies)
    pid = -1
    try:
        try:
            pid = os.fork()
        except OSError as exc:
            os.close(read_end)
            os.close(write_end)
            return Outcome("failed", f"cannot start a process to apply the folder: {exc}")
        if pid == 0:  # the child: never returns
            os.close(read_end)
            gc.disable()  # short-lived: its garbage goes with it
            _child(write_end, config, store, now=now, origin=origin)
    finally:
        if pid != 0:
            gc.unfreeze()
    os.close(write_end)
    chunks = []
    with os.fdopen(read_end, "rb") as pipe:
        while chunk := pipe.read(1 << 16):
            chunks.append(chunk)
    if not chunks:
        status = _wait(pid)
        how = (
            f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
            if os.WIFSIGNALED(status)
            else f"exit code {os.waitstatus_to_exitcode(status)}"
        )
        return Outcome("failed", f"the process applying the folder ended ({how}) saying nothing")
    try:
        found = json.loads(b"".join(chunks))
    except ValueError:  # cut short: it died while saying it
        _wait(pid)
        return Outcome("failed", "the process applying the folder died while reporting")
    found["findings"] = [tuple(f) for f in found["findings"]]
    found["started"] = [tuple(s) for s in found["started"]]
    found["pid"] = pid
    return Outcome(**found)


def finish(outcome: Outcome) -> None:
    """Wait for the child of an apply that has said what it did (it saves the file
    cache meanwhile: housekeeping, which the change applied did not wait for)."""
    if outcome.pid:
        _wait(outcome.pid)
        outcome.pid = 0


def _child(fd: int, config: Sequence[str], store: Store, *, now: datetime, origin: str) -> None:
    code = 0
    try:
        # The daemon's connections are its own: forget them here without closing them.
        store.forget_connections()
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the daemon handles Ctrl-C
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        after: Callable[[], None] = _nothing
        try:
            outcome, after = apply_here(config, store, now=now, origin=origin)
        except Exception as exc:  # a bug: said in the daemon's log with its traceback
            outcome = Outcome(
                "failed", f"{type(exc).__name__}: {exc}\n{traceback.format_exc().rstrip()}"
            )
        outcome.peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6
        data = json.dumps(asdict(outcome)).encode()
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.close(fd)  # said: the daemon goes on while the cache is saved
        with contextlib.suppress(Exception):  # a cache not saved is read again next time
            after()
    except BaseException:  # nothing may escape into the daemon's code in this process
        code = 70
    finally:
        os._exit(code)


def _wait(pid: int) -> int:
    return os.waitpid(pid, 0)[1]
