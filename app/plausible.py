"""Plausible input only: the bounds every entry point (API, CSV imports, connectors, the Unleash
client API) applies before anything is stored, so one absurd value can neither break a request
(a 500) nor reach the KPIs and the ROI. The limits are listed in docs/api.md.
"""

from __future__ import annotations

import math
import re
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import BigInteger, Integer, SmallInteger, event, inspect
from sqlalchemy.orm import Session

from app.errors import Collector, Detail, LiftoffError, ValidationFailed

# A clock a few minutes fast at the sender is normal; an event from next month is a typo.
FUTURE_TOLERANCE = timedelta(minutes=5)
# Nothing this product measures happened before 1970; earlier instants are typos (or attempts to
# overflow the date arithmetic of the KPI windows).
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
MAX_DURATION_SECONDS = 7 * 24 * 3600  # one task: at most a week
MAX_MINUTES = 7 * 24 * 60  # baseline minutes per task, estimated minutes saved per task
MAX_AMOUNT_EUR = 1e9  # one cost entry, one task's cost
MAX_HOURLY_RATE_EUR = 10_000.0
MAX_BASELINE_DAYS = 366  # the baseline window before a feature's first exposure
MAX_INT = 2**31 - 1  # the INTEGER columns of both databases
MAX_BATCH = 10_000  # rows of one API request: events (the contract's bound), feedback, people
MAX_COHORT_MEMBERS = 100_000
MAX_JSON_DEPTH = 64  # no request of the contract nests deeper than a handful of levels


def to_utc(moment: datetime, field: str, index: int | None, problems: Collector) -> datetime | None:
    """``moment`` (aware) in UTC, from 1970 on; adds a detail naming the field otherwise.
    Converting ``0001-01-01T00:00:00+14:00`` to UTC overflows: that is a bad value, not a crash."""
    try:
        utc = moment.astimezone(UTC)
    except OverflowError:
        problems.add(field, "is outside the range of dates this service accepts", index)
        return None
    if utc < EARLIEST:
        problems.add(field, f"must not be before {EARLIEST.date().isoformat()}", index)
        return None
    return utc


def not_in_future(moment: datetime | None, field: str, index: int | None, problems: Collector,
                  now: datetime | None = None) -> datetime | None:
    """``moment``, unless it lies more than five minutes ahead of the server's clock."""
    if moment is None:
        return None
    now = now or datetime.now(UTC)
    if moment > now + FUTURE_TOLERANCE:
        problems.add(field, "is in the future: more than 5 minutes ahead of the server's clock", index)
        return None
    return moment


def figure(bound: float) -> str:
    """A bound as people read it in an error: 1,000,000,000 rather than 1e+09."""
    return f"{bound:,.0f}" if float(bound).is_integer() else f"{bound:g}"


def within(value: float | None, field: str, high: float, index: int | None, problems: Collector,
           unit: str = "") -> float | None:
    """``value`` unless it exceeds ``high`` (an implausible figure for ``field``)."""
    if value is not None and value > high:
        problems.add(field, f"must be at most {figure(high)}{unit}", index)
        return None
    return value


def optional_number(row: dict, field: str, high: float, problems: Collector, index: int | None = None,
                    unit: str = "") -> float | None:
    """An optional figure >= 0 and at most ``high``; anything else is a problem naming the field."""
    value = row.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        problems.add(field, "must be a number", index)
        return None
    if not math.isfinite(value) or value < 0:
        problems.add(field, "must be a finite number >= 0", index)
        return None
    return within(float(value), field, high, index, problems, unit)


def optional_text(row: dict, field: str, problems: Collector, max_len: int,
                  index: int | None = None) -> str | None:
    """An optional text field kept as sent (an AI answer's blanks matter); absent or empty is None;
    anything but a string, or longer than ``max_len``, is a problem naming the field."""
    value = row.get(field)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        problems.add(field, "must be a string", index)
        return None
    if len(value) > max_len:
        problems.add(field, f"must be at most {max_len} characters", index)
        return None
    return value


def text_problem(value: str) -> str | None:
    """Why a string cannot be stored (PostgreSQL holds no NUL; UTF-8 has no lone surrogates)."""
    if "\x00" in value:
        return "contains a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "contains an invalid character (a lone UTF-16 surrogate)"
    return None


@dataclass(frozen=True)
class JsonFinding:
    """A problem of a JSON document: where (``index`` of a top-level array item, then a dotted
    ``field`` path) and what."""

    kind: str  # "depth" | "nul" | "text"
    message: str
    field: str
    index: int | None


def _where(path: list) -> tuple[int | None, str]:
    index = path[0] if path and isinstance(path[0], int) else None
    rest = path[1:] if index is not None else path
    return index, ".".join(str(p) for p in rest) or "(body)"


