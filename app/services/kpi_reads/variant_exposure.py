"""Which variant a person had, when: the exposure spells cut by the feature's weight changes.

A person exposed at an instant is in the variant the SDK's ``get_variant`` answers then
(KPI_DEFINITIONS.md): Unleash's engine hashes ``"<feature key>:<userId>"`` with the variant seed
to a position 1..1000 and walks the split in force (app/flags/stickiness.py). The position never
changes, so a person keeps their variant while the split holds and moves only when a weight
change moves their slice. Before the first recorded split (an exposure back-dated before the
variants were defined) the first split holds, as for membership history.
"""

from __future__ import annotations

import json
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, cast

import numpy as np
import pandas as pd
from sqlalchemy import DateTime, select, type_coerce

from app.db import db
from app.flags.stickiness import variant_of, variant_target, variant_targets, variants_for
from app.models import ExposureSpell, Feature, Person, VariantWeightChange
from app.services.lookups import variants_of


@dataclass(frozen=True)
class Splits:
    """The feature's splits in force from each instant on (naive UTC), oldest first."""

    key: str
    names: list[str]  # in Unleash's order
    starts: list[datetime]
    weights: list[list[tuple[str, int]]]

    def at(self, instant: datetime) -> list[tuple[str, int]]:
        i = bisect_right(self.starts, _naive(instant)) - 1
        return self.weights[max(i, 0)]

    def variant_before(self, person_id: str, instant: datetime) -> str | None:
        """The variant of the split in force just before ``instant`` (a spell's exclusive end)."""
        i = bisect_left(self.starts, _naive(instant)) - 1
        return variant_of(variant_target(self.key, person_id), self.weights[max(i, 0)])

    def variant(self, person_id: str, instant: datetime) -> str | None:
        return variant_of(variant_target(self.key, person_id), self.at(instant))


def _naive(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def splits(feature: Feature) -> Splits | None:
    """The feature's weight history; None for a feature without variants."""
    names = [v.name for v in variants_of(feature.id)]
    if not names:
        return None
    rows = db.session.execute(
        select(type_coerce(VariantWeightChange.effective_at, DateTime), VariantWeightChange.weights)
        .where(VariantWeightChange.feature_id == feature.id)
        .order_by(VariantWeightChange.effective_at, VariantWeightChange.id)).all()
    starts: list[datetime] = []
    weights: list[list[tuple[str, int]]] = []
    for at, text in rows:
        split = json.loads(text)
        if starts and starts[-1] == at:  # two changes at one instant: the later one holds
            starts.pop()
            weights.pop()
        starts.append(at)
        weights.append([(name, int(split.get(name, 0))) for name in names])
    return Splits(feature.key, names, starts, weights)


def variant_at(feature: Feature, person_id: str, instant: datetime) -> str | None:
    """The variant ``person_id`` (the external id) had at ``instant``; None when not exposed then
    or the feature has no variants."""
    split = splits(feature)
    if split is None:
        return None
    at = _naive(instant)
    spell = ExposureSpell
    exposed = db.session.scalar(
        select(spell.id).join(Person, Person.id == spell.person_id).where(
            spell.feature_id == feature.id, Person.person_id == person_id,
            type_coerce(spell.start_at, DateTime) <= at,
            (spell.end_at.is_(None)) | (type_coerce(spell.end_at, DateTime) > at)).limit(1))
    return split.variant(person_id, at) if exposed is not None else None


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time())


def periods(feature: Feature, start: date, end: date) -> pd.DataFrame:
    """Who was in which variant during the days [start, end]: one row per exposure spell and split
    overlapping the window, clipped to both (``person_id`` the row id, ``external_id``,
    ``variant``, ``start_at``, ``end_at``; naive UTC, end exclusive)."""
    columns = ["person_id", "external_id", "variant", "start_at", "end_at"]
    split = splits(feature)
    if split is None:
        return pd.DataFrame(columns=columns)
    lo, hi = _day_start(start), _day_start(end + timedelta(days=1))
    spell = ExposureSpell
    s_start, s_end = type_coerce(spell.start_at, DateTime), type_coerce(spell.end_at, DateTime)
    rows = db.session.execute(
        select(spell.person_id, Person.person_id, s_start, s_end).join(Person, Person.id == spell.person_id)
        .where(spell.feature_id == feature.id, s_start < hi,
               spell.end_at.is_(None) | ((s_end > lo) & (s_end > s_start)))).all()
    if not rows:
        return pd.DataFrame(columns=columns)
    spells = pd.DataFrame([tuple(r) for r in rows], columns=["person_id", "external_id", "s0", "s1"])
    # pandas clips a datetime Series at a datetime; pandas-stubs' clip only admits numbers: cast.
    spells["s0"] = pd.to_datetime(spells["s0"]).clip(lower=cast(Any, lo))
    spells["s1"] = pd.to_datetime(spells["s1"]).fillna(hi).clip(upper=cast(Any, hi))
    spells["target"] = variant_targets(split.key, spells["external_id"])
    # Split i holds over [starts[i], starts[i+1]); the first one also before its own start.
    bounds = [pd.Timestamp.min, *[pd.Timestamp(t) for t in split.starts[1:]], pd.Timestamp.max]
    parts = []
    for i, weights in enumerate(split.weights):
        p0 = spells["s0"].where(spells["s0"] > bounds[i], bounds[i])
        p1 = spells["s1"].where(spells["s1"] < bounds[i + 1], bounds[i + 1])
        held = p0 < p1
        if not held.any():
            continue
        part = spells.loc[held, ["person_id", "external_id", "target"]].copy()
        part["variant"] = variants_for(part["target"].to_numpy(), weights)
        part["start_at"], part["end_at"] = p0[held].to_numpy(), p1[held].to_numpy()
        parts.append(part[columns])
    if not parts:
        return pd.DataFrame(columns=columns)
    return pd.concat(parts, ignore_index=True)


