"""API tokens (SPEC 7): named, with a role, kept in a file as SHA-256 hashes only
(`tokens: [{name, role, sha256}]`), and `RUNNER_API_TOKEN` as one admin token. A token is
shown once, when it is made; it is compared in constant time and never logged.

`runner token add NAME --role R`, `runner token list` and `runner token revoke NAME`
keep the file; the daemon reads it when it starts, and again at the first request after
it changed."""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from runner.errors import NotFound, RunnerError, UsageError

ROLES = ("read", "operate", "admin")  # each may do what the ones before it may
ENV_TOKEN = "RUNNER_API_TOKEN"
ENV_NAME = "env"  # the name RUNNER_API_TOKEN's token goes by (in the audit, say)
log = logging.getLogger("runner.api")
_NAME = re.compile(r"^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$")


class TokenFileError(RunnerError):
    code = "token-file"


@dataclass(frozen=True, slots=True)
class Token:
    name: str
    role: str

    def may(self, role: str) -> bool:
        """Whether this token's role includes `role`."""
        return ROLES.index(self.role) >= ROLES.index(role)


@dataclass(frozen=True, slots=True)
class _Entry:
    token: Token
    sha256: bytes


class TokenSet:
    """The tokens the API accepts: the file's, read again when it changes (so that
    `runner token revoke` takes effect at the next request), and the env's."""

    def __init__(
        self, entries: list[_Entry], path: Path | None = None, env: str | None = None
    ) -> None:
        self._entries = entries
        self._path, self._env = path, env
        self._seen = _signature(path)

    @classmethod
    def load(cls, path: Path | None, env: str | None = None) -> TokenSet:
        """The tokens of the file at `path` (none: no file), and `env`'s one admin token."""
        return cls(_entries(path, env), path, env)

    def __bool__(self) -> bool:
        return bool(self._entries)

    def _fresh(self) -> list[_Entry]:
        """The entries, read again first if the file changed since. A file that became
        unreadable keeps the tokens read before (logged), rather than letting no one or
        anyone in."""
        now = _signature(self._path)
        if now != self._seen:
            self._seen = now
            try:
                self._entries = _entries(self._path, self._env)
                log.info("the API read its token file %s again", self._path)
            except TokenFileError as exc:
                log.warning("%s; the tokens read before stay in force", exc.message)
        return self._entries

    def verify(self, secret: str) -> Token | None:
        """The token `secret` is, or None. Every entry is compared, in constant time, so
        the time taken says nothing of which one matched or how much of it."""
        digest = _digest(secret)
        found = None
        for entry in self._fresh():
            if hmac.compare_digest(digest, entry.sha256) and found is None:
                found = entry.token
        return found


def _entries(path: Path | None, env: str | None) -> list[_Entry]:
    entries = [_Entry(Token(t["name"], t["role"]), bytes.fromhex(t["sha256"])) for t in read(path)]
    if env:
        entries.append(_Entry(Token(ENV_NAME, "admin"), _digest(env)))
    return entries


def _signature(path: Path | None) -> tuple[int, int, int] | None:
    """What changes when the file is rewritten (`_write` replaces it: a new inode)."""
    if path is None:
        return None
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def add(path: Path, name: str, role: str) -> str:
    """A new token named `name` with `role`, saved hashed; the token itself, shown once."""
    if not _NAME.match(name):
        raise UsageError(f'token name "{name}": 1 to 63 lowercase letters, digits, ".", "_", "-"')
    if role not in ROLES:
        raise UsageError(f'unknown role "{role}": one of {", ".join(ROLES)}')
    tokens = read(path)
    if any(t["name"] == name for t in tokens):
        raise RunnerError(
            f"a token named {name} exists in {path}: `runner token revoke {name}` first",
            code="token-exists",
        )
    secret = "rnr_" + secrets.token_urlsafe(32)
    tokens.append({"name": name, "role": role, "sha256": _digest(secret).hex()})
    _write(path, tokens)
    return secret


def revoke(path: Path, name: str) -> None:
    tokens = read(path)
    kept = [t for t in tokens if t["name"] != name]
    if len(kept) == len(tokens):
        raise NotFound(f"no token named {name} in {path}: `runner token list` lists them")
    _write(path, kept)


def read(path: Path | None) -> list[dict[str, Any]]:
    """The file's tokens (names, roles, hashes); none when there is no file."""
    if path is None or not path.exists():
        return []
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise TokenFileError(f"cannot read the token file {path}: {exc}") from None
    tokens = data.get("tokens") if isinstance(data, dict) else None
    if not isinstance(tokens, list):
        raise TokenFileError(f"{path}: expected `tokens: [{{name, role, sha256}}]`")
    for i, t in enumerate(tokens):
        ok = (
            isinstance(t, dict)
            and isinstance(t.get("name"), str)
            and t.get("role") in ROLES
            and isinstance(t.get("sha256"), str)
            and re.fullmatch(r"[0-9a-f]{64}", t["sha256"]) is not None
        )
        if not ok:
            raise TokenFileError(
                f"{path}: tokens[{i}] needs a name, a role ({', '.join(ROLES)}) and the "
                "sha256 of the token in hex; `runner token add` writes them"
            )
    return list(tokens)


def _write(path: Path, tokens: list[dict[str, Any]]) -> None:
    """Replace the file at once, readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as out:
            yaml.safe_dump({"tokens": tokens}, out, sort_keys=False)
        os.chmod(temp, 0o600)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()
