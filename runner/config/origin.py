"""Where a configuration comes from: the git commit of the folder (its branch, whether
files under it differ from the commit, the remote's URL without credentials), and who
applies it from which host. Every apply records it; `plan` and `status` show it.

The `git` program answers (it is on every machine that has a checkout); a folder outside
a work tree, or a machine without git, has no commit, and that is said, not an error."""

from __future__ import annotations

import getpass
import os
import socket
import subprocess
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

# kept importable from here, where it was first written
from runner.system.urls import strip_credentials as strip_credentials

GIT_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Origin:
    commit: str | None = None  # the full hash of HEAD
    branch: str | None = None  # None: detached HEAD, or no git
    dirty: int = 0  # files under the folder that differ from the commit (or are new)
    remote: str | None = None  # the branch's remote (or origin), credentials stripped
    user: str = ""
    host: str = ""

    @property
    def short(self) -> str | None:
        return self.commit[:7] if self.commit else None

    def describe(self) -> str:
        """`3f2a9c1 (main, clean)`, `3f2a9c1 (main, 2 files changed)`, or `not in git`."""
        if not self.commit:
            return "not a git work tree"
        state = "clean" if not self.dirty else f"{self.dirty} file(s) changed"
        return f"{self.short} ({self.branch or 'detached'}, {state})"

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Origin | None:
        if not data:
            return None
        return cls(
            **{k: data.get(k) for k in ("commit", "branch", "remote")},
            dirty=int(data.get("dirty") or 0),
            user=data.get("user") or "",
            host=data.get("host") or "",
        )


def origin_of(paths: Sequence[str | os.PathLike[str]]) -> Origin:
    """The origin of the configuration at `paths` (the first one's work tree)."""
    user, host = _user(), socket.gethostname()
    folder = os.fspath(paths[0]) if paths else "."
    if not os.path.isdir(folder):
        folder = os.path.dirname(folder) or "."
    commit = _git(folder, "rev-parse", "--verify", "-q", "HEAD")
    if commit is None:
        return Origin(user=user, host=host)
    branch = _git(folder, "symbolic-ref", "-q", "--short", "HEAD")
    status = _git(folder, "status", "--porcelain", "--untracked-files=all", "--", ".") or ""
    return Origin(
        commit=commit,
        branch=branch,
        dirty=len([line for line in status.splitlines() if line.strip()]),
        remote=_remote(folder, branch),
        user=user,
        host=host,
    )


def _remote(folder: str, branch: str | None) -> str | None:
    name = _git(folder, "config", f"branch.{branch}.remote") if branch else None
    url = _git(folder, "remote", "get-url", name or "origin")
    return strip_credentials(url) if url else None


def _git(folder: str, *args: str) -> str | None:
    """What `git -C folder ARGS` prints, or None when it fails (or there is no git)."""
    try:
        done = subprocess.run(
            ["git", "-C", folder, *args],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT,
            env={**os.environ, "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"},
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    out = done.stdout.strip()
    return out if done.returncode == 0 and out else None


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.geteuid())
