"""Files source: CSV or XLSX files dropped in a folder. Each file is written once: after the run
commits it moves to ``done/``; a file whose rows are refused moves to ``failed/`` with
``<file>.reason.txt`` beside it. A file already written (same content hash) that a crash left in
place is only moved, never written again.

Whoever can drop files must not be able to make the service read something else: only regular
files directly inside the folder are read, through a descriptor opened with ``O_NOFOLLOW``, so a
symbolic link, a hard link to another file, a FIFO or a device is refused (and moved to
``failed/``) without its target ever being opened. Reason files are the service's alone (0600)."""

from __future__ import annotations

import hashlib
import io
import os
import stat
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
from sqlalchemy import select

from app.connectors import Batch, SourceError, short_reason
from app.connectors.config import ConnectorConfig
from app.db import db, utcnow
from app.models.scheduling import ConnectorFile

# O_NONBLOCK: opening a FIFO dropped in the folder must not hang the run.
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)


class RefusedFile(SourceError):
    """A dropped entry that is not a regular file of the folder itself."""


def _subfolder(folder: Path, name: str) -> Path:
    sub = folder / name
    if sub.is_symlink() or (sub.exists() and not sub.is_dir()):
        raise SourceError(f"{sub} is not a plain folder; refusing to move files into it")
    sub.mkdir(mode=0o700, exist_ok=True)
    return sub


def _write_private(path: Path, text: str) -> None:
    """Write ``path`` readable by the service user only, never through a link planted there."""
    if path.is_symlink() or path.exists():
        path.unlink()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def move(path: Path, folder: Path, reason: str | None = None) -> Path:
    """Move ``path`` (a link moves as the link itself) into ``folder`` (never overwriting), with the
    reason file beside it."""
    folder = _subfolder(folder.parent, folder.name)
    destination = folder / path.name
    if destination.exists() or destination.is_symlink():
        destination = folder / f"{path.stem}.{utcnow():%Y%m%dT%H%M%S%f}{path.suffix}"
    os.replace(path, destination)
    if reason is not None:
        _write_private(destination.with_name(destination.name + ".reason.txt"), reason + "\n")
    return destination


def read_bytes(path: Path, folder: Path) -> bytes:
    """The content of ``path``, which must be a regular file directly inside ``folder``.

    :raises RefusedFile: for a symbolic link, a path resolving outside the folder, a hard link, or
        anything but a regular file; the target is never read.
    """
    if path.is_symlink():
        raise RefusedFile(f"{path.name}: refused: a symbolic link (only regular files of the folder "
                          "are read)")
    if Path(os.path.realpath(path)).parent != folder:
        raise RefusedFile(f"{path.name}: refused: it resolves outside the connector's folder")
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as error:  # ELOOP: replaced by a link since the check above
        raise RefusedFile(f"{path.name}: refused: cannot be opened as a plain file "
                          f"({error.strerror})") from error
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise RefusedFile(f"{path.name}: refused: not a regular file")
        if info.st_nlink > 1:
            # A hard link may point at any file of the same disk the dropper could not read.
            raise RefusedFile(f"{path.name}: refused: a hard link (copy the file instead)")
        return handle.read()


def read_frame(content: bytes, name: str, source: dict) -> pd.DataFrame:
    suffix = Path(name).suffix.lower().lstrip(".")
    try:
        if suffix == "xlsx":
            return pd.read_excel(io.BytesIO(content), sheet_name=source.get("sheet", 0), dtype=object)
        return pd.read_csv(io.BytesIO(content), dtype=str, keep_default_na=False,
                           sep=source.get("delimiter", ","))
    except UnicodeDecodeError as error:
        raise SourceError(f"{name}: cannot be read as {suffix}: not UTF-8 text "
                          f"(byte {error.start})") from error
    except (ValueError, KeyError, zipfile.BadZipFile, pd.errors.ParserError) as error:
        # Parser messages may quote a cell: keep the reason (line, field count), never the content.
        reason = short_reason(str(error)) or type(error).__name__
        raise SourceError(f"{name}: cannot be read as {suffix}: {reason}") from error


def batches(config: ConnectorConfig, full: bool, hooks) -> Iterator[Batch]:
    configured = Path(config.source["folder"])
    if not configured.is_dir():
        raise SourceError(f"folder {configured} does not exist")
    folder = configured.resolve()
    formats = {f".{fmt}" for fmt in config.source.get("formats") or ["csv", "xlsx"]}
    entries = sorted(p for p in folder.iterdir() if p.suffix.lower() in formats
                     and (p.is_symlink() or not p.is_dir()))
    for path in entries:
        def refuse(reason: str, p: Path = path) -> None:
            hooks.after_rollback(lambda: move(p, folder / "failed", reason))

        try:
            content = read_bytes(path, folder)
        except RefusedFile as error:
            refuse(str(error))
            raise
        digest = hashlib.sha256(content).hexdigest()
        if db.session.scalar(select(ConnectorFile.id).where(
            ConnectorFile.connector == config.name, ConnectorFile.sha256 == digest
        )):
            hooks.after_commit(lambda p=path: move(p, folder / "done"))
            continue
        try:
            frame = read_frame(content, path.name, config.source)
        except SourceError as error:
            refuse(str(error))
            raise
        frame.columns = [str(c).strip() for c in frame.columns]
        records = [(f"{path.name} line {i + 2}", row) for i, row in enumerate(frame.to_dict("records"))]
        yield Batch(records, list(frame.columns), where=path.name, on_invalid=refuse)
        db.session.add(ConnectorFile(connector=config.name, file_name=path.name, sha256=digest,
                                     rows=len(records)))
        hooks.after_commit(lambda p=path: move(p, folder / "done"))
