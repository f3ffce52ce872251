"""The command line: parse options, call one function below, render its result.

Subcommands are imported only when they are invoked, so `runner --help` stays fast.
"""

from __future__ import annotations

import importlib
import sys
import traceback
from typing import Any

import click

from runner import __version__
from runner.errors import ExitCode, RunnerError

COMMANDS: dict[str, tuple[str, str]] = {
    "validate": ("runner.cli.validate", "Check the files: every error, at its file and line."),
    "plan": ("runner.cli.plan", "Show what apply would change, field by field."),
    "apply": ("runner.cli.apply", "Apply the configuration (or a saved plan) to the store."),
    "daemon": ("runner.cli.daemon", "Apply the folder, watch it, and run what is due."),
    "jobs": ("runner.cli.jobs", "List the applied jobs: mode, schedule, next run, source."),
    "run": ("runner.cli.execute", "Run a job now: queued to the daemon, or here if none runs."),
    "status": ("runner.cli.status", "A run's tasks, a job's schedule and holds, or the state."),
    "schedule": ("runner.cli.schedule", "Next fire times of a cron, interval or job, with DST."),
    "history": ("runner.cli.history", "Runs, newest first, by job, time range and state."),
    "tasks": ("runner.cli.tasks", "The last run of every task of a job."),
    "logs": ("runner.cli.logs", "The output of a run's tasks; --follow while it runs."),
    "cancel": ("runner.cli.cancel", "Cancel a run: stop its tasks, or discard it if not started."),
    "finish": ("runner.cli.finish", "Finish a waiting or stopped task (or --reject it)."),
    "stop": ("runner.cli.stop", "Stop a running task: it waits for finish, retry or cancel."),
    "retry": ("runner.cli.retry", "Run a run again, keeping what succeeded (same run id)."),
    "hold": ("runner.cli.hold", "Place a runtime hold on a job, its tasks, or jobs by label."),
    "release": ("runner.cli.release", "End runtime holds (a held job's runs start)."),
    "suspend": ("runner.cli.suspend", "Stop applying new configurations (runs go on)."),
    "resume": ("runner.cli.resume", "Apply again after suspend: what changed meanwhile."),
    "audit": ("runner.cli.audit", "Who did what: actions, holds and releases, by user."),
    "token": ("runner.cli.token", "API tokens: add, list, revoke (kept hashed)."),
    "store": ("runner.cli.store", "The state store: check its integrity, back it up."),
    "schema": ("runner.cli.schema", "Print the JSON Schema of a job file, for editors."),
    "import": ("runner.cli.importing", "Turn crontabs and systemd timers into job files."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module = importlib.import_module(COMMANDS[cmd_name][0])
        command: click.Command = module.command
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="runner")
def cli() -> None:
    """runner: jobs, schedules, task order and holds as YAML in git.

    Check the files with `runner validate`, see what a commit changes with
    `runner plan`, make it so with `runner apply`.
    """


def main(argv: list[str] | None = None) -> None:
    from runner.system.safefs import private_umask

    private_umask()  # the home, logs and plans are the user's only, whatever the umask
    sys.exit(run(argv))


def run(argv: list[str] | None = None) -> int:
    """Run a command and return its exit code; the one place errors are turned into text."""
    try:
        result: Any = cli.main(args=argv, prog_name="runner", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except RunnerError as exc:
        click.echo(f"error: {exc.message}", err=True)
        return exc.exit_code
    except BrokenPipeError:
        sys.stderr.close()  # the reader went away (`runner ... | head`)
        return ExitCode.ERROR
    except Exception:  # a bug, not a user's mistake
        traceback.print_exc()
        click.echo("runner hit a bug; please report it with the traceback above.", err=True)
        return 70
    return result if isinstance(result, int) else ExitCode.OK
