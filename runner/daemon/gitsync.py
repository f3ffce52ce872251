"""`runner daemon --git URL`: keep the configuration folder at the remote branch's head.

A thread fetches every `interval` (at once when a push webhook wakes it), and moves the
clone's files to a new head only when it descends from the commit there (a force-push
is refused unless --allow-rewind) and applying is not suspended. The daemon's folder
watch then sees the files change and applies them, as any edit of the folder: a commit
with bad files is applied per file, its origin recorded as the commit.

What was fetched, and why a head was not taken, is kept in the store (`meta` "git"), so
`runner status` shows drift without a network call of its own."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import datetime

from runner.clock import Clock
from runner.config.gitsource import GitError, GitSource
from runner.daemon.eventlog import EventLog
from runner.store import Store, StoreError
from runner.store.configuration import GIT_META

INTERVAL = 60.0


@dataclass(frozen=True, slots=True, kw_only=True)
class GitOptions:
    url: str
    branch: str | None = None
    path: str = "."
    interval: float = INTERVAL
    allow_rewind: bool = False
    ssh_key: str | None = None
    webhook_secret: str | None = None  # for POST /v1/hooks/git
    allowed_signers: str | None = None  # --verify-signatures: only heads signed so


class GitSync:
    """The fetching thread, a `Service` of the daemon."""

    def __init__(
        self,
        source: GitSource,
        options: GitOptions,
        *,
        store: Store,
        log: EventLog,
        clock: Clock,
        wake: threading.Event | None = None,
    ) -> None:
        self.source, self.options = source, options
        self.store, self.log, self.clock = store, log, clock
        self._wake = wake or threading.Event()  # set by the webhook: fetch now
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="git-sync", daemon=True)
        self._said: str | None = None  # the last refusal logged (said once per head)

    # --- before the daemon starts: the first checkout ----------------------------------

    def first_checkout(self) -> None:
        """Fetch and take the head before the daemon's first apply (a clone kept from
        before stays where it is when the fetch fails: the daemon runs what it had)."""
        try:
            self.sync()
        except GitError:
            if self.source.checked_out() is None:
                raise
            self.log("git-failed", "fetching failed; the clone's files are used")

    # --- Service -------------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        self._thread.join(timeout=10)

    def describe(self) -> str:
        branch = self.source.branch or "its default branch"
        return (
            f"git sync of {self.source.shown_url} ({branch}, {self.source.path}) every "
            f"{self.options.interval:g}s"
        )

    def fetch_now(self) -> None:
        """A push was announced (the webhook): fetch at once."""
        self._wake.set()

    # --- the thread ------------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(self.options.interval)
            self._wake.clear()
            if self._stopping.is_set():
                return
            try:
                self.sync()
            except (GitError, StoreError) as exc:
                self.log("git-failed", f"{exc}; tried again in {self.options.interval:g}s")
            except Exception as exc:  # a bug: said, and the loop goes on
                self.log("git-failed", f"{type(exc).__name__}: {exc}")

    def sync(self) -> None:
        """One fetch, and the new head taken if it may be."""
        head = self.source.fetch()
        here = self.source.checked_out() or self._applied()
        refused = None
        if head != here:
            refused = self._refusal(here, head)
            if refused is None:
                self.source.checkout(head)
                self.log(
                    "git-checkout",
                    f"{self.source.shown_url}: {_short(here)} -> {_short(head)}; applying it",
                )
                here = head
            elif refused != self._said:
                self.log("git-held", refused)
        self._said = refused
        self._record(head, here, refused)

    def _applied(self) -> str | None:
        """The commit of this remote applied last (a clone removed keeps its place)."""
        last = self.store.reconciles(1)
        source = (last[0].get("source") or {}) if last else {}
        if source.get("remote") == self.source.shown_url:
            return source.get("commit")
        return None

    def _refusal(self, here: str | None, head: str) -> str | None:
        """Why the head is not taken now, or None."""
        suspended = self.store.suspension()
        if suspended is not None:
            return (
                f"head {_short(head)} fetched, not applied: applying is suspended by "
                f"{suspended.get('by')}: {suspended.get('reason')} (`runner resume`)"
            )
        signers = self.options.allowed_signers
        unsigned = self.source.unsigned(head, signers) if signers else None
        if unsigned is not None:
            return (
                f"head {_short(head)} is not signed by a key of {signers} ({unsigned}): "
                "not applied (--verify-signatures)"
            )
        if here is not None and not self.source.descends(here, head):
            if self.options.allow_rewind:
                self.log(
                    "git-rewind",
                    f"{_short(head)} does not descend from {_short(here)}: taken (--allow-rewind)",
                )
                return None
            return (
                f"head {_short(head)} does not descend from {_short(here)} (a force-push "
                "or a rewind): not applied; the daemon runs on "
                f"{_short(here)}; restart it with --allow-rewind to take it"
            )
        return None

    def _record(self, head: str, here: str | None, refused: str | None) -> None:
        state = {
            "url": self.source.shown_url,
            "branch": self.source.branch,
            "path": self.source.path,
            "head": head,
            "checked_out": here,
            "fetched": _stamp(self.clock.now()),
            "held": refused,
        }
        self.store.set_meta(GIT_META, json.dumps(state))


def _short(commit: str | None) -> str:
    return commit[:7] if commit else "nothing"


def _stamp(at: datetime) -> str:
    from runner.spec.types import format_timestamp

    return format_timestamp(at)