def label_events(events: pd.DataFrame, spans: pd.DataFrame) -> pd.DataFrame:
    """``events`` (person_id the row id, occurred_at, variant) with each event's variant: the one it
    names, else its person's at occurred_at (from ``spans``, as ``periods`` gives them); events of
    nobody's variant left out (KPI_DEFINITIONS.md, "Variant")."""
    events = events.copy()
    events["occurred_at"] = pd.to_datetime(events["occurred_at"])
    unnamed = events[events["variant"].isna()].reset_index()
    if not unnamed.empty and not spans.empty:
        held_spans = spans[["person_id", "variant", "start_at", "end_at"]].rename(columns={"variant": "held"})
        hits = unnamed.merge(held_spans, on="person_id")
        hits = hits[(hits["start_at"] <= hits["occurred_at"]) & (hits["occurred_at"] < hits["end_at"])]
        held = hits.drop_duplicates("index").set_index("index")["held"]
        events.loc[held.index, "variant"] = held
    return events[events["variant"].notna()].copy()


def exposed_by_variant(feature: Feature, start: date, end: date) -> dict[str, set[int]]:
    """The people (row ids) exposed to each variant at any instant of [start, end] (every variant
    listed, empty ones too); a person whose variant changed inside the window is in both."""
    split = splits(feature)
    if split is None:
        return {}
    frame = periods(feature, start, end)
    out: dict[str, set[int]] = {name: set() for name in split.names}
    for name, part in frame.groupby("variant"):
        out[str(name)].update(int(p) for p in part["person_id"])
    return out


def assignments_now(feature: Feature) -> dict[str, str]:
    """external person id -> variant, for everyone holding an open spell now."""
    split = splits(feature)
    if split is None:
        return {}
    spell = ExposureSpell
    ids = list(db.session.scalars(select(Person.person_id).join(spell, spell.person_id == Person.id)
                                  .where(spell.feature_id == feature.id, spell.end_at.is_(None))))
    names = variants_for(variant_targets(split.key, ids), split.weights[-1])
    return dict(zip(ids, names, strict=True))


def variants_before(split: Splits, user_ids: list[str], instants: np.ndarray) -> list[str | None]:
    """Each person's variant just before their instant (``Splits.variant_before`` for many;
    ``instants`` naive UTC datetime64)."""
    targets = np.asarray(variant_targets(split.key, user_ids), dtype=np.int64)
    starts = np.array(split.starts, dtype="datetime64[ns]")
    which = np.maximum(np.searchsorted(starts, instants.astype("datetime64[ns]"), side="left") - 1, 0)
    out = np.empty(len(user_ids), dtype=object)
    for i, weights in enumerate(split.weights):
        chosen = which == i
        if chosen.any():
            out[chosen] = variants_for(targets[chosen], weights)
    return list(out)


def variants_at(feature: Feature, moments: list[tuple[int, datetime]]) -> list[str | None]:
    """The variant of each (person row id, instant): the one they were in then, None when not
    exposed then or the feature has no variants."""
    if not moments or splits(feature) is None:
        return [None] * len(moments)
    instants = [_naive(t) for _, t in moments]
    frame = periods(feature, min(instants).date(), max(instants).date())
    asked = pd.DataFrame({"person_id": [p for p, _ in moments], "at": pd.to_datetime(instants)}).reset_index()
    hits = asked.merge(frame[["person_id", "variant", "start_at", "end_at"]], on="person_id")
    hits = hits[(hits["start_at"] <= hits["at"]) & (hits["at"] < hits["end_at"])].drop_duplicates("index")
    found = dict(zip(hits["index"], hits["variant"], strict=True))
    return [found.get(i) for i in range(len(moments))]
