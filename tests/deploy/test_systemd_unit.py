"""deploy/runner.service and its drop-in deploy/tasks-as-other-users.conf: the settings the
comments promise, and what systemd itself says of them (`systemd-analyze verify` passes,
`systemd-analyze security` scores an exposure under 3.0).

The systemd-analyze cases skip when it is missing (or older than systemd 250, which has
no `security --offline`); CI sets RUNNER_REQUIRE_SYSTEMD_ANALYZE=1 and installs it, so
there they fail instead."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

UNIT = ROOT / "deploy" / "runner.service"
DROP_IN = ROOT / "deploy" / "tasks-as-other-users.conf"
MAX_EXPOSURE = 3.0


def directives(path: Path) -> dict[str, list[str]]:
    """`Key=value` lines of a unit file, by key, in order (comments left out)."""
    found: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";", "[")):
            continue
        key, _, value = line.partition("=")
        found.setdefault(key.strip(), []).append(value.strip())
    return found


def one(found: dict[str, list[str]], key: str) -> str:
    assert key in found, f"{key}= is not set"
    return found[key][-1]


# --- what the file says, checked without systemd ----------------------------------------


HARDENING = {
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "PrivateMounts": "yes",
    "DevicePolicy": "closed",
    "UMask": "0077",
    "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes",
    "ProtectKernelLogs": "yes",
    "ProtectControlGroups": "yes",
    "ProtectClock": "yes",
    "ProtectHostname": "yes",
    "ProtectProc": "invisible",
    "RestrictNamespaces": "yes",
    "RestrictRealtime": "yes",
    "RestrictSUIDSGID": "yes",
    "LockPersonality": "yes",
    "MemoryDenyWriteExecute": "yes",
    "SystemCallFilter": "@system-service",
    "SystemCallErrorNumber": "EPERM",
    "SystemCallArchitectures": "native",
    "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
    "CapabilityBoundingSet": "",
    "AmbientCapabilities": "",
    "KeyringMode": "private",
    "RemoveIPC": "yes",
    "User": "runner",
}


@pytest.mark.parametrize(("key", "value"), sorted(HARDENING.items()))
def test_the_unit_sets(key: str, value: str) -> None:
    assert one(directives(UNIT), key) == value


def test_the_only_writable_path_is_runners_home_and_it_is_the_home_it_runs_on() -> None:
    found = directives(UNIT)
    env = dict(e.split("=", 1) for e in found["Environment"])
    assert found["ReadWritePaths"] == [env["RUNNER_HOME"]]
    # Made by the install steps at the top: ReadWritePaths= fails the start when missing.
    assert f"mkdir -m 0700 {env['RUNNER_HOME']}" in UNIT.read_text()


def test_documentation_points_at_the_readme_where_the_install_steps_put_it() -> None:
    doc = one(directives(UNIT), "Documentation")
    assert doc.startswith("file:/")
    assert f"README.md {doc.removeprefix('file:')}" in UNIT.read_text()


def test_the_drop_in_runs_as_root_with_only_what_switching_users_takes() -> None:
    found = directives(DROP_IN)
    assert one(found, "User") == "root"
    assert one(found, "Group") == "root"
    assert found["CapabilityBoundingSet"] == ["CAP_SETUID CAP_SETGID CAP_KILL"]
    assert set(found) == {"User", "Group", "CapabilityBoundingSet"}  # the rest stays
    assert DROP_IN.read_text().startswith("# For jobs whose tasks run as other accounts")


# --- what systemd says ----------------------------------------------------------------------


def systemd_analyze() -> str:
    """The systemd-analyze to use, or a skip (a failure where CI requires it)."""
    why = None
    found = shutil.which("systemd-analyze")
    if found is None:
        why = "systemd-analyze is not installed (Debian: apt-get install systemd)"
    else:
        first = subprocess.run(
            [found, "--version"], capture_output=True, text=True, check=False
        ).stdout.split()
        version = int(first[1]) if len(first) > 1 and first[1].isdigit() else 0
        if version < 250:
            why = f"systemd-analyze {version or '?'} has no `security --offline` (250 has)"
    if why is None:
        assert found is not None
        return found
    if os.environ.get("RUNNER_REQUIRE_SYSTEMD_ANALYZE") == "1":
        pytest.fail(why)
    pytest.skip(why)


def installed_copy(folder: Path, *, drop_in: bool) -> Path:
    """The unit as it would be installed, but with this checkout's runner as ExecStart
    (`verify` wants the program to exist), and the drop-in beside it when asked."""
    runner = Path(sys.executable).parent / "runner"
    assert runner.exists(), runner
    text = UNIT.read_text().replace("ExecStart=/opt/runner/bin/runner ", f"ExecStart={runner} ")
    assert f"ExecStart={runner} daemon" in text
    if not Path("/bin/kill").exists():  # ExecReload's; procps has it on Debian
        kill = shutil.which("kill")
        if kill is None:
            pytest.skip("no kill program on this machine for ExecReload=")
        text = text.replace("ExecReload=/bin/kill ", f"ExecReload={kill} ")
    unit = folder / "runner.service"
    unit.write_text(text)
    if drop_in:
        (folder / "runner.service.d").mkdir()
        shutil.copy(DROP_IN, folder / "runner.service.d" / DROP_IN.name)
    return unit


@pytest.mark.parametrize("drop_in", [False, True], ids=["unit", "with-drop-in"])
def test_systemd_analyze_verify_passes(tmp_path: Path, drop_in: bool) -> None:
    analyze = systemd_analyze()
    unit = installed_copy(tmp_path, drop_in=drop_in)
    done = subprocess.run(
        [analyze, "verify", str(unit)], capture_output=True, text=True, check=False
    )
    said = done.stdout + done.stderr
    assert done.returncode == 0, said
    assert "runner.service" not in said, said  # no warning about it either


@pytest.mark.parametrize("drop_in", [False, True], ids=["unit", "with-drop-in"])
def test_systemd_analyze_security_scores_under_3(tmp_path: Path, drop_in: bool) -> None:
    analyze = systemd_analyze()
    unit = installed_copy(tmp_path, drop_in=drop_in)
    done = subprocess.run(
        [analyze, "security", "--offline=true", "--no-pager", str(unit)],
        capture_output=True,
        text=True,
        check=False,
    )
    said = done.stdout + done.stderr
    level = re.search(r"Overall exposure level for runner\.service: (\d+\.\d+)", said)
    assert level is not None, said
    assert float(level.group(1)) < MAX_EXPOSURE, said
    if drop_in:
        assert "Service runs as root user" in said  # the drop-in was read
