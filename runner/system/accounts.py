"""The host's users and groups, for tasks that run as another account (`user:`,
`group:`): who they are, and whether this process may switch to them (only root may)."""

from __future__ import annotations

import grp
import os
import pwd
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Account:
    """What a task running as `user` (and `group`) gets: ids, supplementary groups, and
    the variables a login sets."""

    uid: int
    gid: int
    groups: tuple[int, ...]
    name: str
    home: str


class NoAccount(Exception):
    """No such user or group on this host, or not one this process may become."""


def user_id(name: str) -> pwd.struct_passwd | None:
    """The user `name` (or numeric id) of this host, or None."""
    try:
        return pwd.getpwuid(int(name)) if name.isdigit() else pwd.getpwnam(name)
    except (KeyError, OverflowError):
        return None


def group_id(name: str) -> int | None:
    """The id of the group `name` (or numeric id) of this host, or None."""
    if name.isdigit():
        return int(name)
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        return None


def is_root() -> bool:
    return os.geteuid() == 0


def may_become(user: str | None, group: str | None) -> str | None:
    """Why this process cannot run a task as `user`/`group` (None: it can)."""
    found = user_id(user) if user else None
    if user and found is None:
        return f'there is no user "{user}" on this host'
    gid = group_id(group) if group else None
    if group and gid is None:
        return f'there is no group "{group}" on this host'
    if is_root():
        return None
    me = _me()
    if found is not None and found.pw_uid != os.geteuid():
        return f'runner runs as "{me}", not root: it cannot run tasks as user "{user}"'
    if gid is not None and gid != os.getegid() and gid not in os.getgroups():
        return f'runner runs as "{me}", not root: it cannot run tasks as group "{group}"'
    return None


def _me() -> str:
    entry = user_id(str(os.geteuid()))
    return entry.pw_name if entry is not None else str(os.geteuid())


def account(user: str | None, group: str | None) -> Account | None:
    """The account a task runs as (None: this process's own); `NoAccount` when it
    cannot be taken, saying why."""
    if not user and not group:
        return None
    why = may_become(user, group)
    if why is not None:
        raise NoAccount(why)
    entry = user_id(user) if user else pwd.getpwuid(os.geteuid())
    assert entry is not None  # may_become found it
    gid = group_id(group) if group else entry.pw_gid
    assert gid is not None
    groups = tuple(os.getgrouplist(entry.pw_name, gid)) if is_root() else ()
    return Account(entry.pw_uid, gid, groups, entry.pw_name, entry.pw_dir)
