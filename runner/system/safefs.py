"""Files inside the runner's home, reached without following a symbolic link (issue 17).

Whoever can plant a link in the home (`logs/JOB` pointing at `/etc`, a task's log
pointing at another file) must not make runner overwrite, empty or delete what it points
at, as runner's user. So every folder under the home is opened from the one above with
`O_NOFOLLOW` (`openat`), files too, and trees are removed through descriptors. The home
itself may be a link the operator made (`.runner -> /srv/runner`): it is followed, then
checked to be a folder of this user's that no one else may write (`home_problem`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import pwd
import shutil
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path

PRIVATE_UMASK = 0o077
_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
_NOFOLLOW_DIR = _DIR | os.O_NOFOLLOW


class NotFollowed(OSError):
    """A link (or something other than a folder) where runner expects its own folder or
    file; `strerror` says which and what to do."""


def private_umask() -> None:
    """What runner creates is its user's only, whatever umask it was started with."""
    os.umask(PRIVATE_UMASK)


def home_problem(home: Path) -> str | None:
    """Why `home` is not safe to use, in one line with what to do; None when it is, or
    when it does not exist yet (it is then created 0700)."""
    try:
        info = os.stat(home)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"cannot use the home {home}: {exc.strerror or exc}"
    if not stat.S_ISDIR(info.st_mode):
        return f"the home {home} is not a folder: give --home a folder"
    me = os.geteuid()
    if info.st_uid != me:
        return (
            f"the home {home} belongs to {_user(info.st_uid)}, not to {_user(me)} who runs "
            f"runner: chown {_user(me)} {home}, or give --home a folder of this user's"
        )
    if info.st_mode & 0o022:
        return (
            f"the home {home} can be written by others (mode {stat.S_IMODE(info.st_mode):o}): "
            f"chmod 700 {home}"
        )
    return None


def _user(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def make_home(home: Path) -> None:
    """Create the home, 0700, when it is missing (its parents as mkdir -p makes them)."""
    home.mkdir(parents=True, exist_ok=True, mode=0o700)


def open_folder(home: Path, parts: Sequence[str], *, create: bool = False) -> int:
    """A descriptor of the folder `home/parts...`, each part opened from the one above
    without following a link; missing parts are created 0700 when `create`."""
    fd = os.open(home, _DIR)
    try:
        for depth, part in enumerate(parts):
            if create:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, 0o700, dir_fd=fd)
            try:
                below = os.open(part, _NOFOLLOW_DIR, dir_fd=fd)
            except OSError as exc:
                if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                    raise
                raise _refused(home, parts[: depth + 1], fd) from None
            os.close(fd)
            fd = below
    except BaseException:
        os.close(fd)
        raise
    return fd


@contextlib.contextmanager
def folder(home: Path, parts: Sequence[str], *, create: bool = False) -> Iterator[int]:
    fd = open_folder(home, parts, create=create)
    try:
        yield fd
    finally:
        os.close(fd)


def _refused(home: Path, parts: Sequence[str], parent_fd: int) -> NotFollowed:
    where = home.joinpath(*parts)
    try:
        link = stat.S_ISLNK(os.stat(parts[-1], dir_fd=parent_fd, follow_symlinks=False).st_mode)
    except OSError:
        link = False
    what = "a symbolic link" if link else "not a folder"
    return NotFollowed(
        errno.ELOOP,
        f"{where} is {what}; runner follows no link inside its home: remove it",
        str(where),
    )


def create_fresh(dir_fd: int, name: str, *, flags: int = os.O_WRONLY) -> int:
    """A new empty file `name` in the folder, 0600: whatever had that name is unlinked
    first (a link is removed, never followed; a hard link to another file is left to it)."""
    for _ in range(3):  # another process may create it in between: unlink it again
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name, dir_fd=dir_fd)
        try:
            return os.open(
                name,
                flags | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                0o600,
                dir_fd=dir_fd,
            )
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, f"{name} keeps being created by another process", name)


def open_in(home: Path, key: str, flags: int = os.O_RDONLY) -> int:
    """Open the file at `key` (a path relative to the home) without following a link."""
    *parts, name = Path(key).parts
    with folder(home, parts) as fd:
        return os.open(name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)


def lstat_in(home: Path, key: str) -> os.stat_result | None:
    """The entry at `key` itself (a link is not followed), or None when there is none or
    a folder on the way is not one."""
    *parts, name = Path(key).parts
    try:
        with folder(home, parts) as fd:
            return os.stat(name, dir_fd=fd, follow_symlinks=False)
    except OSError:
        return None


def list_folder(home: Path, parts: Sequence[str]) -> list[str]:
    """The names in `home/parts...`; none when it is missing or not a real folder."""
    try:
        with folder(home, parts) as fd:
            return os.listdir(fd)
    except OSError:
        return []


def remove_tree(home: Path, parts: Sequence[str]) -> None:
    """Delete `home/parts...` and everything in it, never through a link: a link in its
    place is removed itself, and links inside are removed, not followed."""
    *above, name = parts
    try:
        with folder(home, above) as fd:
            info = os.stat(name, dir_fd=fd, follow_symlinks=False)
            if stat.S_ISDIR(info.st_mode):
                shutil.rmtree(name, dir_fd=fd, ignore_errors=True)
            else:
                os.unlink(name, dir_fd=fd)
    except OSError:  # gone already, or a folder above is not ours to go through
        return


def open_private(path: Path, flags: int) -> int:
    """Open (creating 0600) a file of runner's own, such as a lock: a link there is not
    followed, and anything but a plain file with one name is refused, so that writing
    or emptying it never reaches another file."""
    try:
        fd = os.open(path, flags | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            raise
        raise NotFollowed(
            errno.ELOOP, f"{path} is a symbolic link; runner follows none: remove it", str(path)
        ) from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_nlink > 1:
        os.close(fd)
        what = "has other names (hard links)" if stat.S_ISREG(info.st_mode) else "is not a file"
        raise NotFollowed(
            errno.EPERM, f"{path} {what}; runner will not write it: remove it", str(path)
        )
    return fd
