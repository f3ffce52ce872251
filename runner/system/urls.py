"""URLs as they may be shown: never with a password or token (SPEC 3, issue 17). The
store's URL (`--store`, RUNNER_STORE) and a git remote's may carry one; whatever prints
a URL, or a command line that holds one, passes it through here first."""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import urlsplit, urlunsplit

HIDDEN = "***"
# scheme://user:password@ or scheme://token@ inside any text (a command line, a message)
_CREDENTIALS = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<who>[^/@\s]*)@")


def strip_credentials(url: str) -> str:
    """The URL without a password or token (`https://user:token@host/r.git` ->
    `https://host/r.git`); an scp-like `git@host:repo.git` is kept (no secret in it)."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc or "@" not in parts.netloc:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def redact_url(text: str) -> str:
    """`text` with the password of every URL in it hidden, the user kept
    (`postgresql://runner:s3cret@db/jobs` -> `postgresql://runner:***@db/jobs`): the user
    helps whoever reads the message, the password never does. An http(s) URL loses its
    whole user part, where git hosts take a token."""
    return _CREDENTIALS.sub(_hide, text)


def _hide(found: re.Match[str]) -> str:
    scheme = found["scheme"]
    if scheme.lower().startswith("http"):  # https://TOKEN@host: a token in the user's place
        return f"{scheme}{HIDDEN}@"
    user, colon, _ = found["who"].partition(":")
    return f"{scheme}{user}:{HIDDEN}@" if colon else found[0]


def redact_argv(argv: Sequence[str]) -> list[str]:
    """A command line as it may be shown to other users: every URL's password hidden
    (`--store postgresql://u:pw@h/db`, `--store=...`), and a `--token` value too."""
    out: list[str] = []
    hide_next = False
    for arg in argv:
        if hide_next:
            out.append(HIDDEN)
            hide_next = False
            continue
        if arg == "--token":
            hide_next = True
        elif arg.startswith("--token="):
            arg = f"--token={HIDDEN}"
        out.append(redact_url(arg))
    return out
