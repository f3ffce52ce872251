"""A crontab command as a task: cron's `%` (standard input) and `SHELL`.

cron runs the command with `$SHELL -c` (default /bin/sh) and, from the first unescaped
`%` on, feeds the rest of the line to its standard input, each further `%` a newline and
`\\%` a literal `%`. runner has no standard-input field, so the input is piped in front of
the command, byte for byte (no newline added at the end, as cron adds none):

    printf '%s' 'the input' | {
    the command
    }

The braces give the input to the whole command (`a; b`), as cron does; the newline
before `}` keeps a trailing `&` or `# comment` of the command from swallowing it.
"""

from __future__ import annotations

import shlex
from typing import Any

DEFAULT_SHELL = "/bin/sh"
# Shells that read the `printf ... | { ...; }` wrapper as sh does.
POSIX_SHELLS = frozenset(
    ["sh", "bash", "dash", "ksh", "ksh93", "mksh", "lksh", "zsh", "ash", "busybox", "yash", "posh"]
)


def split_input(line: str) -> tuple[str, str | None]:
    """The command and its standard input (None without an unescaped `%`), as Vixie
    cron's do_command reads them."""
    command: list[str] = []
    escaped = False
    for i, char in enumerate(line):
        if escaped:
            if char == "%":
                command[-1] = "%"  # `\%` is a literal %, without its backslash
            else:
                command.append(char)
            escaped = False
        elif char == "%":
            return "".join(command), _input(line[i + 1 :])
        else:
            command.append(char)
            escaped = char == "\\"
    return "".join(command), None


def _input(text: str) -> str:
    """What follows the first `%`: `%` is a newline, `\\%` a `%`, other backslashes kept
    (a port of do_command's loop, trailing backslash included)."""
    out: list[str] = []
    escaped = False
    for char in text:
        shown = char
        if escaped:
            if char != "%":
                out.append("\\")
        elif char == "%":
            shown = "\n"
        escaped = shown == "\\"
        if not escaped:
            out.append(shown)
    if escaped:
        out.append("\\")
    return "".join(out)


def shell_name(shell: str) -> str:
    return shell.rstrip("/").rsplit("/", 1)[-1]


def input_refusal(shell: str) -> str | None:
    """Why the `%` input cannot be fed under `shell`, or None."""
    if shell_name(shell) in POSIX_SHELLS:
        return None
    return (
        f"SHELL={shell} with % (standard input): runner feeds the input with sh syntax; "
        "write the task by hand"
    )


def task_fields(command: str, *, stdin: str | None, shell: str) -> dict[str, Any]:
    """`run` (under /bin/sh) or `argv` (`[SHELL, -c, ...]`) for the command."""
    script = command
    if stdin is not None:
        script = f"printf '%s' {shlex.quote(stdin)} | {{\n{command}\n}}"
    if shell == DEFAULT_SHELL:
        return {"run": script}
    return {"argv": [shell, "-c", script]}
