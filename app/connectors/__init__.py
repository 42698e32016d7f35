"""Connectors pull figures from elsewhere (a SQL database, dropped files, an HTTP JSON API, an
Unleash server) on a schedule and map them onto events, baselines or flag metrics.

Each source module offers ``batches(config, full, hooks)``: a generator of :class:`Batch` that
reads the source, and after its last batch records how far it got (a watermark, the files done),
inside the run's transaction. The pull job (app.jobs.pulls) maps, validates and writes each batch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from app.errors import LiftoffError

SOURCE_MODULES = {
    "sql": "app.connectors.sql",
    "files": "app.connectors.files",
    "http": "app.connectors.http",
    "unleash_metrics": "app.connectors.unleash",
}


class SourceError(LiftoffError):
    """The source is down, slow, or answered something that is not what the connector expects."""

    def __init__(self, message: str):
        super().__init__(message, [], 502)


@dataclass
class Batch:
    records: list[tuple[str, dict]]  # (where the row came from, the row)
    columns: list[str] | None = None  # the source's columns, when it has a fixed set
    where: str = ""
    # Called with the reason when this batch's rows are refused (a dropped file goes to failed/).
    on_invalid: Callable[[str], None] | None = None
