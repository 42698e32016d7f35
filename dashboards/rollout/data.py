"""What the dashboard pages show, as DataFrames and dicts: plain queries, no Dash, no Flask request.

Callbacks call these and only render; tests call them directly.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy import func, select

from app.db import db, utcnow
from app.errors import NotFound
from app.models import (
    AuditEntry,
    ExposureSpell,
    Feature,
    RejectedFetch,
    RolloutStage,
    RolloutTransition,
    SdkInstance,
)
from app.services.audience.stages import People, stage_audience
from app.services.kpi_reads import cache as kpi_cache
from app.services.kpi_reads import figures
from app.services.reporting import board_report
from app.services.rollout import gates
from app.services.rollout import transitions as rollout

PORTFOLIO_COLUMNS = [
    "key", "name", "owner", "status", "stage", "stage_count", "stage_name", "stage_label",
    "exposed_now", "since", "everyone",
]


def feature_status(feature: Feature, stage_count: int) -> str:
    """``archived``, ``killed``, ``off`` (not started), ``complete`` (at its last stage) or ``live``."""
    if feature.archived_at is not None:
        return "archived"
    if feature.killed:
        return "killed"
    if feature.current_stage <= 0:
        return "off"
    if feature.current_stage >= stage_count:
        return "complete"
    return "live"


def reaches_everyone(feature: Feature, current_percentage: int) -> bool:
    """Whether the feature is on for everybody: live at a stage of 100 %. A last stage of cohorts
    only reaches its cohorts, however the plan names it."""
    return (feature.archived_at is None and not feature.killed and feature.current_stage > 0
            and current_percentage >= 100)


def _stage_label(feature: Feature, stage_name: str | None, stage_count: int) -> str:
    if feature.killed:
        return "killed"
    if feature.current_stage <= 0 or stage_name is None:
        return "off"
    return f"{stage_name} ({feature.current_stage} of {stage_count})"


def _last_transition_at() -> dict[int, datetime]:
    # The state a feature is in began with its latest transition (by effective time).
    rows = db.session.execute(
        select(RolloutTransition.feature_id, func.max(RolloutTransition.effective_at))
        .group_by(RolloutTransition.feature_id)
    ).all()
    return {fid: _aware(at) for fid, at in rows if at is not None}


def _aware(at: datetime) -> pd.Timestamp:
    stamp = pd.Timestamp(at)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _exposed_now() -> dict[int, int]:
    """People exposed now, per feature id: remembered under the live KPI revision, which every
    change of an exposure spell moves (counting the open spells of 100,000 people and 20 features
    took ~0.3 s of each portfolio view)."""
    return kpi_cache.cached(kpi_cache.live_version(), ("exposed_now",), lambda: dict(db.session.execute(
        select(ExposureSpell.feature_id, func.count()).where(ExposureSpell.end_at.is_(None))
        .group_by(ExposureSpell.feature_id)).all()))


def portfolio() -> pd.DataFrame:
    """Every feature not archived with its current stage, the people exposed now and since when
    it is there."""
    features = db.session.scalars(select(Feature).where(Feature.archived_at.is_(None))
                                  .order_by(Feature.name, Feature.key)).all()
    stage_counts = dict(db.session.execute(
        select(RolloutStage.feature_id, func.count()).group_by(RolloutStage.feature_id)
    ).all())
    stage_rows = db.session.execute(
        select(RolloutStage.feature_id, RolloutStage.position, RolloutStage.name, RolloutStage.percentage)
    ).all()
    stage_names = {(fid, pos): name for fid, pos, name, _pct in stage_rows}
    percentages = {(fid, pos): pct for fid, pos, _name, pct in stage_rows}
    exposed = _exposed_now()
    since = _last_transition_at()
    rows = []
    for f in features:
        n = stage_counts.get(f.id, 0)
        stage_name = stage_names.get((f.id, f.current_stage))
        rows.append({
            "key": f.key,
            "name": f.name,
            "owner": f.owner or "",
            "status": feature_status(f, n),
            "stage": f.current_stage,
            "stage_count": n,
            "stage_name": stage_name or "",
            "stage_label": _stage_label(f, stage_name, n),
            "exposed_now": int(exposed.get(f.id, 0)),
            "since": since.get(f.id, pd.NaT),
            "everyone": reaches_everyone(f, percentages.get((f.id, f.current_stage), 0)),
        })
    frame = pd.DataFrame(rows, columns=PORTFOLIO_COLUMNS)
    frame["exposed_now"] = frame["exposed_now"].astype("int64")
    frame["since"] = pd.to_datetime(frame["since"], utc=True)
    return frame


def feature_options() -> list[dict]:
    """The features for a picker: ``[{"label": name, "value": key}]``; archived ones last, marked
    (their history stays reachable, and they can be unarchived)."""
    rows = db.session.execute(select(Feature.name, Feature.key, Feature.archived_at.is_not(None))
                              .order_by(Feature.archived_at.is_not(None), Feature.name)).all()
    return [{"label": f"{name} ({key})" + (" · archived" if archived else ""), "value": key}
            for name, key, archived in rows]


def _feature(key: str) -> Feature:
    feature = db.session.scalar(select(Feature).where(Feature.key == key))
    if feature is None:
        raise NotFound(f"no feature with key {key!r}")
    return feature


def rollout_position(key: str) -> dict:
    """Where the feature stands, cheaply (no audiences): ``{"stage", "stage_count", "killed"}``."""
    feature = _feature(key)
    return {"stage": feature.current_stage, "stage_count": len(feature.stages), "killed": feature.killed}


def is_archived(key: str) -> bool:
    """Whether the feature is archived (it then refuses every transition)."""
    return _feature(key).archived_at is not None


def stage_audiences(feature: Feature) -> list[int]:
    """How many people each stage reaches (cumulative cohorts plus its percentage, bucketed as the
    SDKs do), from the same function that opens the exposure spells."""
    people = People()
    return [len(stage_audience(feature, stage.position, people)) for stage in feature.stages]


def rollout_overview(key: str) -> dict:
    """One feature's rollout: its state and its stages with their audiences.

    :param key: the feature key.
    :returns: ``{"key", "name", "owner", "description", "status", "stage", "stage_count",
        "stage_label", "everyone" (live at 100 %), "exposed_now", "since", "stages": DataFrame}``;
        the stages frame has ``position, name, cohorts, percentage, audience, state`` (state: done,
        current, next, killed).
    """
    feature = _feature(key)
    n = len(feature.stages)
    audiences = stage_audiences(feature)
    stages = []
    for stage, audience in zip(feature.stages, audiences, strict=True):
        if stage.position < feature.current_stage:
            state = "done"
        elif stage.position == feature.current_stage:
            state = "killed" if feature.killed else "current"
        else:
            state = "next"
        stages.append({
            "position": stage.position,
            "name": stage.name,
            "cohorts": ", ".join(c.key for c in stage.cohorts),
            "percentage": stage.percentage,
            "audience": audience,
            "state": state,
        })
    exposed = db.session.scalar(
        select(func.count()).select_from(ExposureSpell)
        .where(ExposureSpell.feature_id == feature.id, ExposureSpell.end_at.is_(None))
    )
    current_name = feature.stages[feature.current_stage - 1].name if 0 < feature.current_stage <= n else None
    return {
        "key": feature.key,
        "name": feature.name,
        "owner": feature.owner or "",
        "description": feature.description or "",
        "status": feature_status(feature, n),
        "killed": feature.killed,
        "archived": feature.archived_at is not None,
        "stage": feature.current_stage,
        "stage_count": n,
        "stage_label": _stage_label(feature, current_name, n),
        "everyone": reaches_everyone(feature, feature.stages[feature.current_stage - 1].percentage
                                     if 0 < feature.current_stage <= n else 0),
        "exposed_now": int(exposed or 0),
        "since": _last_transition_at().get(feature.id),
        "stages": pd.DataFrame(
            stages, columns=["position", "name", "cohorts", "percentage", "audience", "state"]
        ),
    }


def transitions(key: str) -> pd.DataFrame:
    """The feature's rollout history, newest first."""
    feature = _feature(key)
    rows = db.session.scalars(
        select(RolloutTransition)
        .where(RolloutTransition.feature_id == feature.id)
        .order_by(RolloutTransition.effective_at.desc(), RolloutTransition.id.desc())
    ).all()
    names = {s.position: s.name for s in feature.stages}
    return pd.DataFrame(
        [{"effective_at": t.effective_at, "action": t.action, "from_stage": t.from_stage,
          "to_stage": t.to_stage, "from_name": stage_name(names, t.from_stage),
          "to_name": stage_name(names, t.to_stage), "killed_after": t.killed_after, "actor": t.actor,
          "reason": t.reason or "", "recorded_at": t.recorded_at,
          "override": _overridden(t)} for t in rows],
        columns=["effective_at", "action", "from_stage", "to_stage", "from_name", "to_name", "killed_after",
                 "actor", "reason", "recorded_at", "override"],
    )


