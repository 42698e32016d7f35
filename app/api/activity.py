"""Ingestion endpoints: events, feedback, baselines and costs."""

from __future__ import annotations

from flask import jsonify

from app import plausible
from app.api import bp, json_body
from app.api.declare import accepts, answers
from app.db import db
from app.observability import count_events
from app.schemas.activity import BaselineIn, CostIn, FeedbackIn
from app.schemas.events import Event
from app.schemas.responses import INT, N_NUM, N_STR, NUM, STR, obj
from app.security import current_identity, requires
from app.services.ingest.activity import record_baseline, record_cost
from app.services.ingest.events import ingest_events
from app.services.ingest.feedback import record_feedback


@bp.post("/events")
@requires("events:write")
@accepts(Event, many=True, max_items=plausible.MAX_BATCH, rows_field="events")
@answers(obj(("accepted", "duplicates"), accepted=INT, duplicates=INT))
def post_events():
    """Ingest a batch of at most 10,000 events: all of them or none."""
    identity = current_identity()
    if identity.token_kind == "ingest":  # noqa: S105 (a token kind, not a secret)
        # An ingest token posts under its own source only: it must not be able to fill another
        # channel's id space (``csv``, ``connector:...``) and so shadow a later genuine import.
        # By name, not id: a replacement token given the same name keeps the same id space.
        source = f"ingest:{identity.token_name}"[:120]  # the width of events.source
        result = ingest_events(json_body(), source=source, bound=True)
    else:
        result = ingest_events(json_body())
    db.session.commit()
    count_events(result.accepted, result.duplicates)
    return jsonify({"accepted": result.accepted, "duplicates": result.duplicates})


@bp.post("/feedback")
@requires("feedback:write")
@accepts(FeedbackIn, many=True, max_items=plausible.MAX_BATCH)
@answers(obj(("accepted",), accepted=INT))
def post_feedback():
    """Store a batch of feedback: all of it or none."""
    stored = record_feedback(json_body())
    db.session.commit()
    return jsonify({"accepted": len(stored)})


@bp.post("/baselines")
@requires("baselines:write")
@accepts(BaselineIn)
@answers(obj(("id",), id=INT, task=STR, minutes_per_task=N_NUM, error_rate=N_NUM, source=STR,
            measured_at=STR), 201)
def post_baseline():
    """Record an explicit baseline of a feature's task."""
    baseline = record_baseline(json_body())
    db.session.commit()
    return jsonify({
        "id": baseline.id, "task": baseline.task, "minutes_per_task": baseline.minutes_per_task,
        "error_rate": baseline.error_rate, "source": baseline.source,
        "measured_at": baseline.measured_at.isoformat(),
    }), 201


@bp.post("/features/<key>/costs")
@requires("costs:write")
@accepts(CostIn)
@answers(obj(("id", "feature", "month", "amount_eur", "category"), id=INT, feature=STR,
            month=STR, amount_eur=NUM, category=STR, note=N_STR), 201)
def post_cost(key: str):
    """Record a monthly cost entry of a feature."""
    entry = record_cost(key, json_body())
    db.session.commit()
    return jsonify({"id": entry.id, "feature": key, "month": entry.month,
                    "amount_eur": entry.amount_eur, "category": entry.category,
                    "note": entry.note}), 201
