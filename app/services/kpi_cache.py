"""A per-process memo of KPI reads, keyed by the version of the last refresh-kpis run.

The rollups only change when refresh-kpis runs (the contract: KPI reads reflect the last run), so
what is read from them is keyed by that run's version; a new run changes the version and every
older entry becomes unreachable (and is evicted first). Inputs read live (exposure spells, people,
baselines, costs, rates) are part of an answer's key as a digest of their content, so a rollout
change or a new baseline is visible at once, without a refresh.

The memo is bounded by memory, not only by count: a month of one feature's per-person sums is
~4 MB at 10 M events a year, so ``KPI_CACHE_MB`` (``LIFTOFF_KPI_CACHE_MB``, 256) caps each
process; the oldest entries go first.
"""

from __future__ import annotations

import copy
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import pandas as pd
from flask import current_app
from sqlalchemy import select

from app.db import db
from app.models.kpi import RefreshState

MAX_ENTRIES = 1024
DEFAULT_MB = 256.0
_NOMINAL_BYTES = 16_384  # an answer that holds no frame: a dict of figures

_entries: OrderedDict[tuple, Any] = OrderedDict()
_sizes: dict[tuple, int] = {}
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
    budget = _budget_bytes()
    size = nbytes(value)
    with _lock:
        _entries[full_key] = copy.deepcopy(value)
        _sizes[full_key] = size
        # Entries of an older refresh can never be hit again: drop them first, then the oldest.
        for k in [k for k in _entries if k[0] != version]:
            _forget(k)
        while len(_entries) > 1 and (len(_entries) > MAX_ENTRIES or sum(_sizes.values()) > budget):
            _forget(next(iter(_entries)))
    return value


def _forget(key: tuple) -> None:
    del _entries[key]
    _sizes.pop(key, None)


def _budget_bytes() -> float:
    try:
        megabytes = float(current_app.config.get("KPI_CACHE_MB", DEFAULT_MB))
    except RuntimeError:  # outside an app context (scripts, tests of this module)
        megabytes = DEFAULT_MB
    return megabytes * 1024 * 1024


def nbytes(value: Any) -> int:
    """Roughly what ``value`` holds in memory: its frames in full, anything else as a nominal
    answer."""
    if isinstance(value, pd.DataFrame):
        return int(value.memory_usage(index=True, deep=True).sum())
    if isinstance(value, (tuple, list)):
        return sum(nbytes(v) for v in value)
    return _NOMINAL_BYTES


def memory_bytes() -> int:
    """What the memo holds now, by nbytes."""
    with _lock:
        return sum(_sizes.values())


def clear() -> None:
    """Forget every entry (tests, or after restoring a database in place)."""
    with _lock:
        _entries.clear()
        _sizes.clear()


def size() -> int:
    return len(_entries)
