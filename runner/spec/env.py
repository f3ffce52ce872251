"""Environment values of the job language (SPEC 3): a string, or a value that is never
stored: `{fromEnv: NAME}` (the daemon's environment when the task starts),
`{fromFile: PATH}` (the file's content then) or `{value: V, secret: true}`.

The normalised form keeps the form, never the value: `{fromEnv: NAME}`,
`{fromFile: PATH}`, and for a secret value `{secret: true, digest: D}`, a slow salted
digest that makes a changed secret a change (a new revision) without storing it. The
value itself is read again from the job's file when a run starts (`runner.config.
secrets`), and found there by its digest. Everything that shows a spec (plans, the API)
shows these as `(secret)`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Any

from pydantic import PlainSerializer, PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

from runner.spec.durations import describe
from runner.spec.types import ENV_PATTERN

SHOWN = "(secret)"  # how a value that is never stored shows, everywhere
# Never handed to a task, whatever a job says: the store's URL (and its password) and the
# tokens of the API and of git (SPEC 3).
NEVER_PASSED = frozenset(
    {"RUNNER_STORE", "RUNNER_API_TOKEN", "RUNNER_GIT_TOKEN", "RUNNER_GIT_WEBHOOK_SECRET"}
)
BASE_NAMES = ("PATH", "HOME", "LANG", "TZ", "USER")  # what every task gets of the daemon's
DIGEST_ROUNDS = 20_000  # PBKDF2-SHA256: a stored digest is slow to guess a password from
_NAME = re.compile(ENV_PATTERN)
_FORMS = "a string, {fromEnv: NAME}, {fromFile: PATH} or {value: V, secret: true}"


@dataclass(frozen=True, slots=True)
class FromEnv:
    name: str


@dataclass(frozen=True, slots=True)
class FromFile:
    path: str


@dataclass(frozen=True, slots=True)
class Secret:
    value: str

    def __repr__(self) -> str:  # never in a traceback or a log
        return f"Secret({SHOWN})"


@dataclass(frozen=True, slots=True)
class EnvRef:
    """A normalised value read when the task starts: `source` is `env` (ref: the
    daemon's variable), `file` (ref: the path) or `secret` (ref: the digest)."""

    source: str
    ref: str


def _error(kind: str, message: str, **ctx: Any) -> PydanticCustomError:
    return PydanticCustomError(f"env_{kind}", message, ctx)


def _parse(value: Any) -> str | FromEnv | FromFile | Secret:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float | bool):  # `PORT: 8080`: a string was meant
        raise _error(
            "type",
            'must be a string; got {got} (quote it: "{raw}")',
            got=describe(value),
            raw=value,
        )
    if not isinstance(value, dict):
        raise _error("type", f"must be {_FORMS}; got {{got}}", got=describe(value))
    keys = set(value)
    if keys == {"fromEnv"}:
        name = value["fromEnv"]
        if not isinstance(name, str) or not _NAME.match(name):
            raise _error(
                "name", "fromEnv must name an environment variable; got {got}", got=describe(name)
            )
        return FromEnv(name)
    if keys == {"fromFile"}:
        path = value["fromFile"]
        if not isinstance(path, str) or not path:
            raise _error("path", "fromFile must be a file's path; got {got}", got=describe(path))
        return FromFile(path)
    if keys == {"value", "secret"}:
        return _secret(value["value"], value["secret"])
    keys_text = ", ".join(sorted(map(str, keys))) or "nothing in it"
    raise _error("form", f"must be {_FORMS}; got a mapping with {{keys}}", keys=keys_text)


def _secret(value: Any, secret: Any) -> str | Secret:
    if not isinstance(value, str):  # never echoed, not even an unquoted number
        got = (
            "a mapping"
            if isinstance(value, dict)
            else "a list"
            if isinstance(value, list)
            else ("null" if value is None else "a number or boolean")
        )
        raise _error("value", "value must be a string (quote it); got {got}", got=got)
    if not isinstance(secret, bool):
        raise _error("secret", "secret must be true or false; got {got}", got=describe(secret))
    return Secret(value) if secret else value


