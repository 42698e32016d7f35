"""Calendar months as the API, the dashboard, the exports and the monthly close take them:
``YYYY-MM``. The one month helper: parsing, checking, stepping and bounds live here only.

Pure (no database, no Flask): the KPI module uses it too. One pattern for every entry point.
Years are 1900-2999: a month like 0001-01 would pass a bare ``\\d{4}`` and then overflow the date arithmetic
of a window (a 500, found by fuzzing).
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, date, datetime
from typing import TypeGuard

from app.errors import Detail, ValidationFailed

PATTERN = r"^(19\d\d|2\d\d\d)-(0[1-9]|1[0-2])$"
_MONTH = re.compile(PATTERN)
FIRST_YEAR, LAST_YEAR = 1900, 2999


def is_month(value: object) -> TypeGuard[str]:
    """Whether ``value`` is a ``YYYY-MM`` string of a supported year (no trailing newline)."""
    return isinstance(value, str) and _MONTH.fullmatch(value) is not None


def check_month(month, message: str = "invalid query") -> str:
    """``month`` itself, or a ValidationFailed naming the ``month`` field."""
    if not is_month(month):
        raise ValidationFailed(message, [Detail("month", f"must be YYYY-MM, not {month!r}")])
    return month


def month_of(moment: date | datetime) -> str:
    """The ``YYYY-MM`` a day or an instant falls in (instants in UTC, as stored)."""
    return f"{moment.year:04d}-{moment.month:02d}"


def this_month(now: date | datetime | None = None) -> str:
    """The current month, UTC."""
    return month_of(now or datetime.now(UTC))


def month_before(month: str) -> str:
    year, mon = int(month[:4]), int(month[5:])
    return f"{year - (mon == 1):04d}-{(mon - 2) % 12 + 1:02d}"


def month_after(month: str) -> str:
    year, mon = int(month[:4]), int(month[5:])
    return f"{year + mon // 12:04d}-{mon % 12 + 1:02d}"


def last_month(today: date | None = None) -> str:
    """The month before the current one (the one the monthly close freezes)."""
    return month_before(this_month(today))


def months_between(first: str, last: str) -> list[str]:
    """Every month from ``first`` to ``last``, both included (``[first]`` when last is earlier)."""
    out = [first]
    while out[-1] < last:
        out.append(month_after(out[-1]))
    return out


def month_bounds(month: str) -> tuple[date, date]:
    """The first and the last day of ``month``."""
    year, mon = int(month[:4]), int(month[5:])
    return date(year, mon, 1), date(year, mon, calendar.monthrange(year, mon)[1])
