"""The pull job of a connector: read every batch, map and validate it, write it; all of it in the
runner's one transaction, so a bad row or a failing source leaves nothing behind.

Every failure names the connector, its kind and the cause (``connector drops (files): 2-bad.csv
line 3: hour: expected an ISO 8601 timestamp``), and never a value read from the source."""

from __future__ import annotations

import importlib
import logging

from app.connectors import SOURCE_MODULES, SourceError, short_reason
from app.connectors.config import get_connector
from app.connectors.mapping import check_columns, map_records
from app.connectors.sinks import write
from app.db import db
from app.errors import Detail, LiftoffError, ValidationFailed
from app.jobs.base import JobStats
from app.jobs.runner import current_hooks

log = logging.getLogger(__name__)


def pull_connector(connector: str, full: bool = False) -> JobStats:
    """Pull ``connector`` once; ``full`` ignores its watermark and re-reads everything (idempotent)."""
    config = get_connector(connector)
    source = importlib.import_module(SOURCE_MODULES[config.kind])
    mapping = getattr(source, "MAPPING", None) or config.mapping
    assume_utc = bool(config.source.get("assume_utc", config.kind == "unleash_metrics"))
    label = f"connector {config.name} ({config.kind})"
    stats = JobStats()
    try:
        for batch in source.batches(config, full=full, hooks=current_hooks()):
            try:
                if batch.columns is not None:
                    check_columns(mapping, batch.columns, batch.where or config.name)
                rows = map_records(config.target, mapping, batch.records, assume_utc=assume_utc,
                                   first_index=stats.rows_read)
                stats.rows_written += _write(config.target, rows, f"connector:{config.name}",
                                             batch.records, stats.rows_read)
            except LiftoffError as error:
                _name(error, label)
                if batch.on_invalid is not None:
                    batch.on_invalid(str(error))
                raise
            stats.rows_read += len(batch.records)
            db.session.flush()  # catch database refusals batch by batch; still uncommitted
            log.info("pull:%s %s: %d rows read so far", config.name, batch.where, stats.rows_read)
    except LiftoffError as error:
        _name(error, label)
        raise
    except OSError as error:  # the folder vanished, a permission changed: say which and why
        raise SourceError(f"{label}: {error.strerror or type(error).__name__}") from error
    return stats


def _name(error: LiftoffError, label: str) -> None:
    if not error.message.startswith(label):
        error.message = f"{label}: {error.message}"


def _write(target: str, rows: list[dict], source: str, records: list[tuple[str, dict]], first: int) -> int:
    """Write a batch; a refusal by the service (unknown person, feature) is re-pointed at the
    source row it came from, like the mapping's own errors, without the value it quoted."""
    try:
        return write(target, rows, source)
    except ValidationFailed as error:
        details = []
        for d in error.details:
            message = short_reason(d.message)
            if d.index is not None and 0 <= d.index < len(records):
                d = Detail(d.field, f"{records[d.index][0]}: {message}", first + d.index)
            else:
                d = Detail(d.field, message, d.index)
            details.append(d)
        raise ValidationFailed(short_reason(error.message), details) from error
