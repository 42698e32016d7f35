"""A per-process memo of KPI reads, keyed by the version of the last refresh-kpis run.

The rollups only change when refresh-kpis runs (the contract: KPI reads reflect the last run), so
what is read from them is keyed by that run's version; a new run changes the version and every
older entry becomes unreachable (and is evicted first). Inputs read live (exposure spells, people,
baselines, costs, rates) are part of an answer's key as a digest of their content, so a rollout
change or a new baseline is visible at once, without a refresh.
"""

from __future__ import annotations

import copy
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import pandas as pd
from sqlalchemy import select

from app.db import db
from app.models.kpi import RefreshState

MAX_ENTRIES = 128

_entries: OrderedDict[tuple, Any] = OrderedDict()
_lock = threading.Lock()


def refresh_version() -> str | None:
    """The version of the rollups as the current transaction sees them: the database and the
    instant of the last refresh-kpis run (None before the first run)."""
    refreshed_at = db.session.scalar(select(RefreshState.refreshed_at).where(RefreshState.id == 1))
    if refreshed_at is None:
        return None
    return f"{db.session.get_bind().url}|{refreshed_at.isoformat()}"


def digest(*parts: Any) -> str:
    """SHA-256 of frames (their content, column names and order) and plain values."""
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, pd.DataFrame):
            h.update(repr(list(part.columns)).encode())
            h.update(repr(len(part)).encode())
            if not part.empty:
                h.update(pd.util.hash_pandas_object(part, index=False).to_numpy().tobytes())
        else:
            h.update(repr(part).encode())
        h.update(b"\x00")
    return h.hexdigest()


def cached(version: str | None, key: tuple, compute: Callable[[], Any],
           still_valid: Callable[[], bool] | None = None) -> Any:
    """``compute()``, remembered under (version, *key) while that version is current.

    Nothing is remembered before the first refresh (no version). Callers get a deep copy, so
    mutating an answer cannot alter the memo. ``still_valid`` (checked after computing) keeps an
    answer out of the memo when the inputs its key describes moved while it was computed.
    """
    if version is None:
        return compute()
    full_key = (version, *key)
    with _lock:
        if full_key in _entries:
            _entries.move_to_end(full_key)
            return copy.deepcopy(_entries[full_key])
    value = compute()
    if still_valid is not None and not still_valid():
        return value
    with _lock:
        _entries[full_key] = copy.deepcopy(value)
        # Entries of an older refresh can never be hit again: drop them first, then the oldest.
        stale = [k for k in _entries if k[0] != version]
        for k in stale:
            del _entries[k]
        while len(_entries) > MAX_ENTRIES:
            _entries.popitem(last=False)
    return value


def clear() -> None:
    """Forget every entry (tests, or after restoring a database in place)."""
    with _lock:
        _entries.clear()


def size() -> int:
    return len(_entries)
