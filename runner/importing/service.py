"""A systemd service as a job's tasks and settings: `ExecStartPre=`, `ExecStart=` and
`ExecStartPost=` become tasks in that order, `User=`, `Group=`, `Environment=` and
`WorkingDirectory=` the job's fields; what has no counterpart is reported as skipped."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from typing import Any

from runner.importing.names import name_from_command, unique
from runner.importing.result import ImportRefused, Skipped
from runner.importing.unitfile import Setting, values
from runner.spec.types import ACCOUNT_PATTERN, ENV_PATTERN

EXEC_KEYS = ("ExecStartPre", "ExecStart", "ExecStartPost")
# Settings that change nothing for a run that runner starts (a Description is the job's).
_QUIET_KEYS = {("Unit", "Description"), ("Unit", "Documentation")}
_QUIET_VALUES = {("Service", "Type"): {"oneshot", "simple", "exec"}}
_SPECIFIER = re.compile(r"%(.)")
_WHOLE_VARIABLE = re.compile(r"^\$([A-Za-z_][A-Za-z0-9_]*)$")
_BRACED_VARIABLE = re.compile(r"(\$\{[A-Za-z_][A-Za-z0-9_]*\})")
_DOUBLE_QUOTED = re.compile(r'([\\"$`])')  # what a backslash escapes inside "..."
_BOOLEAN_TRUE = {"1", "yes", "y", "true", "t", "on"}


@dataclass
class Service:
    """What a service gives its job."""

    tasks: list[dict[str, Any]] = field(default_factory=list)
    fields: dict[str, Any] = field(default_factory=dict)
    skipped: list[Skipped] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class UnitName:
    """A unit's name parts, for the specifiers `%n`, `%N`, `%p` and `%i`."""

    full: str  # backup@db.service

    def specifier(self, letter: str) -> str | None:
        stem = self.full.rsplit(".", 1)[0]
        prefix, _, instance = stem.partition("@")
        return {"n": self.full, "N": stem, "p": prefix, "i": instance, "%": "%"}.get(letter)


def is_true(value: str) -> bool:
    return value.lower() in _BOOLEAN_TRUE


def read_service(settings: list[Setting], source: str, *, unit: UnitName) -> Service:
    service = Service()
    for key in EXEC_KEYS:
        for setting in values(settings, "Service", key):
            _add_task(service, setting, source=source, unit=unit)
    if not service.tasks:
        raise ImportRefused(f"{source}: no ExecStart=: nothing to run")
    handled = set(EXEC_KEYS)
    for setting in settings:
        if setting.section == "Service" and setting.key in _FIELDS:
            handled.add(setting.key)
            _FIELDS[setting.key](service, setting, source)
    for setting in settings:
        if setting.key not in handled and not is_quiet(setting):
            service.skipped.append(_not_imported(source, setting))
    return service


def is_quiet(setting: Setting) -> bool:
    """Whether leaving `setting` out changes nothing worth a word."""
    where = (setting.section, setting.key)
    if setting.section == "Install" or where in _QUIET_KEYS:
        return True
    return setting.value in _QUIET_VALUES.get(where, set())


def _not_imported(source: str, setting: Setting, why: str = "") -> Skipped:
    reason = why or f"[{setting.section}] {setting.key}= has no counterpart in a runner job"
    return Skipped(source, setting.line, setting.text, reason)


def _add_task(service: Service, setting: Setting, *, source: str, unit: UnitName) -> None:
    prefixes = re.match(r"^[-@:+!]*", setting.value)
    flags = prefixes.group(0) if prefixes else ""
    command = setting.value[len(flags) :]
    where = f"{source}:{setting.line}: {setting.key}="
    if "@" in flags:
        raise ImportRefused(f"{where}: the @ prefix (a different argv[0]) has no counterpart")
    words = _words(_resolved(command, unit, where), where)
    task: dict[str, Any] = {"name": ""}
    if ":" not in flags and any("$" in word for word in words):
        task["run"] = " ".join(_shell_word(word) for word in words)
    else:
        task["argv"] = words
    if "-" in flags:
        task["continueOnError"] = True
    if "+" in flags or "!" in flags:
        why = f"the {flags} prefix (privileges) is not imported; the task runs as the job's user"
        service.skipped.append(_not_imported(source, setting, why))
    taken = [t["name"] for t in service.tasks]
    task["name"] = unique(name_from_command(shlex.join(words)), taken)
    service.tasks.append(task)


def _resolved(command: str, unit: UnitName, where: str) -> str:
    def replace(match: re.Match[str]) -> str:
        value = unit.specifier(match.group(1))
        if value is None:
            raise ImportRefused(f"{where}: the specifier %{match.group(1)} is not imported")
        return value

    return _SPECIFIER.sub(replace, command)


def _words(command: str, where: str) -> list[str]:
    try:
        words = shlex.split(command)
    except ValueError as exc:
        raise ImportRefused(f"{where}: {exc}") from None
    if not words:
        raise ImportRefused(f"{where}: no command")
    return words


def _shell_word(word: str) -> str:
    """A word as sh reads it with systemd's expansion: `$NAME` alone is split at
    whitespace, `${NAME}` is one word wherever it stands, anything else is literal."""
    if "$" not in word:
        return shlex.quote(word)
    if _WHOLE_VARIABLE.match(word):
        return word
    parts = _BRACED_VARIABLE.split(word)  # odd positions are ${NAME}
    quoted = (part if i % 2 else _DOUBLE_QUOTED.sub(r"\\\1", part) for i, part in enumerate(parts))
    return '"' + "".join(quoted) + '"'


def _user(service: Service, setting: Setting, source: str) -> None:
    """User= and Group=; one runner cannot take is refused, not dropped, since the job
    would then run as the daemon's user."""
    if not re.match(ACCOUNT_PATTERN, setting.value):
        where = f"{source}:{setting.line}: {setting.key}={setting.value}"
        raise ImportRefused(f"{where}: not a user or group name runner takes")
    service.fields[setting.key.lower()] = setting.value


def _environment(service: Service, setting: Setting, source: str) -> None:
    env: dict[str, str] = service.fields.setdefault("env", {})
    if not setting.value:
        env.clear()
        return
    for assignment in _words(setting.value, f"{source}:{setting.line}: Environment="):
        name, equals, value = assignment.partition("=")
        if not equals or not re.match(ENV_PATTERN, name):
            why = f'"{assignment}" is not NAME=value with a name runner can set'
            service.skipped.append(_not_imported(source, setting, why))
            continue
        env[name] = value


def _workdir(service: Service, setting: Setting, source: str) -> None:
    path = setting.value.removeprefix("-")
    if not path.startswith("/"):
        why = f'WorkingDirectory="{setting.value}": only an absolute path is imported'
        service.skipped.append(_not_imported(source, setting, why))
        return
    service.fields["workdir"] = path


_FIELDS = {
    "User": _user,
    "Group": _user,
    "Environment": _environment,
    "WorkingDirectory": _workdir,
}
