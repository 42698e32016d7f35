"""Who was exposed when: exposure spells against windows, first exposure, the baseline window."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pandas as pd

from app.kpi.rows import id_set

SPELL_COLUMNS = ["person_id", "start_at", "end_at"]


def day_start(day: date) -> pd.Timestamp:
    """Midnight UTC opening ``day``, as a naive UTC timestamp (how spells are compared)."""
    return pd.Timestamp(datetime.combine(day, time.min))


def naive_utc(series: pd.Series) -> pd.Series:
    """Timestamps as naive UTC datetime64 (aware inputs are converted, naive ones are UTC)."""
    series = pd.to_datetime(series)
    if getattr(series.dt, "tz", None) is not None:
        series = series.dt.tz_convert("UTC").dt.tz_localize(None)
    return series


def exposed_people(spells: pd.DataFrame, start: date, end: date) -> set[int]:
    """People exposed at any instant of the days [start, end] (a spell is [start_at, end_at))."""
    return exposed_between(spells, day_start(start), day_start(end + timedelta(days=1)))


def exposed_between(spells: pd.DataFrame, lo: pd.Timestamp, hi: pd.Timestamp) -> set[int]:
    """People exposed at any instant of [lo, hi) (naive UTC): the one rule of who was exposed
    when, for the KPI windows and for the rollout service's own questions."""
    if spells.empty:
        return set()
    s_start, s_end = naive_utc(spells["start_at"]), naive_utc(spells["end_at"])
    open_or_later = s_end.isna() | (s_end > lo)
    # A spell that ends where it starts exposed nobody at any instant.
    non_empty = s_end.isna() | (s_end > s_start)
    hit = (s_start < hi) & open_or_later & non_empty
    return id_set(spells.loc[hit, "person_id"])


def first_exposure(spells: pd.DataFrame) -> pd.Series:
    """Each exposed person's first exposure instant (naive UTC), indexed by person_id."""
    if spells.empty:
        return pd.Series(dtype="datetime64[us]")
    frame = pd.DataFrame({"person_id": spells["person_id"].astype(int),
                          "start_at": naive_utc(spells["start_at"])})
    return frame.groupby("person_id")["start_at"].min()


def baseline_window(spells: pd.DataFrame, baseline_days: int) -> tuple[date, date] | None:
    """The ``baseline_days`` full days before the day of the feature's first exposure."""
    if spells.empty:
        return None
    first_day = naive_utc(spells["start_at"]).min().date()
    return first_day - timedelta(days=baseline_days), first_day - timedelta(days=1)
