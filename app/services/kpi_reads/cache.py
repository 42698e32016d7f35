"""A per-process memo of KPI reads and answers, keyed by the one KPI revision.

Every commit that writes a KPI input (events, exposure, cohorts, people, departments, costs,
baselines, feature terms, the rollups of a refresh) bumps that revision in the database
(app/services/kpi_reads/revision.py), so one primary-key read tells whether anything remembered may
still be used, in every process on every host. A new revision makes every older entry unreachable
(they are dropped first). What depends on no rollup is remembered under the live revision
(``live_version``), which a refresh does not move, so it outlives the refreshes.

The memo is bounded by memory, not only by count: a month of one feature's per-person sums is
~4 MB at 10 M events a year, so ``KPI_CACHE_MB`` (``LIFTOFF_KPI_CACHE_MB``, 256) caps each
process; the least recently used entries go first (``cachetools.LRUCache`` sized by ``nbytes``).
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from typing import Any

import pandas as pd
from cachetools import LRUCache
from flask import current_app

from app.db import db
from app.services.kpi_reads import revision as kpi_revision

MAX_ENTRIES = 1024
DEFAULT_MB = 256.0
_NOMINAL_BYTES = 16_384  # an answer that holds no frame: a dict of figures
_TEXT_BYTES = 64

_lock = threading.Lock()  # cachetools caches are not thread-safe
_memo: LRUCache = LRUCache(maxsize=DEFAULT_MB * 1024 * 1024, getsizeof=lambda value: nbytes(value))
_versions: dict[str, str] = {}  # the newest version stored, per kind (all inputs, live inputs)
_LIVE = "|live|"


def version() -> str | None:
    """The KPI inputs' version as this transaction sees them: the database and its revision.
    None while this transaction holds uncommitted KPI writes (its reads are its own)."""
    revision = kpi_revision.current()
    if revision is None:
        return None
    return f"{db.session.get_bind().engine.url}|{revision}"


def live_version() -> str | None:
    """The version of the live KPI inputs alone (everything but the rollups), as ``version``:
    a key for what a read takes besides the rollups."""
    revision = kpi_revision.current(kpi_revision.LIVE)
    if revision is None:
        return None
    return f"{db.session.get_bind().engine.url}{_LIVE}{revision}"


def revision_of(version: str) -> str:
    """The revision number a ``version`` or ``live_version`` names (without the database)."""
    return version.rsplit(_LIVE if _LIVE in version else "|", 1)[1]


def _kind(version: str) -> str:
    return "live" if _LIVE in version else "all"


def cached(version: str | None, key: tuple, compute: Callable[[], Any], *, copies: bool = True) -> Any:
    """``compute()``, remembered under (version, *key) while that version is current.

    Nothing is remembered without a version. Callers get a deep copy, so mutating an answer
    cannot alter the memo; ``copies=False`` hands out the remembered answer itself, for callers
    that only read it (the dashboard's pages, whose answers are rendered, never changed).
    """
    global _memo
    if version is None:
        return compute()
    full_key = (version, *key)
    with _lock:
        if full_key in _memo:
            return copy.deepcopy(_memo[full_key]) if copies else _memo[full_key]
    value = compute()
    size = nbytes(value)
    budget = _budget_bytes()
    with _lock:
        if _memo.maxsize != budget:
            _memo = LRUCache(maxsize=budget, getsizeof=nbytes)  # KPI_CACHE_MB changed
        kind = _kind(version)
        if version != _versions.get(kind):
            # Entries of an older revision of this kind can never be hit again: drop them first.
            for stale in [k for k in _memo if _kind(k[0]) == kind and k[0] != version]:
                del _memo[stale]
            _versions[kind] = version
        if size <= budget:
            _memo[full_key] = copy.deepcopy(value) if copies else value
            while len(_memo) > MAX_ENTRIES:
                _memo.popitem()
    return value


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
        return _frame_bytes(value)
    if isinstance(value, pd.Series):  # e.g. a window's first exposures (figures._window_inputs)
        return int(value.memory_usage(index=True, deep=False))
    if isinstance(value, pd.Index):  # with its hash table, once built (day_blocks.indexed)
        return int(value.memory_usage())
    if isinstance(value, (tuple, list)):
        return sum(nbytes(v) for v in value)
    if isinstance(value, (set, frozenset)):  # people ids: a Python int and its slot, roughly
        return _NOMINAL_BYTES + 64 * len(value)
    if isinstance(value, dict):  # an answer of figures, perhaps holding frames (the dashboard's) or groups
        return _NOMINAL_BYTES + sum(nbytes(v) for v in value.values()
                                    if isinstance(v, (pd.DataFrame, dict, set, frozenset)))
    return _NOMINAL_BYTES


def _frame_bytes(frame: pd.DataFrame) -> int:
    """A frame's arrays, and ~64 bytes for each text value (a short Python string). Measuring the
    strings one by one (``deep=True``) took ~0.5 s of a first read at 100,000 people."""
    texts = sum(1 for dtype in frame.dtypes if not (pd.api.types.is_numeric_dtype(dtype)
                                                     or pd.api.types.is_datetime64_any_dtype(dtype)))
    return int(frame.memory_usage(index=True, deep=False).sum()) + _TEXT_BYTES * len(frame) * texts


def newest(version: str | None, key: tuple, rank: Callable[[tuple], Any]) -> tuple[tuple, Any] | None:
    """Of the entries remembered under ``version`` whose key extends ``key``, the one whose key
    ranks highest by ``rank`` (given the key's rest), with its value as remembered (not copied:
    the caller only reads it); None when there is none."""
    if version is None:
        return None
    prefix = (version, *key)
    with _lock:
        found = [(k[len(prefix):], v) for k, v in _memo.items() if k[:len(prefix)] == prefix]
    return max(found, key=lambda item: rank(item[0]), default=None)


def memory_bytes() -> int:
    """What the memo holds now, by nbytes."""
    with _lock:
        return int(_memo.currsize)


def clear(kind: str | None = None) -> None:
    """Forget every entry (tests, or after restoring a database in place), or only those whose key
    starts with ``kind`` (the dashboard's page answers: ``"dashboard"``)."""
    with _lock:
        if kind is not None:
            for stale in [k for k in _memo if len(k) > 1 and k[1] == kind]:
                del _memo[stale]
            return
        _memo.clear()
        _versions.clear()


def size() -> int:
    return len(_memo)
