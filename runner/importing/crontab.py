"""Crontabs as jobs: a user's crontab, `/etc/crontab` and `/etc/cron.d` files (with a
user column after the times).

Lines are read as Vixie cron reads them: blank lines and `#` comments, `NAME=value`
environment lines that apply to the entries below them, and entries (5 time fields or a
macro, then the command). Each entry becomes one job with one task. runner's cron
(cronsim) already has Vixie cron's meaning, day-of-month OR day-of-week when both are
restricted (AND when either starts with `*`) and Debian cron's clock changes included, so
the time fields are kept as written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from runner.errors import UsageError
from runner.importing.command import (
    DEFAULT_SHELL,
    input_refusal,
    split_input,
    task_fields,
)
from runner.importing.names import name_from_command, unique
from runner.importing.result import Imported, ImportedJob, Skipped
from runner.spec.models import API_VERSION
from runner.spec.schedules import MACROS, cron_error, timezone_error
from runner.spec.types import ACCOUNT_PATTERN, ENV_PATTERN

_ENV_LINE = re.compile(
    r"""^(?:"(?P<dq>[^"]*)"|'(?P<sq>[^']*)'|(?P<name>[^\s='"]+))[ \t]*=[ \t]*(?P<value>.*)$"""
)
_TIMES = re.compile(r"^([^ \t]+)[ \t]+([^ \t]+)[ \t]+([^ \t]+)[ \t]+([^ \t]+)[ \t]+([^ \t]+)(.*)$")
_MACRO = re.compile(r"^(@[^ \t]*)(.*)$")
_WORD = re.compile(r"^[ \t]*([^ \t]+)(?:[ \t]+(.*))?$")
_USER_NAME = re.compile(ACCOUNT_PATTERN)


@dataclass
class _Scope:
    """What the lines above an entry set: cron applies them to the entries below."""

    zone: str
    env: dict[str, str] = field(default_factory=dict)
    shell: str = DEFAULT_SHELL
    mailto: str | None = None
    zone_problem: str | None = None
    jitter: str | None = None
    comments: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Entry:
    cron: str
    user: str | None
    command: str


def import_crontab(
    text: str, *, source: str, system: bool | None = None, timezone: str | None = None
) -> Imported:
    """The jobs of a crontab. `system`: whether entries have a user column (None: from
    the path, else from the entries); `timezone`: the host's zone (default UTC)."""
    if timezone is not None and (problem := timezone_error(timezone)):
        raise UsageError(f"--timezone: {problem}")
    lines = list(enumerate(text.replace("\r\n", "\n").split("\n"), start=1))
    has_users, how = _user_column([line for _, line in lines], source, system)
    reader = _Reader(source, has_users, _Scope(zone=timezone or "UTC"))
    for number, line in lines:
        reader.read(number, line)
    return Imported(
        source=source,
        jobs=tuple(reader.jobs),
        skipped=tuple(reader.skipped),
        notes=(how, _zone_note(timezone)),
    )


def _zone_note(timezone: str | None) -> str:
    if timezone is None:
        return (
            "times are read in UTC: the host's time zone was not given (--timezone); "
            "CRON_TZ lines override it"
        )
    return f"times are read in {timezone} (--timezone); CRON_TZ lines override it"


def _user_column(lines: list[str], source: str, forced: bool | None) -> tuple[bool, str]:
    """Whether entries name a user after the times, and how that was decided: the flag,
    else the path (/etc/crontab, a cron.d folder), else every entry has a user name
    there and at least one is root (a command named root is unlikely)."""
    if forced is not None:
        return forced, "read " + ("with" if forced else "without") + " a user column (--system)"
    path = PurePosixPath(source)
    if source == "/etc/crontab" or path.parent.name == "cron.d":
        return True, "read as a system crontab (a user column after the times), from its path"
    words = [_user_and_command(line) for line in lines if _is_entry(line)]
    named = [w[0] for w in words if w is not None and _USER_NAME.match(w[0])]
    if words and len(named) == len(words) and "root" in named:
        return True, (
            "read as a system crontab: every entry names a user after the times, "
            "root among them (--no-system reads it without)"
        )
    return False, "read as a user crontab: no user column (--system if it has one)"


def _is_entry(line: str) -> bool:
    text = line.strip()
    return bool(text) and not text.startswith("#") and not _ENV_LINE.match(text)


def _times_and_rest(line: str) -> tuple[str, str] | None:
    """The schedule (5 fields, or a macro) and what follows it."""
    text = line.lstrip(" \t")
    if text.startswith("@"):
        macro = _MACRO.match(text)
        return (macro.group(1), macro.group(2)) if macro else None
    times = _TIMES.match(text)
    if times is None:
        return None
    return " ".join(times.groups()[:5]), times.group(6)


def _user_and_command(line: str) -> tuple[str, str] | None:
    parts = _times_and_rest(line)
    word = _WORD.match(parts[1]) if parts else None
    if word is None or not word.group(2):
        return None
    return word.group(1), word.group(2)


