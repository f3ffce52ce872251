"""The error root and exit codes.

Everything a user can cause (a bad file, an unknown job, a refused action, a held lock)
raises a `RunnerError`; the CLI's one handler prints its message on stderr as
`error: ...` and exits with its code. Anything else is a bug.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    ERROR = 1
    USAGE = 2
    CHANGES = 2  # `plan --detailed-exitcode`: changes present (as Terraform)


class RunnerError(Exception):
    """A problem the user can fix; `message` is one line naming the thing.

    `code` is stable (`job-disabled`, `run-ended`, `not-found`): the CLI prints the
    message, the HTTP API maps the code to a status, and tests assert the code, not the
    wording. Each subclass sets its own; a refusal may pass a more exact one.
    """

    exit_code: int = ExitCode.ERROR
    code: str = "error"

    def __init__(
        self, message: str, *, exit_code: int | None = None, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        if exit_code is not None:
            self.exit_code = exit_code
        if code is not None:
            self.code = code


class ConfigError(RunnerError):
    """The configuration cannot be used (a folder that does not exist, say)."""

    code = "config-error"


class NotFound(RunnerError):
    """An unknown job, run, task, hold or log."""

    code = "not-found"


class UsageError(RunnerError):
    """Arguments that cannot be right whatever the state (an unknown `--state`, say)."""

    exit_code = ExitCode.USAGE
    code = "usage"