def scan_json(document, limit: int = 50) -> list[JsonFinding]:
    """Walk a parsed JSON document without recursion (a deep one must not exhaust the stack) and
    report the texts that cannot be stored (at most ``limit``), or a nesting deeper than
    ``MAX_JSON_DEPTH`` alone."""
    findings: list[JsonFinding] = []
    queue: deque[tuple[object, list]] = deque([(document, [])])
    while queue and len(findings) < limit:
        value, path = queue.popleft()
        if len(path) > MAX_JSON_DEPTH:
            message = f"the JSON body is nested more than {MAX_JSON_DEPTH} levels deep"
            return [JsonFinding("depth", message, "(body)", None)]
        if isinstance(value, str):
            problem = text_problem(value)
            if problem:
                findings.append(_finding(problem, path))
        elif isinstance(value, dict):
            for key, item in value.items():
                problem = text_problem(key)
                if problem:
                    findings.append(_finding(f"a key {problem}", [*path, "(key)"]))
                queue.append((item, [*path, key]))
        elif isinstance(value, list):
            queue.extend((item, [*path, i]) for i, item in enumerate(value))
    return findings


def _finding(problem: str, path: list) -> JsonFinding:
    index, field = _where(path)
    return JsonFinding("nul" if "NUL" in problem else "text", problem, field, index)


# In JSON text a NUL or a lone surrogate can only be written as a \u escape: a raw control character
# is not JSON, and UTF-8 cannot carry a surrogate.
_SUSPECT_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


def _nesting_within(document, limit: int) -> bool:
    """Whether no value of ``document`` lies deeper than ``limit`` (``scan_json``'s depth: the
    root is at 0), walking the containers alone, level by level."""
    level, depth = [document], 0
    while level:
        deeper: list = []
        for value in level:
            children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
            if depth == limit and children:
                return False  # a child at limit + 1
            deeper.extend(c for c in children if isinstance(c, (dict, list)))
        level, depth = deeper, depth + 1
    return True


def _plain_utf8(raw: bytes) -> bool:
    """Whether ``raw`` is UTF-8 as the standard has it: no NUL byte (UTF-16 and UTF-32 have them),
    no encoded surrogate (Python's JSON parser reads bytes with ``surrogatepass``)."""
    if b"\x00" in raw:
        return False
    if raw.isascii():
        return True
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def refuse_unstorable_json(document, raw: bytes | None = None) -> None:
    """Raise the 4xx for what ``scan_json`` finds in a request body: 400 for nesting or NUL (as
    before), 422 naming each field whose text cannot be stored.

    :param raw: the body ``document`` was parsed from: when it is plain UTF-8 (``_plain_utf8``)
        and holds no escape of a NUL or a surrogate, no text can be unstorable, and only the
        nesting is checked (``scan_json`` keeps every value's path: ~0.2 s of a 10,000-event
        batch)."""
    if raw is not None and _plain_utf8(raw) and not _SUSPECT_ESCAPE.search(raw) \
            and _nesting_within(document, MAX_JSON_DEPTH):
        return
    findings = scan_json(document)
    if not findings:
        return
    if findings[0].kind == "depth":
        raise LiftoffError(findings[0].message, status=400)
    if any(f.kind == "nul" for f in findings):
        raise LiftoffError("NUL characters (\\u0000) are not allowed in the body", status=400)
    raise ValidationFailed("the body holds text that cannot be stored",
                           [Detail(f.field, f.message, f.index) for f in findings])


def _integer_limit(column_type) -> int | None:
    if isinstance(column_type, BigInteger):
        return 2**63 - 1
    if isinstance(column_type, SmallInteger):
        return 2**15 - 1
    return MAX_INT if isinstance(column_type, Integer) else None


def _column_problems(target) -> list[Detail]:
    """What of a new or changed ORM object would not fit its columns: text longer than a
    VARCHAR, a whole number beyond its INTEGER type."""
    state = inspect(target)
    found = []
    for attribute in state.mapper.column_attrs:
        key = attribute.key
        if key not in state.dict or (state.persistent and not state.attrs[key].history.added):
            continue  # not set, or unchanged since it was loaded
        value = state.dict[key]
        column_type = attribute.columns[0].type
        length = getattr(column_type, "length", None)
        if isinstance(value, str) and length and len(value) > length:
            found.append(Detail(key, f"must be at most {length} characters"))
        elif isinstance(value, int) and not isinstance(value, bool):
            limit = _integer_limit(column_type)
            if limit is not None and not -limit - 1 <= value <= limit:
                found.append(Detail(key, f"must be a whole number from {-limit - 1} to {limit}"))
    return found


@event.listens_for(Session, "before_flush")
def _refuse_values_that_overflow_a_column(session: Session, flush_context, instances) -> None:
    # The last line of defence behind each service's own checks: PostgreSQL would refuse the row
    # with a driver error (a 500) and SQLite would silently store what PostgreSQL cannot hold.
    problems = [d for target in (*session.new, *session.dirty) for d in _column_problems(target)]
    if problems:
        raise ValidationFailed("a value does not fit its field; nothing was stored", problems[:50])
