"""import (issue 16): crontabs and systemd timers read from their files (or standard
input), made into job documents by `runner.importing`, and written one file per job."""

from __future__ import annotations

import sys
from pathlib import Path

from runner.importing import (
    Imported,
    ImportRefused,
    UnitText,
    import_crontab,
    import_timer,
    render_file,
    render_stream,
    service_name,
)

STDIN = "-"


def crontab(path: str, *, system: bool | None = None, timezone: str | None = None) -> Imported:
    """The jobs of the crontab at `path` (`-`: standard input)."""
    source = "<stdin>" if path == STDIN else path
    return import_crontab(_read(path, source), source=source, system=system, timezone=timezone)


def systemd(path: str, *, timezone: str | None = None) -> Imported:
    """The job of the timer at `path`, with the service it starts from the same folder."""
    if not path.endswith(".timer"):
        raise ImportRefused(f"{path}: name a .timer unit (its service is read beside it)")
    timer = UnitText(path, _read(path, path))
    unit = service_name(timer)
    service_path = _service_path(Path(path).parent, unit)
    if service_path is None:
        raise ImportRefused(f"{path}: its service {unit} is not beside it")
    service = UnitText(str(service_path), _read(str(service_path), str(service_path)))
    return import_timer(timer, service, unit=unit, timezone=timezone)


def _service_path(folder: Path, unit: str) -> Path | None:
    """`unit`'s file in `folder`; for an instance (`backup@db.service`), its template
    (`backup@.service`) when there is no file of its own."""
    candidates = [folder / unit]
    if "@" in unit:
        prefix, _, rest = unit.partition("@")
        candidates.append(folder / f"{prefix}@.{rest.rsplit('.', 1)[-1]}")
    return next((path for path in candidates if path.is_file()), None)


def _read(path: str, source: str) -> str:
    try:
        data = sys.stdin.buffer.read() if path == STDIN else Path(path).read_bytes()
    except FileNotFoundError:
        raise ImportRefused(f"{source}: no such file") from None
    except IsADirectoryError:
        raise ImportRefused(f"{source}: is a folder; name one file") from None
    except OSError as exc:
        raise ImportRefused(f"{source}: cannot be read: {exc.strerror}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ImportRefused(f"{source}:{line}: not UTF-8 (byte {exc.start + 1})") from None


def render(imported: Imported) -> str:
    """Every job as one YAML stream, for standard output."""
    return render_stream(imported)


def write_jobs(imported: Imported, folder: Path, *, force: bool = False) -> list[Path]:
    """One file per job in `folder` (NAME.yaml). Files that exist are refused, before
    anything is written, unless `force`."""
    targets = [(folder / f"{job.name}.yaml", job) for job in imported.jobs]
    existing = [str(path) for path, _ in targets if path.exists()]
    if existing and not force:
        more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
        raise ImportRefused(f"{existing[0]} exists{more}; --force overwrites")
    folder.mkdir(parents=True, exist_ok=True)
    for path, job in targets:
        path.write_text(render_file(imported, job), encoding="utf-8")
    return [path for path, _ in targets]
