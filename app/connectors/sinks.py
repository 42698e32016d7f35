"""Writing mapped rows: events through the ingestion service, baselines through the activity
service, flag metrics by upsert. Every writer is idempotent, so a rerun after a crash or with
--full changes nothing it already wrote. None of them commits."""

from __future__ import annotations

from sqlalchemy import select

from app.db import db
from app.errors import Collector
from app.models import Baseline, Feature, FlagMetric


def write(target: str, rows: list[dict], source: str) -> int:
    """Write ``rows`` (already validated) to ``target``; returns how many were new or changed.

    :param target: ``events``, ``baselines`` or ``flag_metrics``.
    :param source: the channel recorded on the rows, ``connector:<name>``.
    """
    if not rows:
        return 0
    if target == "events":
        return _events(rows, source)
    if target == "baselines":
        return _baselines(rows, source)
    return _flag_metrics(rows)


def _events(rows: list[dict], source: str) -> int:
    from app.services.ingest.events import ingest_events

    payload = [{**row, "occurred_at": row["occurred_at"].isoformat()} for row in rows]
    payload = [{k: v for k, v in row.items() if v is not None} for row in payload]
    return ingest_events(payload, source=source).accepted  # duplicates by event_id are ignored


def _baselines(rows: list[dict], source: str) -> int:
    from app.services.ingest.activity import record_baseline

    written = 0
    for row in rows:
        # A baseline has no id of its own: the same (feature, task, moment) from this source is
        # the same measurement, so a rerun does not record it twice.
        seen = db.session.scalar(
            select(Baseline.id).join(Feature, Feature.id == Baseline.feature_id).where(
                Feature.key == row["feature"], Baseline.task == row["task"],
                Baseline.source == source, Baseline.measured_at == row["measured_at"],
            )
        )
        if seen is None:
            spec = {**row, "source": source, "measured_at": row["measured_at"].isoformat()}
            record_baseline({k: v for k, v in spec.items() if v is not None})
            written += 1
    return written


def _flag_metrics(rows: list[dict]) -> int:
    features = dict(db.session.execute(select(Feature.key, Feature.id)).all())
    problems = Collector()
    for index, row in enumerate(rows):
        if row["feature"] not in features:
            problems.add("feature", f"unknown feature {row['feature']!r}", index)
    problems.raise_if_any("flag metrics for unknown features")
    written = 0
    for row in rows:
        hour = row["hour"].replace(minute=0, second=0, microsecond=0)
        metric = db.session.scalar(select(FlagMetric).where(
            FlagMetric.feature_key == row["feature"], FlagMetric.app_name == row["app_name"],
            FlagMetric.environment == row["environment"], FlagMetric.hour == hour,
        ))
        if metric is None:
            metric = FlagMetric(feature_key=row["feature"], app_name=row["app_name"],
                                environment=row["environment"], hour=hour, yes=0, no=0)
            db.session.add(metric)
        # A pull reports an hour's whole count, so it replaces (never adds to) what is stored.
        if (metric.yes, metric.no) != (row["yes"], row["no"]):
            metric.yes, metric.no = row["yes"], row["no"]
            written += 1
    return written
