"""Job and task names made from commands: `/usr/local/bin/backup.sh --full` is `backup`,
`cd /srv && php artisan schedule:run` is `artisan`. Names follow the spec's rule (1 to 63
lowercase letters, digits, `.`, `_` or `-`, a letter or digit at each end) and are made
unique with `-2`, `-3`, ..."""

from __future__ import annotations

import re
from collections.abc import Iterable

MAX_NAME = 63
# Shell operators between the commands of a line: each part may hold the program.
_PARTS = re.compile(r"&&|\|\||[;|&()`{}]")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
# Commands that run another command: the name is that other command's.
_WRAPPERS = frozenset({
    "nice", "ionice", "nohup", "chronic", "cronic", "flock", "lckdo", "timeout", "sudo", "env",
    "time", "exec", "command", "setsid", "run-one", "stdbuf",
})  # fmt: skip
_WRAPPER_ARGUMENT = frozenset({"flock", "lckdo", "timeout"})  # a lock file, a duration
_OPTION_ARGUMENT = frozenset({"-u", "-g"})  # sudo -u USER
# Builtins that set the scene rather than do the work (`cd /srv && ./run.sh`).
_SCENERY = frozenset({
    "cd", "test", "[", "[[", "true", "false", ":", "sleep", "export", "set", "source", ".",
    "if", "then", "else",
})  # fmt: skip
# Interpreters and launchers: the job is named after the script they run.
_INTERPRETER = re.compile(
    r"^(sh|bash|dash|zsh|ksh|python|perl|php|ruby|node|rscript|run-parts)[0-9.]*$"
)
_SCRIPT_SUFFIX = re.compile(r"\.(sh|bash|py|pl|php|rb|js)$")
_NOT_ALLOWED = re.compile(r"[^a-z0-9._-]+")


def slug(text: str) -> str:
    """`text` as a name: lowercase, other characters as `-`, at most 63 characters."""
    name = _NOT_ALLOWED.sub("-", text.lower())
    name = re.sub(r"-{2,}", "-", name)
    name = _trim(name[:MAX_NAME])
    return name or "job"


def _trim(name: str) -> str:
    return re.sub(r"^[^a-z0-9]+|[^a-z0-9]+$", "", name)


def name_from_command(command: str) -> str:
    """A name for the job that runs `command`: its program, or the script that program
    runs; `job` when nothing in it looks like one."""
    for part in _PARTS.split(command):
        words = _unwrapped(part.split())
        if words and _base(words[0]) not in _SCENERY:
            return slug(_SCRIPT_SUFFIX.sub("", _named_word(words)))
    return "job"


def _base(word: str) -> str:
    return word.rstrip("/").rsplit("/", 1)[-1]


def _unwrapped(words: list[str]) -> list[str]:
    """`words` from the program on: assignments, wrappers and their options dropped."""
    i = 0
    while i < len(words):
        if _ASSIGNMENT.match(words[i]):
            i += 1
        elif _base(words[i]) in _WRAPPERS:
            wrapper = _base(words[i])
            i = _after_options(words, i + 1)
            if wrapper in _WRAPPER_ARGUMENT and i < len(words):
                i += 1
        else:
            break
    return words[i:]


def _after_options(words: list[str], i: int) -> int:
    while i < len(words) and (
        words[i].startswith("-") or words[i].isdigit() or _ASSIGNMENT.match(words[i])
    ):
        i += 2 if words[i] in _OPTION_ARGUMENT else 1
    return i


def _named_word(words: list[str]) -> str:
    """The program's name, or for an interpreter the script it runs (its first argument
    that is neither an option nor a redirection)."""
    program = _base(words[0])
    if not _INTERPRETER.match(program):
        return program
    for word in words[1:]:
        if not word.startswith(("-", "<", ">", "$")) and ">" not in word:
            return _base(word) or program
    return program


def unique(name: str, taken: Iterable[str]) -> str:
    """`name`, or `name-2`, `name-3`, ... (shortened to fit 63) if it is taken."""
    used = set(taken)
    if name not in used:
        return name
    n = 2
    while True:
        suffix = f"-{n}"
        candidate = _trim(name[: MAX_NAME - len(suffix)]) + suffix
        if candidate not in used:
            return candidate
        n += 1
