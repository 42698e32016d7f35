"""Calendar months as the API, the dashboard and the exports take them: ``YYYY-MM``.

One pattern for every entry point. Years are 1900-2999: a month like 0001-01 would pass a bare
``\\d{4}`` and then overflow the date arithmetic of a window (a 500, found by fuzzing).
"""

from __future__ import annotations

import re

PATTERN = r"^(19\d\d|2\d\d\d)-(0[1-9]|1[0-2])$"
_MONTH = re.compile(PATTERN)


def is_month(value) -> bool:
    """Whether ``value`` is a ``YYYY-MM`` string of a supported year (no trailing newline)."""
    return isinstance(value, str) and _MONTH.fullmatch(value) is not None
