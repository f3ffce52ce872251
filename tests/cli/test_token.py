"""`runner token add/list/revoke` (SPEC 7): a token printed once, kept hashed in a file
only its owner reads, refusals in one line."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest
import yaml

from runner.cli import run
from runner.ops.tokens import TokenSet


def call(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = run(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_a_token_is_shown_once_and_kept_hashed(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = call(capsys, "token", "add", "ci", "--role", "operate")
    assert code == 0, err
    secret = out.strip()
    assert secret.startswith("rnr_") and len(secret) > 40
    file = home / "api-tokens.yaml"
    assert f"token ci (operate) added to {file}" in err
    assert stat.S_IMODE(os.stat(file).st_mode) == 0o600
    kept = yaml.safe_load(file.read_text())["tokens"]
    assert kept == [
        {"name": "ci", "role": "operate", "sha256": hashlib.sha256(secret.encode()).hexdigest()}
    ]
    assert secret not in file.read_text()
    token = TokenSet.load(file).verify(secret)
    assert token is not None and (token.name, token.role) == ("ci", "operate")
    assert TokenSet.load(file).verify(secret + "x") is None
    assert call(capsys, "token", "list")[1] == "ci  operate\n"


def test_token_refusals(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert call(capsys, "token", "add", "ci")[0] == 0
    code, _, err = call(capsys, "token", "add", "ci")
    assert code == 1 and "a token named ci exists" in err
    code, _, err = call(capsys, "token", "add", "Bad Name")
    assert code == 2 and "token name" in err
    code, _, err = call(capsys, "token", "revoke", "nobody")
    assert code == 1 and "no token named nobody" in err
    assert call(capsys, "token", "revoke", "ci")[0] == 0
    assert call(capsys, "token", "list")[1] == "No tokens.\n"
    (home / "api-tokens.yaml").write_text("tokens: [{name: x, role: god, sha256: ab}]\n")
    code, _, err = call(capsys, "token", "list")
    assert code == 1 and "tokens[0] needs a name, a role" in err


def test_the_env_token_is_one_admin_token() -> None:
    token = TokenSet.load(None, "from-env").verify("from-env")
    assert token is not None and (token.name, token.role) == ("env", "admin")
    assert not TokenSet.load(None, None)


def test_a_running_set_reads_the_file_again_when_it_changes(
    home: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    file = home / "api-tokens.yaml"
    _, first, _ = call(capsys, "token", "add", "ci", "--role", "operate")
    served = TokenSet.load(file, env="from-env")  # what a daemon holds
    assert served.verify(first.strip()) is not None
    _, second, _ = call(capsys, "token", "add", "dash", "--role", "read")
    added = served.verify(second.strip())
    assert added is not None and added.name == "dash"  # no restart needed
    assert call(capsys, "token", "revoke", "ci")[0] == 0
    assert served.verify(first.strip()) is None  # revoked: refused at the next request
    file.write_text("tokens: nonsense\n")
    assert served.verify(second.strip()) is not None  # a broken file keeps what was read
    assert "the tokens read before stay in force" in caplog.text
    file.unlink()
    assert served.verify(second.strip()) is None
    assert served.verify("from-env") is not None  # the env's token stays