def stage_name(names: dict[int, str], position: int) -> str:
    """A stage as people read it: its name (``off`` before the first; the number if it is gone)."""
    if position <= 0:
        return "off"
    return names.get(position) or f"stage {position} (since removed)"


def _overridden(transition: RolloutTransition) -> str:
    """The failing criteria an advance overrode, as one line; empty for a gate that held."""
    gate = rollout.gate_of_transition(transition)
    return ", ".join(c["criterion"] for c in gate["gate"]["failed"]) if gate["override"] else ""


def audit_entries(key: str, limit: int = 50) -> pd.DataFrame:
    """The audit trail recorded against this feature, newest first."""
    _feature(key)
    rows = db.session.scalars(
        select(AuditEntry)
        .where(AuditEntry.entity_type == "feature", AuditEntry.entity_key == key)
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        .limit(limit)
    ).all()
    return pd.DataFrame(
        [{"at": a.at, "actor": a.actor, "action": a.action, "reason": a.reason or ""} for a in rows],
        columns=["at", "actor", "action", "reason"],
    )


def connected_sdks(now: datetime | None = None) -> pd.DataFrame:
    """SDK instances seen on the client API, most recent first, with whether they still poll.

    An instance counts as connected while it was seen within three of its polling intervals
    (15 s when it did not say), or five minutes, whichever is longer.
    """
    now = now or utcnow()
    rows = db.session.scalars(select(SdkInstance).order_by(SdkInstance.last_seen.desc())).all()
    out = []
    for sdk in rows:
        window = max(timedelta(minutes=5), timedelta(milliseconds=3 * (sdk.interval_ms or 15000)))
        out.append({
            "app_name": sdk.app_name, "instance_id": sdk.instance_id, "environment": sdk.environment,
            "sdk_version": sdk.sdk_version or "", "first_seen": sdk.first_seen,
            "last_seen": sdk.last_seen, "connected": now - sdk.last_seen <= window,
        })
    return pd.DataFrame(out, columns=["app_name", "instance_id", "environment", "sdk_version",
                                      "first_seen", "last_seen", "connected"])


