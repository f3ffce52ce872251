"""Who asks for an action, and from where, as the audit records it (SPEC 3.1): the OS
user on this host for the CLI; the API gives its token's name."""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass

from runner.system.procs import hostname


@dataclass(frozen=True, slots=True)
class Actor:
    who: str
    origin: str  # "cli on HOST", "api from ADDRESS"


def local_actor() -> Actor:
    try:
        who = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry for the uid (a container, say)
        who = f"uid {os.getuid()}"
    return Actor(who, f"cli on {hostname()}")
