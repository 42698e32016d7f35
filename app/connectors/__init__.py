"""Connectors pull figures from elsewhere (a SQL database, dropped files, an HTTP JSON API, an
Unleash server) on a schedule and map them onto events, baselines or flag metrics.

Each source module offers ``batches(config, full, hooks)``: a generator of :class:`Batch` that
reads the source, and after its last batch records how far it got (a watermark, the files done),
inside the run's transaction. The pull job (app.jobs.pulls) maps, validates and writes each batch.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from app.errors import LiftoffError

SOURCE_MODULES = {
    "sql": "app.connectors.sql",
    "files": "app.connectors.files",
    "http": "app.connectors.http",
    "unleash_metrics": "app.connectors.unleash",
}


# A quoted literal in a library's or a service's message is usually a value read from the source.
_QUOTED = re.compile(r"""\s*(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")""")


def short_reason(text: str, limit: int = 160) -> str:
    """The first line of ``text`` without its quoted values, at most ``limit`` characters.

    Errors of a pull are stored, shown and written beside refused files: they may name the row, the
    field and the cause, never repeat what the source holds (a source can be made to hold a secret).
    """
    first = str(text).strip().splitlines()[0] if str(text).strip() else ""
    first = _QUOTED.sub("", first).rstrip(" :,")
    return first if len(first) <= limit else first[: limit - 1] + "…"


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
