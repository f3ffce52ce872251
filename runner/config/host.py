"""Checks of a configuration against the host that reads it: the users and groups that
jobs run as (`user:`, `group:`) exist here, and this process could become them (only
root can). Warnings, not errors: the files may be checked on a CI machine that is not
the daemon's host; `validate --strict` makes them fail. Never cached: the host changes
without the files changing."""

from __future__ import annotations

import socket
from collections.abc import Sequence
from typing import TYPE_CHECKING

from runner.config.placement import Placement
from runner.spec.diagnostics import Severity
from runner.spec.findings import Finding
from runner.system.accounts import may_become

if TYPE_CHECKING:
    from runner.config.loader import Loaded


def host_findings(resources: Sequence[Loaded]) -> list[Placement]:
    """A warning at each `user`/`group` that this host cannot run a task as."""
    found = []
    host = socket.gethostname()
    for item in resources:
        # the raw view, not `item.view`: building 10,000 views would cost a cached plan
        for path, name in item.view_data.get("accounts") or ():
            field = str(path[-1])
            why = may_become(name, None) if field == "user" else may_become(None, name)
            if why is not None:
                fix = (
                    f"run the daemon as root to use `{field}`"
                    if "not root" in why
                    else "create it on the daemon's host, or correct the name"
                )
                message = f"{why} ({host}); {fix}"
                finding = Finding(tuple(path), f"{field}-unusable", message, Severity.WARNING)
                found.append(Placement.of(item, finding))
    return found
