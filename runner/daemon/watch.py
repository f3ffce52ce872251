"""Watching the configuration folder (SPEC 5): any change to a YAML file, including
saves by atomic rename (editors, `git checkout`) and whole folders moved or removed,
calls `changed()` from watchdog's thread; the daemon debounces."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

SUFFIXES = (".yaml", ".yml")


class _Handler(FileSystemEventHandler):
    def __init__(self, changed: Callable[[], None]) -> None:
        self.changed = changed

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write"):
            return  # reads (our own apply reads every file) change nothing
        if event.is_directory and event.event_type == "modified":
            return  # a file in it changed: that file's own event says which
        paths = [str(event.src_path), str(getattr(event, "dest_path", "") or "")]
        if event.is_directory or any(p.endswith(SUFFIXES) for p in paths):
            self.changed()


class FolderWatch:
    def __init__(self, paths: Sequence[str], changed: Callable[[], None]) -> None:
        self.observer = Observer()
        handler = _Handler(changed)
        for path in paths:
            target = Path(path)
            folder = target if target.is_dir() else target.parent
            self.observer.schedule(handler, str(folder), recursive=target.is_dir())
        self.observer.daemon = True

    def start(self) -> None:
        self.observer.start()

    def stop(self) -> None:
        self.observer.stop()
        self.observer.join(timeout=5)
