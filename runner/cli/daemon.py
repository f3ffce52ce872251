"""`runner daemon`: apply the folder, watch it, run what is due (SPEC 5)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from runner.cli.common import duration
from runner.cli.logsize import max_log_size_option
from runner.cli.options import home_option, store_option, watched_config_option
from runner.errors import ExitCode
from runner.ops.daemon import DEBOUNCE, GRACE


@click.command("daemon")
@watched_config_option
@home_option
@store_option
@click.option(
    "--max-parallel",
    type=click.IntRange(min=1),
    default=None,
    help="Tasks running at once (default: the number of CPUs).",
)
@max_log_size_option
@click.option(
    "--grace",
    default=f"{GRACE:g}s",
    show_default=True,
    help="On SIGTERM, how long running tasks get to end before SIGKILL.",
)
@click.option(
    "--debounce",
    default=f"{DEBOUNCE * 1000:g}ms",
    show_default=True,
    help="How long changes in the folder must settle before they are applied (100ms, 1s).",
)
@click.option(
    "--api",
    "api",
    default=None,
    metavar="HOST:PORT",
    help="Serve the HTTP API there (127.0.0.1:8080); tokens: --api-tokens, RUNNER_API_TOKEN.",
)
@click.option(
    "--api-tokens",
    "api_tokens",
    default=None,
    envvar="RUNNER_API_TOKENS",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The token file `runner token add` keeps (default: HOME/api-tokens.yaml).",
)
@click.option(
    "--git",
    "git_url",
    default=None,
    metavar="URL",
    help="Sync the configuration from this git remote (a clone under the home); "
    "credentials from RUNNER_GIT_TOKEN or an SSH key, never in the URL.",
)
@click.option("--branch", default=None, help="The branch --git follows (default: the remote's).")
@click.option(
    "--path", "git_path", default=".", show_default=True, help="The folder of jobs in the repo."
)
@click.option(
    "--interval",
    default="1m",
    show_default=True,
    help="How often --git fetches (a push webhook, POST /v1/hooks/git, fetches at once).",
)
@click.option(
    "--allow-rewind",
    is_flag=True,
    help="Take a head that does not descend from the one applied (a force-push).",
)
@click.option(
    "--verify-signatures",
    "allowed_signers",
    default=None,
    metavar="FILE",
    type=click.Path(dir_okay=False, exists=True),
    help="Apply only heads signed by a key of this allowed-signers file (SSH keys).",
)
@click.option(
    "--git-ssh-key",
    default=None,
    envvar="RUNNER_GIT_SSH_KEY",
    type=click.Path(dir_okay=False),
    help="The SSH private key for --git (env RUNNER_GIT_SSH_KEY).",
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="One line per event on stderr: text, or JSON lines.",
)
def command(
    config: str,
    home: str,
    store_url: str | None,
    max_parallel: int | None,
    max_log_size: int | None,
    grace: str,
    debounce: str,
    api: str | None,
    api_tokens: Path | None,
    git_url: str | None,
    branch: str | None,
    git_path: str,
    interval: str,
    allow_rewind: bool,
    allowed_signers: str | None,
    git_ssh_key: str | None,
    log_format: str,
) -> int:
    """Run the scheduler: apply the folder, re-apply on every change, run what is due.

    SIGTERM or Ctrl-C stops it: no new starts, running tasks get --grace to end;
    SIGHUP re-applies the folder. With --git, the folder is a clone of the remote's
    branch under the home, fetched every --interval and moved forward only.
    """
    import os

    from runner.ops.common import Home
    from runner.ops.daemon import DaemonOptions, GitOptions, git_folder, serve

    where = Home(Path(home), store_url)
    git = None
    if git_url:
        git = GitOptions(
            url=git_url,
            branch=branch,
            path=git_path,
            interval=duration(interval, "--interval"),
            allow_rewind=allow_rewind,
            ssh_key=git_ssh_key,
            allowed_signers=os.path.abspath(allowed_signers) if allowed_signers else None,
            webhook_secret=os.environ.get("RUNNER_GIT_WEBHOOK_SECRET") or None,
        )
        config = git_folder(where, git)
    options = DaemonOptions(
        config=config,
        max_parallel=max_parallel,
        max_log_size=max_log_size,
        grace=duration(grace, "--grace"),
        debounce=_millis(debounce),
        log_format=log_format,
        git=git,
    )
    if api:
        options.services.append(_api(where, api, api_tokens, config, options))
    serve(where, options)
    return ExitCode.OK


def _api(home: Any, address: str, tokens_file: Path | None, config: str, options: Any) -> Any:
    """The HTTP API's server; without a token it listens on the loopback only."""
    import os

    from runner.api.app import create_app
    from runner.api.server import ApiServer, loopback, parse_address
    from runner.errors import UsageError
    from runner.ops.tokens import ENV_TOKEN, TokenSet

    host, port = parse_address(address)
    from runner.cli.token import TOKENS_FILE

    default = Path(home.path) / TOKENS_FILE
    tokens = TokenSet.load(tokens_file or default, os.environ.get(ENV_TOKEN))
    if not tokens and not loopback(host):
        raise UsageError(
            f"--api {address}: no API token is configured, so the API listens on a loopback "
            "address only; add one (`runner token add NAME --role admin`, then "
            "--api-tokens FILE, or RUNNER_API_TOKEN)"
        )
    from runner.ops.common import Home
    from runner.store import open_store

    # one store for every request (opening one per request costs more than most requests)
    shared = Home(home.path, home.store_url, open_store(home=home.path, url=home.store_url))
    app = create_app(shared, tokens, config=[config])
    if options.git is not None and options.git.webhook_secret:
        app.state.git_hook = (options.git.webhook_secret, options.git_wake.set)
    return ApiServer(app, host, port)


def _millis(text: str) -> float:
    if text.endswith("ms") and text[:-2].isdigit():
        return int(text[:-2]) / 1000
    return duration(text, "--debounce")
