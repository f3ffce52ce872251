"""A git remote as the configuration's source (`runner daemon --git URL`): a clone of its
own under the home, fetched, and moved to the branch's new head only forward (history
can be rewritten, and an older commit must never replace a newer one unless the
operator says so with --allow-rewind).

The `git` program does the work. Credentials come from the environment or an SSH key
file, never from the command line: `RUNNER_GIT_TOKEN` (with `RUNNER_GIT_USER`, default
`git`) answers an HTTPS server's question through a credential helper that reads the
environment, and `--git-ssh-key` (or `RUNNER_GIT_SSH_KEY`) is given to ssh. Neither is
ever in an argument, a log line or an error: every message is passed through
`strip_credentials` and a token found in it is masked."""

from __future__ import annotations

import hashlib
import os
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

from runner.config.origin import strip_credentials
from runner.errors import RunnerError

FETCH_TIMEOUT = 300.0
LOCAL_TIMEOUT = 60.0
TOKEN_ENV, USER_ENV, KEY_ENV = "RUNNER_GIT_TOKEN", "RUNNER_GIT_USER", "RUNNER_GIT_SSH_KEY"
# Reads the token from the environment when git asks; the token is in no argument.
_HELPER = (
    '!f() { test "$1" = get || exit 0; echo "username=${RUNNER_GIT_USER:-git}"; '
    'echo "password=$RUNNER_GIT_TOKEN"; }; f'
)


def _has_password(url: str) -> bool:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return bool(parts.scheme and parts.password)


class GitError(RunnerError):
    code = "git"


@dataclass(frozen=True, slots=True, kw_only=True)
class GitSource:
    url: str
    branch: str | None  # None: the remote's default branch
    path: str  # the configuration folder within the repository
    clone: Path  # where the daemon keeps its clone (under its home)
    ssh_key: str | None = None

    @classmethod
    def under(
        cls, home: Path, url: str, *, branch: str | None, path: str, ssh_key: str | None
    ) -> GitSource:
        """The source of `url`, cloned under `home/git/` (one clone per URL)."""
        if _has_password(url):
            raise GitError(
                f"--git {strip_credentials(url)}: a password or token in the URL would show "
                f"in the process list; put it in the environment ({TOKEN_ENV}) instead"
            )
        name = hashlib.sha256(url.encode()).hexdigest()[:16]
        clean = os.path.normpath(path or ".")
        if clean.startswith("..") or os.path.isabs(clean):
            raise GitError(f'--path "{path}": give a folder inside the repository')
        return cls(
            url=url, branch=branch, path=clean, clone=home.resolve() / "git" / name, ssh_key=ssh_key
        )

    @property
    def shown_url(self) -> str:
        return strip_credentials(self.url)

    @property
    def folder(self) -> Path:
        """The configuration folder in the clone: what the daemon applies and watches."""
        return self.clone / self.path

    def fetch(self) -> str:
        """Fetch the branch (cloning first if there is no clone yet); its head's hash."""
        if not (self.clone / ".git").is_dir():
            self.clone.parent.mkdir(parents=True, exist_ok=True)
            self._run("init", "-q", str(self.clone), cwd=self.clone.parent, timeout=LOCAL_TIMEOUT)
            self._git("config", "advice.detachedHead", "false")
        ref = self.branch or "HEAD"
        self._git("fetch", "--quiet", "--no-tags", self.url, ref, timeout=FETCH_TIMEOUT)
        return self._git("rev-parse", "--verify", "FETCH_HEAD^{commit}")

    def checked_out(self) -> str | None:
        """The commit the clone's files are at (None before the first checkout)."""
        try:
            return self._git("rev-parse", "--verify", "-q", "HEAD")
        except GitError:
            return None

    def descends(self, old: str, new: str) -> bool:
        """Whether `new` is `old` or comes after it (False: a rewind, or `old` is unknown
        to the clone, as after a force-push that dropped it)."""
        try:
            self._git("merge-base", "--is-ancestor", old, new)
        except GitError:
            return False
        return True

    def unsigned(self, commit: str, allowed_signers: str) -> str | None:
        """Why `commit` is not signed by a key of the allowed-signers file (SSH keys, as
        `ssh-keygen -Y verify` reads them), or None when it is."""
        try:
            self._git(
                "-c", f"gpg.ssh.allowedSignersFile={allowed_signers}", "verify-commit", commit
            )
        except GitError as exc:
            why = exc.message.removeprefix("git verify-commit failed: ")
            return "it carries no signature" if why == "no reason given" else why
        return None

    def checkout(self, commit: str) -> None:
        """Move the files to `commit`, on a local branch named as the remote's (so that
        `runner status` names it); files the commit lacks are removed."""
        self._git("checkout", "--quiet", "--force", "-B", self.branch or "main", commit)
        self._git("clean", "-q", "-d", "-f", "-x")
        self._git("config", "remote.origin.url", self.shown_url)  # for the recorded origin

    def _git(self, *args: str, timeout: float = LOCAL_TIMEOUT) -> str:
        return self._run("-C", str(self.clone), *args, cwd=None, timeout=timeout)

    def _run(self, *args: str, cwd: Path | None, timeout: float) -> str:
        command = ["git", "-c", f"credential.helper={_HELPER}", *args]
        try:
            done = subprocess.run(
                command,
                cwd=cwd,
                capture_output=True,
                text=True,
                timeout=timeout,
                env=self._env(),
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise GitError(f"git {args[0]} of {self.shown_url} took over {timeout:g}s") from None
        except OSError as exc:
            raise GitError(f"cannot run git: {exc.strerror or exc}; install git") from None
        if done.returncode != 0:
            what = " ".join(a for a in args if not a.startswith("-") and a != str(self.clone))
            raise GitError(f"git {what} failed: {self._masked(done.stderr)}")
        return done.stdout.strip()

    def _env(self) -> dict[str, str]:
        env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
        key = self.ssh_key or os.environ.get(KEY_ENV)
        if key:
            env["GIT_SSH_COMMAND"] = (
                f"ssh -i {shlex.quote(key)} -o IdentitiesOnly=yes -o BatchMode=yes "
                "-o StrictHostKeyChecking=accept-new"
            )
        return env

    def _masked(self, text: str) -> str:
        """git's own words, without the URL's credentials or the token."""
        out = text.strip().replace(self.url, self.shown_url)
        token = os.environ.get(TOKEN_ENV)
        if token:
            out = out.replace(token, "***")
        lines = [line.removeprefix("fatal: ").removeprefix("error: ") for line in out.splitlines()]
        return "; ".join(line for line in lines if line) or "no reason given"
