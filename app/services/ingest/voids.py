"""Corrections of recorded figures: void a cost entry, void events by id.

Nothing is deleted: a voided row keeps its values and gets ``voided_at``, and every figure skips
it from then on (costs at once, since they are read live; events once the KPI refresh has redone
the days they fell on, which the void marks dirty in its own transaction). A closed month whose
figures move is then restated by the monthly close's fingerprint check. Voiding twice changes
nothing the second time. Each void is audited with its reason. Functions flush, never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select, update

from app.db import db, utcnow
from app.errors import Collector, NotFound
from app.formats import iso_utc as _iso
from app.models import CostEntry, Event, Feature
from app.models.kpi import DirtyDay
from app.schemas.common import MAX_REASON, parse, validate  # noqa: F401 (MAX_REASON: the dashboard's)
from app.schemas.events import MAX_VOID_BATCH, EventVoid  # noqa: F401 (MAX_VOID_BATCH: the dashboard's)
from app.schemas.features import ReasonIn
from app.services.audit import audit

# Events voided in one call (MAX_VOID_BATCH: enough for a bad import's worth of rows, small
# enough that the ids, their audit entry and the dirty days stay one short transaction) and the
# longest reason: the schema's (app/schemas/events.py, app/schemas/common.py).
_CHUNK = 500  # bound parameters per IN (...), well under every driver's limit


def required_reason(value, problems: Collector) -> str | None:
    """The stripped reason, or a detail on ``reason`` (corrections always say why)."""
    found = validate(ReasonIn, {"reason": value}, problems)
    return found.reason if found is not None else None


def _feature(key: str) -> Feature:
    feature = db.session.scalar(select(Feature).where(Feature.key == key))
    if feature is None:
        raise NotFound(f"no feature with key {key!r}")
    return feature


def cost_record(entry: CostEntry, feature_key: str) -> dict:
    """A cost entry as the API and the dashboard show it."""
    return {
        "id": entry.id, "feature": feature_key, "month": entry.month, "amount_eur": entry.amount_eur,
        "category": entry.category, "note": entry.note, "recorded_at": _iso(entry.recorded_at),
        "voided": entry.voided_at is not None, "voided_at": _iso(entry.voided_at),
        "void_reason": entry.void_reason,
    }


def list_costs(feature_key: str) -> list[dict]:
    """Every cost entry of a feature, voided ones included (marked), by month then id.

    :param feature_key: the feature's key (404 when unknown).
    """
    feature = _feature(feature_key)
    entries = db.session.scalars(select(CostEntry).where(CostEntry.feature_id == feature.id)
                                 .order_by(CostEntry.month, CostEntry.id))
    return [cost_record(e, feature.key) for e in entries]


def void_cost(feature_key: str, cost_id: int, actor: str, reason) -> CostEntry:
    """Void one cost entry: it stays listed but counts in no cost or ROI figure any more.
    Voiding a voided entry changes nothing (and writes no second audit entry).

    :param feature_key: the feature the entry belongs to (404 when it belongs to another).
    :param cost_id: the entry's id (from ``GET /api/v1/features/{key}/costs``).
    :param actor: who voids it (audit log).
    :param reason: why; required.
    """
    problems = Collector()
    reason = required_reason(reason, problems)
    problems.raise_if_any("invalid void")
    feature = _feature(feature_key)
    entry = db.session.scalar(select(CostEntry).where(CostEntry.id == cost_id,
                                                      CostEntry.feature_id == feature.id)
                              .with_for_update())
    if entry is None:
        raise NotFound(f"feature {feature.key!r} has no cost entry {cost_id}")
    if entry.voided_at is not None:
        return entry
    before = cost_record(entry, feature.key)
    entry.voided_at, entry.void_reason = utcnow(), reason
    db.session.flush()
    audit(actor, "cost.void", "cost_entry", str(entry.id), before, cost_record(entry, feature.key), reason)
    return entry


@dataclass
class VoidResult:
    voided: list[str]
    already_voided: list[str]


def void_events(body: dict, actor: str) -> VoidResult:
    """Void events by ``event_id`` (of one ``source``): all of them or none.

    :param body: ``{"event_ids": [...], "source"?: "api", "reason"}``; at most MAX_VOID_BATCH ids.
    :param actor: who voids them (audit log).
    :raises ValidationFailed: a missing reason, or ids no event of that source has (each named by
        its index in ``event_ids``); nothing is voided then.
    """
    problems = Collector()
    void = parse(EventVoid, body, "invalid void; nothing was voided")
    ids, source, reason = void.event_ids, void.source, void.reason
    wanted = list(dict.fromkeys(ids))
    found: dict[str, tuple[int, int, datetime, datetime | None]] = {}
    for i in range(0, len(wanted), _CHUNK):
        # Locked: a concurrent void of the same events waits, then finds them voided (no double).
        rows = db.session.execute(
            select(Event.event_id, Event.id, Event.feature_id, Event.occurred_at, Event.voided_at)
            .where(Event.source == source, Event.event_id.in_(wanted[i:i + _CHUNK]))
            .with_for_update())
        found.update({r[0]: (r[1], r[2], r[3], r[4]) for r in rows})
    for index, value in enumerate(ids):
        if value not in found:
            problems.add("event_ids", f"no event {value!r} from source {source!r}", index)
    problems.raise_if_any("unknown events; nothing was voided")

    fresh = [e for e in wanted if found[e][3] is None]
    already = [e for e in wanted if found[e][3] is not None]
    if fresh:
        now = utcnow()
        pks = [found[e][0] for e in fresh]
        for i in range(0, len(pks), _CHUNK):
            db.session.execute(update(Event).where(Event.id.in_(pks[i:i + _CHUNK]), Event.voided_at.is_(None))
                               .values(voided_at=now), execution_options={"synchronize_session": False})
        _mark_dirty({(found[e][1], _utc_day(found[e][2])) for e in fresh})
        audit(actor, "events.void", "events", source, None,
              {"event_ids": fresh, "already_voided": already}, reason)
    return VoidResult(voided=fresh, already_voided=already)


def _utc_day(at: datetime) -> date:
    return (at.astimezone(UTC) if at.tzinfo else at).date()


def _mark_dirty(days: set[tuple[int, date]]) -> None:
    """Mark the voided events' days for the incremental refresh, as ingestion marks new ones
    (in key order, so concurrent writers lock them in the same order)."""
    if db.session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        stmt: Any = pg_insert(DirtyDay).on_conflict_do_update(
            index_elements=["feature_id", "day"], set_={"version": DirtyDay.version + 1})
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        stmt = sqlite_insert(DirtyDay).on_conflict_do_update(
            index_elements=["feature_id", "day"], set_={"version": DirtyDay.version + 1})
    db.session.execute(stmt, [{"feature_id": f, "day": d, "version": 1} for f, d in sorted(days)])

