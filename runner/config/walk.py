"""Finding the configuration's YAML files: every folder under the paths read once.

A folder is read where it is; a symlink to a folder is followed only when it leads to
one read nowhere else. A link back to a folder above it (a loop) or to a folder read
already is not followed, and is named in one warning, rather than followed forty levels
deep with each file found again as a duplicate of itself.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field

from runner.errors import ConfigError
from runner.spec.diagnostics import Diagnostic, Severity

SUFFIXES = (".yaml", ".yml")


def find_files(
    paths: Sequence[str | os.PathLike[str]], links: list[Diagnostic] | None = None
) -> list[tuple[str, str]]:
    """Every YAML file under `paths`: (absolute path, path as shown), in a stable order.
    Each folder is read once, however many links lead to it: a link back to a folder
    above it (a loop), or to one read already, is not followed, and `links` hears a
    warning naming it."""
    cwd = os.getcwd()
    found: list[tuple[str, str]] = []
    seen: dict[tuple[int, int], str] = {}  # each folder read, by device and inode
    for raw in paths:
        path = os.path.abspath(raw)
        if os.path.isdir(path):
            walked = _walk(path, display_path(path, cwd), seen)
            found += walked.files
            if links is not None:
                links += walked.links
        elif os.path.isfile(path):
            found.append((path, display_path(path, cwd)))
        else:
            raise ConfigError(
                f"{raw}: no such file or folder; name the configuration folder "
                "(--config PATH or RUNNER_CONFIG)"
            )
    return found


@dataclass(slots=True)
class _Walked:
    files: list[tuple[str, str]] = field(default_factory=list)
    links: list[Diagnostic] = field(default_factory=list)  # folders not followed


def _walk(folder: str, shown: str, seen: dict[tuple[int, int], str]) -> _Walked:
    """The files under `folder`, following links to folders not read otherwise. The
    real folders are known first, so a folder is read where it is, not through a link
    to it that happens to sort first."""
    for dirpath, dirnames, _ in os.walk(folder):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        below = dirpath[len(folder) :].lstrip(os.sep)
        seen.setdefault(_identity(dirpath), os.path.join(shown, below) if below else shown)
    walked = _Walked()
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        below = dirpath[len(folder) :].lstrip(os.sep)
        shown_dir = os.path.join(shown, below) if below else shown
        dirnames[:] = _followed(dirpath, shown_dir, dirnames, seen, walked.links)
        real_prefix, shown_prefix = dirpath + os.sep, shown_dir + os.sep
        for name in sorted(filenames):
            if name.endswith(SUFFIXES) and not name.startswith("."):
                walked.files.append((real_prefix + name, shown_prefix + name))
    return walked


def _identity(path: str) -> tuple[int, int]:
    stat = os.stat(path)
    return stat.st_dev, stat.st_ino


def _followed(
    dirpath: str,
    shown_dir: str,
    dirnames: list[str],
    seen: dict[tuple[int, int], str],
    links: list[Diagnostic],
) -> list[str]:
    """The subfolders of `dirpath` to read: not hidden, and a link only to a folder
    read nowhere else."""
    kept = []
    for name in sorted(d for d in dirnames if not d.startswith(".")):
        path, shown = os.path.join(dirpath, name), os.path.join(shown_dir, name)
        try:
            key = _identity(path)
        except OSError:
            continue  # gone, or a dangling link: nothing to read
        if os.path.islink(path):
            if key in seen:
                links.append(_link_not_followed(shown, seen[key]))
                continue
            seen[key] = shown
        else:
            seen.setdefault(key, shown)  # a real folder under a followed link
        kept.append(name)
    return kept


def _link_not_followed(shown: str, first: str) -> Diagnostic:
    above = shown.startswith(first + os.sep)
    why = (
        f"a symlink loop: it leads back to {first}, a folder above it"
        if above
        else f"it leads to {first}, read already"
    )
    return Diagnostic(
        file=shown,
        line=1,
        column=1,
        path=(),
        code="symlink-loop" if above else "folder-read-twice",
        message=f"folder not followed: {why}",
        severity=Severity.WARNING,
    )


def display_path(path: str | os.PathLike[str], cwd: str | None = None) -> str:
    """The path as people see it: relative to the working directory when under it."""
    text = os.path.relpath(path, cwd or os.getcwd())
    return str(path) if text.startswith("..") else text
