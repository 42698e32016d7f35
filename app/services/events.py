"""Event ingestion (implemented by the KPI work)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class IngestResult:
    accepted: int
    duplicates: int


def ingest_events(rows: list[dict], source: str = "api") -> IngestResult:
    """Validate every row (fields of KPI_DEFINITIONS.md), then store all or none.

    :param rows: event dicts as in the API (``occurred_at`` ISO 8601 with offset).
    :param source: the channel; ``event_id`` is unique per source.
    """
    raise NotImplementedError
