"""Unleash metrics source: the SDKs' hourly yes/no counts per feature, app and environment, read
from an Unleash server's admin API (``GET /api/admin/client-metrics/features/{name}/raw``) into
flag_metrics. SDKs connected to Liftoff's own client API (the embedded backend) already land in
flag_metrics as they report, so this connector is for SDKs that talk to an Unleash server."""

from __future__ import annotations

import os
from collections.abc import Iterator
from urllib.parse import quote

from sqlalchemy import select

from app.connectors import Batch, SourceError
from app.connectors.config import ConnectorConfig
from app.connectors.http import get_json
from app.db import db
from app.models import Feature

# Fixed: Unleash's field names onto flag_metrics (the document's own mapping is not used).
MAPPING = {"feature": "featureName", "app_name": "appName", "environment": "environment",
           "hour": "timestamp", "yes": "yes", "no": "no"}


def batches(config: ConnectorConfig, full: bool, hooks) -> Iterator[Batch]:
    source = config.source
    headers = {}
    if source.get("token_env"):
        token = os.environ.get(source["token_env"])
        if not token:
            raise SourceError(f"environment variable {source['token_env']} is not set")
        headers["Authorization"] = token
    features = source.get("features") or list(db.session.scalars(select(Feature.key).order_by(Feature.key)))
    base = source["url"].rstrip("/")
    hours = int(source.get("hours_back", 48 if full else 2))
    for key in features:
        where = f"feature {key}"
        url = f"{base}/api/admin/client-metrics/features/{quote(str(key), safe='')}/raw"
        document = get_json(url, {"hoursBack": hours}, headers, float(source.get("timeout_seconds", 10)),
                            where, allow_link_local=bool(source.get("allow_link_local", False)))
        data = document.get("data") if isinstance(document, dict) else None
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise SourceError(f"{where}: the answer has no 'data' list")
        # Unleash fills every hour of the window, most with zeros: keep only real counts.
        records = [(f"{key} item {i + 1}", r) for i, r in enumerate(data)
                   if r.get("yes") not in (0, None) or r.get("no") not in (0, None)]
        yield Batch(records, where=where)