def _dump(value: str | FromEnv | FromFile | Secret) -> Any:
    if isinstance(value, FromEnv):
        return {"fromEnv": value.name}
    if isinstance(value, FromFile):
        return {"fromFile": value.path}
    if isinstance(value, Secret):
        return {"value": value.value, "secret": True}
    return value


_SCHEMA = {
    "anyOf": [
        {"type": "string"},
        {
            "type": "object",
            "description": "Read from the daemon's environment when the task starts.",
            "properties": {"fromEnv": {"type": "string", "pattern": ENV_PATTERN}},
            "required": ["fromEnv"],
            "additionalProperties": False,
        },
        {
            "type": "object",
            "description": "The file's content (one trailing newline dropped), read when "
            "the task starts; a relative path is from the job's file.",
            "properties": {"fromFile": {"type": "string", "minLength": 1}},
            "required": ["fromFile"],
            "additionalProperties": False,
        },
        {
            "type": "object",
            "description": "A value written here but never stored or shown: (secret).",
            "properties": {"value": {"type": "string"}, "secret": {"type": "boolean"}},
            "required": ["value", "secret"],
            "additionalProperties": False,
        },
    ]
}

# A value as a file writes it; what a model holds (a secret's value included).
EnvValue = Annotated[
    str | FromEnv | FromFile | Secret,
    PlainValidator(_parse),
    PlainSerializer(_dump),
    WithJsonSchema(_SCHEMA),
]


@lru_cache(maxsize=1024)
def secret_digest(job: str, name: str, value: str) -> str:
    """The digest a secret value is stored as: salted with its job and variable, so
    one password in two places is two digests, and slow, so it is costly to guess."""
    salt = f"runner-env:{job}:{name}".encode()
    return hashlib.pbkdf2_hmac("sha256", value.encode(), salt, DIGEST_ROUNDS).hex()


def normal_env(job: str, env: Mapping[str, Any]) -> dict[str, Any]:
    """A dumped `env` in its normalised form: sorted, a secret as its digest."""
    return {k: _normal_value(job, k, v) for k, v in sorted(env.items())}


def _normal_value(job: str, name: str, value: Any) -> Any:
    if isinstance(value, dict) and value.get("secret") is True and "value" in value:
        return {"secret": True, "digest": secret_digest(job, name, value["value"])}
    return value


def env_entry(value: Any) -> str | EnvRef:
    """A normalised (stored) value as the code above reads it."""
    if isinstance(value, dict):
        if "fromEnv" in value:
            return EnvRef("env", str(value["fromEnv"]))
        if "fromFile" in value:
            return EnvRef("file", str(value["fromFile"]))
        return EnvRef("secret", str(value.get("digest", "")))
    return str(value)


def shown_value(value: Any) -> Any:
    """A normalised value as plans and the API show it: a string as it is, a value
    read when the task starts as `(secret)`, with where it comes from when that is a
    name or a path (no secret in either)."""
    if not isinstance(value, dict):
        return value
    if "fromEnv" in value:
        return f"{SHOWN} from env {value['fromEnv']}"
    if "fromFile" in value:
        return f"{SHOWN} from file {value['fromFile']}"
    return SHOWN


def shown_spec(spec: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A normalised spec as it may be shown: every env value through `shown_value`
    (the job's and each task's); other kinds unchanged."""
    if spec is None:
        return None
    out = dict(spec)
    if isinstance(out.get("env"), dict):
        out["env"] = {k: shown_value(v) for k, v in out["env"].items()}
    if isinstance(out.get("tasks"), list):
        out["tasks"] = [shown_spec(t) if isinstance(t, dict) else t for t in out["tasks"]]
    return out


def is_env_value(path: str) -> bool:
    """Whether a plan's field path (`env.X`, `tasks[load].env.X`) is one env value."""
    head = path.rpartition(".")[0]
    return head == "env" or head.endswith("].env")
