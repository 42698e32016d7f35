"""A window's rollup reads, week by week, each week remembered until a refresh rewrites one of its
days (PostgreSQL).

At 100,000 people the first read of a window after a refresh was mostly its per-person sums
(issue #20): the refresh had rewritten one day, and the whole window was read again. Here a window
is cut into Monday-to-Sunday weeks (clipped to the window; ``summed`` cuts the last one into days),
each block's frame is remembered under the live revision and a stamp of its days, and the frames
are added up. A refresh that touched one day moves one block's stamp, so the next read takes that
block from the database and the others from the memo.

The stamp of a day: how many ``kpi_feature_days`` rows the feature has on it and the newest
``xmin`` among them. A refresh deletes and re-inserts the department-day rows of every day it
recomputes (all of them after a department change), so either a row comes from its newer
transaction or the day has fewer rows. The stamps are probed once per KPI revision (only a refresh
writes those rows, and it moves the revision). SQLite has no ``xmin``: a window is one block there,
remembered under the revision, as before.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import date, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import ColumnClause, func, literal_column, select

from app.db import db
from app.models.kpi import FeatureDay
from app.services.kpi_reads import cache as kpi_cache

Read = Callable[[int, date, date], pd.DataFrame]
Stamp = tuple[int, int]  # rows of the days, newest writer among them


def weeks(lo: date, hi: date) -> list[tuple[date, date]]:
    """The Monday-to-Sunday weeks that meet [lo, hi], each clipped to it (none when lo > hi)."""
    out, monday = [], lo - timedelta(days=lo.weekday())
    while monday <= hi:
        out.append((max(monday, lo), min(monday + timedelta(days=6), hi)))
        monday += timedelta(days=7)
    return out


def written_by(table: str) -> ColumnClause[int]:
    """The transaction that wrote a row (PostgreSQL's ``xmin``), as a number."""
    return literal_column(f"{table}.xmin::text::bigint")


def rows_stamp(table: str, *where) -> Stamp:
    """How many rows of ``table`` match ``where`` and the newest transaction that wrote one of
    them: it moves whenever a row is added, rewritten or deleted there (PostgreSQL)."""
    # The FROM comes from ``where``'s columns, which must be ``table``'s.
    n, newest = db.session.execute(select(func.count(), func.max(written_by(table))).where(*where)).one()
    return int(n), int(newest or 0)


def _day_stamps(feature_id: int, lo: date, hi: date) -> dict[date, Stamp]:
    writer = written_by("kpi_feature_days")
    rows = db.session.execute(
        select(FeatureDay.day, func.count(), func.max(writer))
        .where(FeatureDay.feature_id == feature_id, FeatureDay.day.between(lo, hi))
        .group_by(FeatureDay.day))
    return {day: (int(n), int(newest)) for day, n, newest in rows}


def _stamp(stamps: dict[date, Stamp], lo: date, hi: date) -> Stamp:
    days = [stamps[d] for d in stamps if lo <= d <= hi]
    return sum(n for n, _ in days), max((newest for _, newest in days), default=0)


def blocks(name: str, read: Read, feature_id: int, lo: date, hi: date, version: str | None
           ) -> list[pd.DataFrame]:
    """``read(feature_id, a, b)`` for each block [a, b] of [lo, hi], remembered: by week under
    the live revision and the week's stamp on PostgreSQL, as one block under ``version`` on
    SQLite (and nothing remembered when ``version`` is None).

    :param name: the memo's name for what ``read`` returns.
    """
    if version is None or db.session.get_bind().dialect.name != "postgresql" or lo > hi:
        return [kpi_cache.cached(version, (name, feature_id, lo, hi), lambda: read(feature_id, lo, hi))]
    stamps = kpi_cache.cached(version, ("day_stamps", feature_id, lo, hi),
                              lambda: _day_stamps(feature_id, lo, hi))
    live = kpi_cache.live_version()
    return [kpi_cache.cached(live, (name, feature_id, a, b, _stamp(stamps, a, b)),
                             functools.partial(read, feature_id, a, b))
            for a, b in weeks(lo, hi)]


def spans_of(lo: date, hi: date) -> list[tuple[date, date]]:
    """``summed``'s blocks of [lo, hi]: its weeks (``weeks``), the last one cut into days."""
    spans = weeks(lo, hi)
    if not spans:
        return spans
    last_lo, last_hi = spans.pop()
    return spans + [(last_lo + timedelta(days=i), last_lo + timedelta(days=i))
                    for i in range((last_hi - last_lo).days + 1)]


def summed(name: str, read: Read, keys: list[str], feature_id: int, lo: date, hi: date,
           version: str | None, whole: bool = False) -> pd.DataFrame:
    """``read(feature_id, lo, hi)`` as the sum of its blocks (``spans_of``: weeks, the last one by
    day; ``added``): on PostgreSQL each block and the sum of all but the last are remembered under
    the live revision and their stamps. A refresh of the newest day then re-reads that day and adds
    two frames, whatever the window's length (adding five and thirteen weeks took 0.1-0.25 s at
    100,000 people; reading the newest week again ~0.1 s). SQLite: one block under ``version``.

    :param keys: the columns the blocks are added up by.
    :param whole: remember the sum itself, not its blocks, and hand it out as remembered (the caller
        only reads it): for a window that refreshes rarely touch (a baseline window lies before the
        exposure), so a read after a refresh adds nothing.
    """
    if version is None or db.session.get_bind().dialect.name != "postgresql" or lo > hi:
        return added(blocks(name, read, feature_id, lo, hi, version), keys)
    stamps = kpi_cache.cached(version, ("day_stamps", feature_id, lo, hi),
                              lambda: _day_stamps(feature_id, lo, hi))
    live = kpi_cache.live_version()
    if whole:
        # Handed out as remembered (a copy of a month's sums is ~10 ms): such a caller only reads it.
        return kpi_cache.cached(live, (f"{name}_whole", feature_id, lo, hi, _stamp(stamps, lo, hi)),
                                lambda: added([read(feature_id, a, b) for a, b in weeks(lo, hi)], keys),
                                copies=False)
    spans = spans_of(lo, hi)
    marks = [_stamp(stamps, a, b) for a, b in spans]

    def block(i: int, copies: bool = True) -> pd.DataFrame:
        a, b = spans[i]
        return kpi_cache.cached(live, (name, feature_id, a, b, marks[i]),
                                functools.partial(read, feature_id, a, b), copies=copies)

    if len(spans) == 1:
        return block(0)
    # Not the whole sum too: at 100,000 people a quarter's sum is ~60 MB, and a third copy of each
    # window pushed the weeks of other windows out of a 512 MB memo. The head is kept with its keys'
    # hash table (``indexed``), so adding the last block finds its rows without hashing the head's
    # ~4 x 10^5 keys again (a group-by of both took 0.1-0.2 s of every first read after a refresh).
    # The frames added up are only read (``added_to`` makes a new one): not copied out of the memo.
    head = kpi_cache.cached(live, (f"{name}_head", feature_id, lo, spans[-2][1], tuple(marks[:-1])),
                            lambda: indexed(added([block(i, copies=False) for i in range(len(spans) - 1)],
                                                  keys), keys),
                            copies=False)
    return added_to(head, block(len(spans) - 1, copies=False), keys)


def _key_index(frame: pd.DataFrame, keys: list[str]) -> pd.Index:
    # A missing number (no department) as -1, which no id is: so it matches itself, as in ``added``.
    columns = [frame[k].fillna(-1) if pd.api.types.is_numeric_dtype(frame[k]) and frame[k].hasnans
               else frame[k] for k in keys]
    return pd.MultiIndex.from_arrays(columns) if len(columns) > 1 else pd.Index(columns[0])


def indexed(frame: pd.DataFrame, keys: list[str]) -> tuple[pd.DataFrame, pd.Index]:
    """``frame`` (one row per key, as ``added`` makes) with an index of its keys whose hash table
    is built now, to be remembered with it for ``added_to``."""
    index = _key_index(frame, keys)
    index.get_indexer(index[:1])  # builds the hash table, which the index keeps
    return frame, index


def added_to(head: tuple[pd.DataFrame, pd.Index], last: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """``added([head's frame, last], keys)``, the same rows in the same order with the same values,
    in time proportional to ``last``: its rows are found in ``head`` by its index (``indexed``),
    their values added there, and the keys ``head`` lacks appended. Both hold a row per key."""
    frame, index = head
    if frame.empty or last.empty:
        return (last if frame.empty else frame).copy()
    at = index.get_indexer(_key_index(last, keys))
    found = at >= 0
    out = frame.copy()
    for column in [c for c in frame.columns if c not in keys]:
        mine, theirs = out[column].to_numpy(copy=True), last[column].to_numpy()[found]
        where = at[found]
        before = mine[where]
        if mine.dtype.kind == "f":
            # sum(min_count=1): NULL only when both are NULL, as in ``added``.
            both = np.nan_to_num(before) + np.nan_to_num(theirs)
            mine[where] = np.where(np.isnan(before) & np.isnan(theirs), np.nan, both)
        else:
            mine[where] = before + theirs
        out[column] = mine
    if found.all():
        return out
    return pd.concat([out, last.loc[~found, list(frame.columns)]], ignore_index=True)


def added(parts: list[pd.DataFrame], keys: list[str]) -> pd.DataFrame:
    """The blocks' frames added up per ``keys`` (a sum over nothing but NULLs stays NULL, as in
    SQL). One block is returned as it is."""
    rows = [part for part in parts if not part.empty]
    if len(rows) <= 1:
        return rows[0] if rows else parts[0]
    values = [c for c in parts[0].columns if c not in keys]
    return (pd.concat(rows, ignore_index=True)
            .groupby(keys, sort=False, as_index=False, dropna=False)[values].sum(min_count=1))
