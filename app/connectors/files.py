"""Files source: CSV or XLSX files dropped in a folder. Each file is written once: after the run
commits it moves to ``done/``; a file whose rows are refused moves to ``failed/`` with
``<file>.reason.txt`` beside it. A file already written (same content hash) that a crash left in
place is only moved, never written again."""

from __future__ import annotations

import hashlib
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
from sqlalchemy import select

from app.connectors import Batch, SourceError
from app.connectors.config import ConnectorConfig
from app.db import db, utcnow
from app.models.scheduling import ConnectorFile


def _digest(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


def move(path: Path, folder: Path, reason: str | None = None) -> Path:
    """Move ``path`` into ``folder`` (never overwriting), with the reason file beside it."""
    folder.mkdir(exist_ok=True)
    destination = folder / path.name
    if destination.exists():
        destination = folder / f"{path.stem}.{utcnow():%Y%m%dT%H%M%S%f}{path.suffix}"
    shutil.move(path, destination)
    if reason is not None:
        destination.with_name(destination.name + ".reason.txt").write_text(reason + "\n")
    return destination


def read_frame(path: Path, source: dict) -> pd.DataFrame:
    try:
        if path.suffix.lower() == ".xlsx":
            return pd.read_excel(path, sheet_name=source.get("sheet", 0), dtype=object)
        return pd.read_csv(path, dtype=str, keep_default_na=False, sep=source.get("delimiter", ","))
    except (ValueError, KeyError, UnicodeDecodeError, zipfile.BadZipFile, pd.errors.ParserError) as error:
        raise SourceError(f"{path.name}: cannot be read as {path.suffix.lstrip('.')}: {error}") from error


def batches(config: ConnectorConfig, full: bool, hooks) -> Iterator[Batch]:
    folder = Path(config.source["folder"])
    if not folder.is_dir():
        raise SourceError(f"{config.name}: folder {folder} does not exist")
    formats = {f".{fmt}" for fmt in config.source.get("formats") or ["csv", "xlsx"]}
    for path in sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in formats):
        digest = _digest(path)
        if db.session.scalar(select(ConnectorFile.id).where(
            ConnectorFile.connector == config.name, ConnectorFile.sha256 == digest
        )):
            hooks.after_commit(lambda p=path: move(p, folder / "done"))
            continue

        def refuse(reason: str, p: Path = path) -> None:
            hooks.after_rollback(lambda: move(p, folder / "failed", reason))

        try:
            frame = read_frame(path, config.source)
        except SourceError as error:
            refuse(str(error))
            raise
        frame.columns = [str(c).strip() for c in frame.columns]
        records = [(f"{path.name} line {i + 2}", row) for i, row in enumerate(frame.to_dict("records"))]
        yield Batch(records, list(frame.columns), where=path.name, on_invalid=refuse)
        db.session.add(ConnectorFile(connector=config.name, file_name=path.name, sha256=digest,
                                     rows=len(records)))
        hooks.after_commit(lambda p=path: move(p, folder / "done"))
