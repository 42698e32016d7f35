"""A dashboard page's answer (figures, dates and small DataFrames) as JSON that reads back equal.

The adoption and quality pages' answers hold frames (a funnel, per-group records, weekly trends)
beside plain figures. To share them between processes through the answer store
(``kpi_answers``), they are written as JSON: no pickle, so reading the store never runs code.
``dumps`` gives None for anything it cannot write so that it reads back exactly the same (an
unknown type, a frame with an index of its own): that answer is then not stored, and is computed
on each read as before.
"""

from __future__ import annotations

import json
import math
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

_FRAME, _DATE, _NAN = "__frame__", "__date__", "__nan__"


class _Unwritable(Exception):
    pass


def _value(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return {_NAN: True} if math.isnan(value) else value
    if isinstance(value, date) and not isinstance(value, datetime):
        return {_DATE: value.isoformat()}
    if isinstance(value, pd.DataFrame):
        if not isinstance(value.index, pd.RangeIndex) or value.index.start != 0 or value.index.step != 1:
            raise _Unwritable("a frame with an index of its own")
        if not all(isinstance(c, str) for c in value.columns) or value.columns.has_duplicates:
            raise _Unwritable("a frame whose columns are not distinct names")
        return {_FRAME: {"columns": list(value.columns), "dtypes": [str(t) for t in value.dtypes],
                         "data": [[_value(v) for v in value[c].tolist()] for c in value.columns]}}
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise _Unwritable("a mapping whose keys are not text")
        return {k: _value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_value(v) for v in value]
    raise _Unwritable(type(value).__name__)


def _read(value: Any) -> Any:
    if isinstance(value, list):
        return [_read(v) for v in value]
    if not isinstance(value, dict):
        return value
    if _NAN in value:
        return math.nan
    if _DATE in value:
        return date.fromisoformat(value[_DATE])
    if _FRAME in value:
        frame = value[_FRAME]
        return pd.DataFrame({name: pd.Series(_read(column), dtype=dtype) for name, dtype, column
                             in zip(frame["columns"], frame["dtypes"], frame["data"], strict=True)})
    return {k: _read(v) for k, v in value.items()}


def _same(a: Any, b: Any) -> bool:
    a, b = (v.item() if isinstance(v, np.generic) else v for v in (a, b))
    if isinstance(a, pd.DataFrame) or isinstance(b, pd.DataFrame):
        if not (isinstance(a, pd.DataFrame) and isinstance(b, pd.DataFrame)):
            return False
        try:
            pd.testing.assert_frame_equal(a, b, check_exact=True)
        except AssertionError:
            return False
        return all(_same(x, y) for c in a.columns if a[c].dtype == object
                   for x, y in zip(a[c].tolist(), b[c].tolist(), strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    # A date must come back a date (not a datetime), an int an int: the pages format them.
    return type(a) is type(b) and a == b


def dumps(answer: dict) -> str | None:
    """``answer`` as JSON that ``loads`` reads back equal (frames with their dtypes, dates, NaN),
    or None when it cannot be."""
    try:
        text = json.dumps(_value(answer), allow_nan=False, sort_keys=True)
    except (_Unwritable, TypeError, ValueError):
        return None
    return text if _same(loads(text), answer) else None


def loads(text: str) -> dict:
    return _read(json.loads(text))