class _Reader:
    """Reads a crontab line by line, keeping the scope of environment lines and the
    comments just above the next entry."""

    def __init__(self, source: str, has_users: bool, scope: _Scope) -> None:
        self.source = source
        self.has_users = has_users
        self.scope = scope
        self.jobs: list[ImportedJob] = []
        self.skipped: list[Skipped] = []

    def read(self, number: int, line: str) -> None:
        text = line.strip()
        if not text:
            self.scope.comments.clear()
        elif text.startswith("#"):
            self.scope.comments.append(re.sub(r"^#+ ?", "", text).rstrip())
        else:
            env = _ENV_LINE.match(text)
            if env:
                self._set(number, line, env)
            else:
                self._entry(number, line)
            self.scope.comments.clear()

    def skip(self, number: int, line: str, reason: str) -> None:
        self.skipped.append(Skipped(self.source, number, line, reason))

    def _set(self, number: int, line: str, env: re.Match[str]) -> None:
        name = env.group("dq") or env.group("sq") or env.group("name") or ""
        value = _unquoted(env.group("value").rstrip(" \t"))
        problem = _set_scope(self.scope, name, value)
        if problem:
            self.skip(number, line, problem)

    def _entry(self, number: int, line: str) -> None:
        entry_or_reason = self._parse(line)
        if isinstance(entry_or_reason, str):
            self.skip(number, line, entry_or_reason)
            return
        entry = entry_or_reason
        command, stdin = split_input(entry.command)
        refusal = input_refusal(self.scope.shell) if stdin is not None else None
        if refusal or self.scope.zone_problem:
            self.skip(number, line, refusal or self.scope.zone_problem or "")
            return
        name = unique(name_from_command(command), (job.name for job in self.jobs))
        task = {"name": name, **task_fields(command, stdin=stdin, shell=self.scope.shell)}
        document = _document(self.scope, name=name, cron=entry.cron, user=entry.user, task=task)
        self.jobs.append(ImportedJob(document, f"{self.source}:{number}", line.strip()))

    def _parse(self, line: str) -> _Entry | str:
        """The entry on `line`, or why it is skipped."""
        parts = _times_and_rest(line)
        if parts is None:
            return "not an entry: 5 time fields (or a macro) and a command"
        times, rest = parts
        cron, problem = _cron(times)
        if problem:
            return problem
        user: str | None = None
        if self.has_users:
            word = _WORD.match(rest)
            if word is None or not word.group(2):
                return "no command after the user name (a system crontab has a user column)"
            user, rest = word.group(1), word.group(2)
            if not _USER_NAME.match(user):
                return f'"{user}" is not a user name runner takes (the user column)'
        command = rest.lstrip(" \t")  # the rest of the line, as cron keeps it
        if not command.strip():
            return "no command after the times"
        return _Entry(cron, user, command)


def _cron(times: str) -> tuple[str, str | None]:
    """The cron expression for `times` (a macro spelt out), and why it is skipped."""
    if times.lower() == "@reboot":
        return times, "@reboot runs when cron starts; runner has no boot trigger"
    if times.startswith("@"):
        if times.lower() not in MACROS:
            return times, f'"{times}" is not a cron macro runner knows'
        return MACROS[times.lower()], None
    return times, cron_error(times)


def _unquoted(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def _set_scope(scope: _Scope, name: str, value: str) -> str | None:
    """Apply an environment line to the scope; why it is skipped, or None."""
    if name == "MAILTO":
        scope.mailto = value
    elif name == "CRON_TZ":
        scope.zone_problem = timezone_error(value)
        if scope.zone_problem:
            scope.zone_problem = f"CRON_TZ above: {scope.zone_problem}"
        else:
            scope.zone = value
    elif name == "RANDOM_DELAY":
        if not value.isdigit():
            return "RANDOM_DELAY must be a whole number of minutes"
        scope.jitter = f"{int(value)}m" if int(value) else None
    elif not re.match(ENV_PATTERN, name):
        return f'"{name}" is not an environment name runner can set'
    else:
        scope.env[name] = value
        if name == "SHELL":
            scope.shell = value or DEFAULT_SHELL
    return None


def _document(
    scope: _Scope, *, name: str, cron: str, user: str | None, task: dict[str, Any]
) -> dict[str, Any]:
    """The job: cron's own behaviour spelt out (overlapping runs allowed, nothing caught
    up after downtime), its environment, and the user column as `user`."""
    schedule: dict[str, Any] = {"cron": cron, "timezone": scope.zone}
    schedule.update(overlap="allow", catchup="none")
    if scope.jitter:
        schedule["jitter"] = scope.jitter
    document: dict[str, Any] = {"apiVersion": API_VERSION, "kind": "Job", "name": name}
    description = _description(scope)
    if description:
        document["description"] = description
    document["schedule"] = schedule
    if user is not None:
        document["user"] = user
    if scope.env:
        document["env"] = dict(scope.env)
    if scope.env.get("HOME"):
        document["workdir"] = scope.env["HOME"]  # cron starts commands in $HOME
    document["tasks"] = [task]
    return document


def _description(scope: _Scope) -> str | None:
    lines = list(scope.comments)
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    if scope.mailto is not None:
        lines.append(
            f"cron mailed the output to {scope.mailto} (MAILTO); runner keeps it in the run's log"
            if scope.mailto
            else "cron mailed nothing (MAILTO was empty)"
        )
    return "\n".join(lines) or None
