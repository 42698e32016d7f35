"""JSON in and out of Flask without NaN or Infinity, which are not JSON: a client's parser chokes
on them, and a non-finite figure (a division by zero, a float overflow) means "no figure".

Out: a non-finite float becomes ``null``, as the contract writes every figure that does not exist
(converting keeps the answer useful; refusing would turn a bad figure into a 500).
In: ``NaN``, ``Infinity`` and numbers too large for a float (``1e400``) make the body malformed
JSON (400), so they never reach the validators.
"""

from __future__ import annotations

import math
from typing import Any

from flask.json.provider import DefaultJSONProvider

_NATIVE = (str, int, bool, type(None))


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} does not fit a 64-bit float")
    return value


class FiniteJSONProvider(DefaultJSONProvider):
    def dumps(self, obj: Any, **kwargs: Any) -> str:
        kwargs.setdefault("allow_nan", False)
        try:
            return super().dumps(obj, **kwargs)
        except ValueError:  # a NaN or an infinity somewhere (rare): replace, then write again
            return super().dumps(self._finite(obj), **kwargs)

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        kwargs.setdefault("parse_constant", _refuse_constant)
        kwargs.setdefault("parse_float", _finite_float)
        return super().loads(s, **kwargs)

    def _finite(self, value: Any) -> Any:
        if isinstance(value, float):
            return value if math.isfinite(value) else None
        if isinstance(value, _NATIVE):
            return value
        if isinstance(value, dict):
            return {key: self._finite(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self._finite(item) for item in value]
        # Dates, dataclasses, decimals...: what the default encoder would write, made finite.
        return self._finite(self.default(value))