def rejected_fetches(days: int = 7, today: datetime | None = None) -> pd.DataFrame:
    """Refused client-API requests of the last ``days`` days, per day, reason and app."""
    since = ((today or utcnow()) - timedelta(days=days - 1)).strftime("%Y-%m-%d")
    rows = db.session.scalars(
        select(RejectedFetch).where(RejectedFetch.day >= since)
        .order_by(RejectedFetch.day.desc(), RejectedFetch.count.desc())
    ).all()
    return pd.DataFrame(
        [{"day": r.day, "reason": r.reason, "app_name": r.app_name, "count": r.count,
          "last_at": r.last_at} for r in rows],
        columns=["day", "reason", "app_name", "count", "last_at"],
    )


def portfolio_figures(month: str) -> dict[str, dict]:
    """Per feature key, what the portfolio sorts and filters on besides its rollout: ``roi_pct``
    and ``adoption_rate`` of ``month`` (None when there is nothing to divide by), both from the
    one KPI read path (app/services/kpi_reads/figures.py, through the board report's month
    quality for adoption), and ``gate``: ``passed``, ``failed`` or ``none`` (never evaluated)."""
    roi = {row["feature"]: row["roi_pct"] for row in figures.roi_figures(month)[0]["features"]}
    quality = board_report.month_quality(month)
    out = {}
    for key in db.session.scalars(select(Feature.key).where(Feature.archived_at.is_(None))):
        history = gates.gate_history(key, limit=1)
        passed = gates.evaluation_dict(history[0])["passed"] if history else None
        gate = "none" if passed is None else ("passed" if passed else "failed")
        out[key] = {"roi_pct": roi.get(key), "adoption_rate": (quality.get(key) or {}).get("adoption_rate"),
                    "quality": quality.get(key), "gate": gate}
    return out


SORTABLE = ("name", "stage", "exposed_now", "since", "roi_pct", "adoption_rate")


def select_rows(frame: pd.DataFrame, search: str | None, stages: list | None, statuses: list | None,
                gate_results: list | None, sort: str | None, order: str | None) -> pd.DataFrame:
    """The portfolio rows matching the search (name or key, any case) and every filter chosen
    (none chosen: all), sorted on ``sort``; features without a figure sort last either way."""
    rows = frame
    needle = (search or "").strip().lower()
    if needle:
        rows = rows[rows["name"].str.lower().str.contains(needle, regex=False)
                    | rows["key"].str.lower().str.contains(needle, regex=False)]
    if stages:
        rows = rows[rows["stage_name"].where(rows["stage"] > 0, "").isin(stages)]
    if statuses:
        rows = rows[rows["status"].isin(statuses)]
    if gate_results:
        rows = rows[rows["gate"].isin(gate_results)]
    by = sort if sort in SORTABLE else "name"
    key = (lambda c: c.str.lower()) if by == "name" else None
    return rows.sort_values(by, ascending=order != "desc", na_position="last", key=key, kind="stable")
