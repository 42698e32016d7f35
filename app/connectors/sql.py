"""SQL source: a read-only query against any SQLAlchemy URL, incremental by a watermark column.

The query is wrapped as ``SELECT * FROM (<query>) WHERE <watermark_column> > :watermark ORDER BY
<watermark_column>``, so each run reads only rows newer than the last committed watermark. The
watermark is saved in the same transaction as the rows, so a crash loses neither. Rows that share
the last watermark value but arrive later are not read: use a strictly increasing column (an id or
an insertion timestamp)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import date, datetime

from sqlalchemy import create_engine, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from app.connectors import Batch, SourceError, short_reason
from app.connectors.config import ConnectorConfig
from app.db import db, utcnow
from app.models.scheduling import ConnectorWatermark

BATCH_ROWS = 1000


def encode_watermark(value: object) -> str:
    if isinstance(value, datetime):
        return json.dumps({"type": "datetime", "value": value.isoformat()})
    if isinstance(value, date):
        return json.dumps({"type": "date", "value": value.isoformat()})
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise SourceError(f"watermark value {value!r} is not a number, text or timestamp")
    return json.dumps({"type": type(value).__name__, "value": value})


def decode_watermark(stored: str) -> object:
    data = json.loads(stored)
    if data["type"] == "datetime":
        return datetime.fromisoformat(data["value"])
    if data["type"] == "date":
        return date.fromisoformat(data["value"])
    return data["value"]


def _url(config: ConnectorConfig) -> str:
    source = config.source
    if source.get("url"):
        return source["url"]
    value = os.environ.get(source["url_env"])
    if not value:
        raise SourceError(f"environment variable {source['url_env']} is not set")
    return value


def batches(config: ConnectorConfig, full: bool, hooks) -> Iterator[Batch]:
    source = config.source
    column = source.get("watermark_column")
    state = db.session.get(ConnectorWatermark, config.name) if column else None
    watermark = decode_watermark(state.value) if state is not None and not full else None
    engine = create_engine(_url(config), poolclass=NullPool)
    quote = engine.dialect.identifier_preparer.quote
    # The query comes from the operator's connector file, never from a request; values are bound.
    query = f"SELECT * FROM ({source['query'].rstrip().rstrip(';')}) AS liftoff_source"  # noqa: S608
    if column and watermark is not None:
        query += f" WHERE {quote(column)} > :watermark"
    if column:
        query += f" ORDER BY {quote(column)}"
    highest = watermark
    read = 0
    try:
        with engine.connect() as conn:
            _read_only(conn)
            result = conn.execution_options(stream_results=True).execute(
                text(query), {"watermark": watermark} if watermark is not None else {}
            )
            columns = list(result.keys())
            if column and column not in columns:
                raise SourceError(f"watermark column {column!r} is not in the query's "
                                  f"columns ({', '.join(columns)})")
            for chunk in result.partitions(BATCH_ROWS):
                records = [(f"row {read + i + 1}", dict(row._mapping)) for i, row in enumerate(chunk)]
                read += len(records)
                if column:
                    highest = records[-1][1][column]
                yield Batch(records, columns, where="query")
            conn.rollback()
    except SQLAlchemyError as error:
        # A driver's message may quote a row's value: the class and the words, not the values.
        raise SourceError(f"the SQL source failed: {error.__class__.__name__}: "
                          f"{short_reason(str(error))}") from error
    finally:
        engine.dispose()
    if column and highest is not None and highest != watermark:
        if state is None:
            state = ConnectorWatermark(connector=config.name, value="")
            db.session.add(state)
        state.value, state.updated_at = encode_watermark(highest), utcnow()


def _read_only(conn) -> None:
    # Belt and braces beside the SELECT-only check: the database itself refuses writes.
    name = conn.dialect.name
    if name == "sqlite":
        conn.exec_driver_sql("PRAGMA query_only = ON")
    elif name in ("postgresql", "mysql", "mariadb"):
        conn.exec_driver_sql("SET TRANSACTION READ ONLY")
