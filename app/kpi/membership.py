"""Which department or cohort a person counts in for a window: the membership as it stood.

A breakdown splits people, so each person counts once per window: in the group they belonged to
at the last instant of the window at which they were exposed, or, when they were not exposed in
the window, at its last instant. Membership is a history of intervals [valid_from, valid_to)
(NaT: since the beginning / still), so "at the last instant before L" means valid_from < L <=
valid_to.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

import pandas as pd

from app.kpi.exposure import day_start, naive_utc

HISTORY_COLUMNS = ["person_id", "group", "valid_from", "valid_to"]


def reference_instants(spells: pd.DataFrame, start: date, end: date,
                       people: Iterable[int]) -> pd.Series:
    """Per person (index), the instant L whose membership counts for the days [start, end]: the
    end of their last exposure inside the window (a spell still open counts to the window's end),
    else the window's end. Naive UTC."""
    lo, hi = day_start(start), day_start(end + timedelta(days=1))
    index = pd.Index(sorted({int(p) for p in people}), name="person_id")
    out = pd.Series(hi, index=index, dtype="datetime64[ns]")
    if spells.empty or index.empty:
        return out
    s_start, s_end = naive_utc(spells["start_at"]), naive_utc(spells["end_at"])
    hit = (s_start < hi) & (s_end.isna() | ((s_end > lo) & (s_end > s_start)))
    limit = s_end.where(s_end.notna() & (s_end < hi), hi)
    last = limit[hit].groupby(spells.loc[hit, "person_id"].astype(int).to_numpy()).max()
    last = last[last.index.isin(index)]
    out.loc[last.index] = last.to_numpy()
    return out


def groups_at(history: pd.DataFrame, instants: pd.Series, names: Iterable[str] = (),
              nobody: str | None = None) -> dict[str, set[int]]:
    """The people of each group just before each person's instant.

    :param history: ``HISTORY_COLUMNS``: one row per membership interval.
    :param instants: the instant per person_id (``reference_instants``).
    :param names: groups to list even when empty (every cohort).
    :param nobody: the group of people in no group then (departments), or None to leave them out.
    """
    out: dict[str, set[int]] = {str(name): set() for name in names}
    at = instants.rename("at").rename_axis("person_id").reset_index()
    frame = history.astype({"person_id": "int64"}).merge(at, on="person_id")
    valid_from, valid_to = naive_utc(frame["valid_from"]), naive_utc(frame["valid_to"])
    held = (valid_from.isna() | (valid_from < frame["at"])) & (valid_to.isna() | (valid_to >= frame["at"]))
    for name, part in frame[held].groupby("group"):
        out.setdefault(str(name), set()).update(part["person_id"].astype(int))
    if nobody is not None:
        placed = set().union(*out.values()) if out else set()
        rest = set(instants.index.astype(int)) - placed
        if rest:
            out.setdefault(nobody, set()).update(rest)
    return out
