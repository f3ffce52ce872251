"""A task's defined environment (SPEC 3), not the daemon's: a small base and the names
the job passes through, taken from the daemon's environment; the job's and the task's
`env`, with the values that are never stored read now; then the run's `--env`.

`RUNNER_STORE` and the API and git tokens are never handed on, whatever a job says. A
value that cannot be read (a variable not set, a file missing, a secret no longer in
the job's file) fails the attempt with the reason, as a command that is not found does.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

from runner.domain.jobs import EnvValues
from runner.executors.process import SpawnFailed
from runner.spec.env import BASE_NAMES, NEVER_PASSED, EnvRef

CANNOT_SET = 126  # the exit code of an attempt whose environment could not be made
MAX_FILE = 1024 * 1024  # a fromFile larger than this is no environment value


class EnvUnresolved(SpawnFailed):
    def __init__(self, reason: str) -> None:
        super().__init__(reason, CANNOT_SET)


def base_env(daemon: Mapping[str, str], passthrough: Iterable[str] = ()) -> dict[str, str]:
    """What every task gets of the daemon's environment: PATH (the system's default
    when the daemon has none), HOME, LANG, TZ and USER, and the job's `envPassthrough`,
    less the names that are never passed on."""
    names = [*BASE_NAMES, *passthrough]
    out = {n: daemon[n] for n in names if n in daemon and n not in NEVER_PASSED}
    out.setdefault("PATH", os.defpath)
    return out


def resolve(
    env: EnvValues,
    *,
    daemon: Mapping[str, str],
    folder: str,
    secrets: Mapping[str, str],
    source: str | None,
) -> dict[str, str]:
    """`env` with every value read: `fromEnv` from the daemon's environment, `fromFile`
    (relative to `folder`, the job file's) from the file, a secret from `secrets` (its
    digest to its value, read from the job's file `source` when the run was ordered)."""
    out: dict[str, str] = {}
    for name, value in env.items():
        out[name] = (
            value if isinstance(value, str) else _read(name, value, daemon, folder, secrets, source)
        )
    return out


def _read(
    name: str,
    ref: EnvRef,
    daemon: Mapping[str, str],
    folder: str,
    secrets: Mapping[str, str],
    source: str | None,
) -> str:
    if ref.source == "env":
        if ref.ref in NEVER_PASSED or ref.ref not in daemon:
            why = "is never passed on" if ref.ref in NEVER_PASSED else "is not set"
            raise EnvUnresolved(f"env {name}: {ref.ref} {why} in the daemon's environment")
        return daemon[ref.ref]
    if ref.source == "file":
        return _file(name, os.path.join(folder, os.path.expanduser(ref.ref)))
    if ref.ref in secrets:
        return secrets[ref.ref]
    raise EnvUnresolved(
        f"env {name}: its secret value is no longer in {source or 'the job file'} as applied "
        "(the file changed, moved or cannot be read since): apply the file again"
    )


def _file(name: str, path: str) -> str:
    """A file's content as a value: text, one trailing newline dropped (what an editor
    or `echo` leaves), as `$(cat FILE)` in a shell would."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_FILE + 1)
    except OSError as exc:
        raise EnvUnresolved(f"env {name}: cannot read {path}: {exc.strerror or exc}") from None
    if len(raw) > MAX_FILE:
        raise EnvUnresolved(f"env {name}: {path} is over 1 MiB: no environment value")
    if b"\0" in raw:
        raise EnvUnresolved(f"env {name}: {path} holds a NUL byte: no environment value")
    text = raw.decode("utf-8", errors="surrogateescape")
    return text[:-2] if text.endswith("\r\n") else text.removesuffix("\n")
